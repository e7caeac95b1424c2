"""The POST on the lean path (shared.lean_path) answers as the whole FastAPI stack does: the same
statuses, problems and headers for every refusal and every acceptance, the same span and metrics.
The service's other tests run on it too (it is the default)."""

import json
import uuid

import httpx
from prometheus_client import REGISTRY

from transfers.main import create_app
from transfers.settings import TransfersSettings

CLIENT_TRACE_ID = "0af7651916cd43dd8448eb211c80319c"


def summary(response: httpx.Response) -> dict:
    """What a client can tell of an answer, less what differs on every request (the new id)."""
    seen = {key: response.headers.get(key) for key in
            ("content-type", "www-authenticate", "retry-after", "idempotent-replayed", "x-request-id")}
    seen["status"] = response.status_code
    seen["location"] = (response.headers.get("location") or "").rsplit("/", 1)[0]
    body = response.json()
    seen["body"] = {key: value for key, value in body.items() if key != "id"} if response.status_code == 202 else body
    return seen


def requests(headers: dict, receiver, archived, other_role: dict) -> list[tuple[dict, bytes | str | None]]:
    """Refusals of every kind, then acceptances, a replay and a key reused (the same list for both paths)."""
    valid = {"entitlement_id": "ENT-1", "product_id": str(uuid.uuid4()), "to_org_id": str(receiver.id)}
    as_json = {**headers, "Content-Type": "application/json"}
    key = "{run's key}"  # a key of each run's own: the second must not replay the first's answers
    return [
        ({}, json.dumps(valid)),  # no token
        ({"Content-Type": "application/json"}, b"{not json"),  # no token either: the body is read first (400)
        ({"Authorization": "Bearer not-a-token"}, json.dumps(valid)),
        ({**other_role, "Content-Type": "application/json"}, json.dumps(valid)),  # a role that may not transfer
        (as_json, None),  # no body
        (as_json, b"{not json"),
        ({**headers, "Content-Type": "text/plain"}, json.dumps(valid)),
        (headers, json.dumps(valid)),  # no Content-Type: not read as JSON
        (as_json, json.dumps([valid])),
        (as_json, json.dumps({**valid, "org_id": str(uuid.uuid4()), "status": "completed"})),  # mass assignment
        (as_json, json.dumps({**valid, "quantity": 0, "product_id": "not-a-uuid"})),
        (as_json, json.dumps({**valid, "quantity": 10**12, "cc_emails": ["not an address"]})),
        (as_json, json.dumps({**valid, "entitlement_id": "   "})),
        ({**as_json, "Idempotency-Key": ""}, json.dumps({**valid, "quantity": "x"})),  # header and body both wrong
        ({**as_json, "Idempotency-Key": "k" * 256}, json.dumps(valid)),
        (as_json, json.dumps({**valid, "to_org_id": str(uuid.uuid4())})),  # not its child: 404
        (as_json, json.dumps({**valid, "to_org_id": str(archived.id)})),  # archived: 409
        (as_json, json.dumps({**valid, "representative_id": str(uuid.uuid4())})),  # not its representative: 422
        (as_json, json.dumps(valid)),  # accepted
        ({**headers, "Content-Type": "application/vnd.licensing+json; charset=utf-8"}, json.dumps({**valid, "quantity": 2})),
        ({**as_json, "Idempotency-Key": key}, json.dumps(valid)),
        ({**as_json, "Idempotency-Key": key}, json.dumps(valid)),  # replayed
        ({**as_json, "Idempotency-Key": key}, json.dumps({**valid, "quantity": 3})),  # same key, another body
    ]


async def ask(api: httpx.AsyncClient, requests: list) -> list[dict]:
    answers, key = [], f"lean-{uuid.uuid4()}"
    for number, (request_headers, content) in enumerate(requests):
        if request_headers.get("Idempotency-Key") == "{run's key}":
            request_headers = {**request_headers, "Idempotency-Key": key}
        response = await api.post("/api/v1/transfers", content=content,
                                  headers={**request_headers, "X-Request-ID": f"req-{number}"})
        answers.append(summary(response))
    return answers


async def test_the_lean_post_answers_as_the_whole_stack_does(own_infrastructure, identity_keys_url, directory,
                                                              signed_in):
    sender = await directory.distributor()
    receiver = await directory.integrator(sender)
    archived = await directory.integrator(sender, "Gone Integration")
    await directory.archive(archived, sender)
    asked = requests(signed_in(sender.id), receiver, archived, signed_in(sender.id, role="auditor"))
    answers = {}
    for lean in (False, True):
        app = create_app(own_infrastructure.settings(TransfersSettings, identity_url=identity_keys_url), lean=lean)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://transfers") as api:
            answers[lean] = await ask(api, asked)
        await app.state.engine.dispose()

    for lean_answer, full_answer in zip(answers[True], answers[False]):
        assert lean_answer == full_answer
    assert [answer["status"] for answer in answers[True]] == [
        401, 400, 401, 403, 422, 400, 422, 422, 422, 422, 422, 422, 422, 422, 422, 404, 409, 422, 202, 202, 202, 202, 422]
    assert answers[True][13]["body"]["errors"][0]["loc"] == ["header", "Idempotency-Key"]  # both errors, in one answer
    assert answers[True][21]["idempotent-replayed"] == "true"


async def test_the_lean_post_is_measured_and_traced_under_its_route(api, directory, signed_in, spans):
    sender = await directory.distributor()
    receiver = await directory.integrator(sender)
    labels = {"service": "transfers", "method": "POST", "route": "/api/v1/transfers", "status": "202"}
    before = REGISTRY.get_sample_value("http_requests_total", labels) or 0

    response = await api.post("/api/v1/transfers", json={
        "entitlement_id": "ENT-1", "product_id": str(uuid.uuid4()), "to_org_id": str(receiver.id)},
        headers={**signed_in(sender.id), "traceparent": f"00-{CLIENT_TRACE_ID}-b7ad6b7169203331-01"})

    assert response.status_code == 202
    assert REGISTRY.get_sample_value("http_requests_total", labels) == before + 1
    [span] = [span for span in spans.get_finished_spans() if format(span.context.trace_id, "032x") == CLIENT_TRACE_ID
              and span.name == "POST /api/v1/transfers"]
    assert span.attributes["http.status_code"] == 202
