"""The lean path of the proxied API requests (gateway.api.fast_proxy) answers as the whole FastAPI
stack did: same statuses, problems and headers, the same span continuing the client's trace, the
same metrics. The other tests of the gateway run on it too (it is the default)."""

import httpx
from opentelemetry import trace
from prometheus_client.parser import text_string_to_metric_families

from gateway.main import create_app

CLIENT_TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
CLIENT_SPAN_ID = "b7ad6b7169203331"


def summary(response: httpx.Response) -> dict:
    """What a client can tell of an answer, without what differs on every request."""
    seen = {
        "status": response.status_code,
        "content-type": response.headers.get("content-type"),
        "www-authenticate": response.headers.get("www-authenticate"),
        "retry-after": "retry-after" in response.headers,
        "x-request-id": response.headers.get("x-request-id"),
    }
    if response.headers.get("content-type") == "application/json" and "service" in response.text:
        received = response.json()  # the echo of the upstream: what it was sent
        seen["upstream"] = {key: received[key] for key in ("service", "method", "path", "query", "body")}
        seen["upstream headers"] = sorted(received["headers"])
        seen["upstream request id"] = received["headers"].get("x-request-id")
    elif response.headers.get("content-type") == "application/problem+json":
        seen["problem"] = response.json()
    else:
        seen["body"] = response.text
    return seen


async def ask(gateway: httpx.AsyncClient, bearer: dict[str, str]) -> list[dict]:
    requests = [
        ("POST", "/api/v1/transfers?limit=5&cursor=a%20b", {**bearer, "Content-Type": "application/json"}, b'{"q": 1}'),
        ("GET", "/api/v1/members", {}, None),  # no token
        ("GET", "/api/v1/members", {"Authorization": "Bearer not-a-token"}, None),
        ("POST", "/api/v1/auth/login", {"Content-Type": "application/json"}, b"{}"),  # public
        ("GET", "/api/v1/widgets/1", bearer, None),  # no service owns it
        ("GET", "/api/v1/auth/login/%2e%2e/members", bearer, None),
        ("TRACE", "/api/v1/members", bearer, None),  # a method the proxy does not take
        ("GET", "/api/v1/dashboard", {}, None),  # the gateway's own routes under /api/v1
        ("GET", "/api/v1/docs", {}, None),
    ]
    answers = []
    for number, (method, path, headers, body) in enumerate(requests):
        response = await gateway.request(method, path, headers={**headers, "X-Request-ID": f"req-{number}"},
                                         content=body)
        answers.append(summary(response))
    return answers


async def test_the_lean_path_answers_as_the_whole_stack_did(start_gateway, bearer):
    async with start_gateway(lean_proxy=False) as full, start_gateway() as lean:
        before, after = await ask(full, bearer), await ask(lean, bearer)

    assert after == before
    assert [answer["status"] for answer in after] == [200, 401, 401, 200, 404, 404, 405, 401, 200]


async def test_a_burst_gets_the_same_429_on_the_lean_path(start_gateway, bearer):
    answers = []
    headers = {**bearer, "X-Request-ID": "r"}
    for lean_proxy in (False, True):
        # one request a hundred seconds, one at once: the second is refused
        async with start_gateway(lean_proxy, rate_limit_per_user=0.01, rate_limit_per_user_burst=1) as gateway:
            answers.append([summary(await gateway.get("/api/v1/members", headers=headers)) for _ in range(2)])

    assert answers[1] == answers[0]
    assert [answer["status"] for answer in answers[1]] == [200, 429]
    assert answers[1][1]["retry-after"]
    assert answers[1][1]["problem"]["status"] == 429


class BrokenLimits:
    def check(self, kind: str, key: str) -> None:
        raise RuntimeError("the rate limits broke")


async def test_an_unexpected_error_is_the_same_500_problem(gateway_settings, serve_gateway, bearer):
    answers = []
    for lean_proxy in (False, True):
        app = create_app(gateway_settings(), lean_proxy=lean_proxy)
        app.state.rate_limits = BrokenLimits()
        async with serve_gateway(app) as gateway:
            answers.append(summary(await gateway.get("/api/v1/members", headers=bearer)))

    assert answers[1] == answers[0]
    assert answers[1]["status"] == 500
    assert answers[1]["problem"]["detail"] == "An unexpected error occurred; it has been logged."


async def test_the_upstream_continues_the_clients_trace_through_the_gateways_span(gateway, bearer, spans):
    traceparent = f"00-{CLIENT_TRACE_ID}-{CLIENT_SPAN_ID}-01"
    response = await gateway.post("/api/v1/transfers", json={}, headers={**bearer, "traceparent": traceparent})

    _version, trace_id, parent_id, _flags = response.json()["headers"]["traceparent"].split("-")
    assert trace_id == CLIENT_TRACE_ID
    gateway_span = next(span for span in spans.get_finished_spans()
                        if format(span.context.trace_id, "032x") == CLIENT_TRACE_ID
                        and span.name == "POST /api/v1/{rest:path}")
    assert gateway_span.kind == trace.SpanKind.SERVER
    assert format(gateway_span.parent.span_id, "016x") == CLIENT_SPAN_ID
    assert format(gateway_span.context.span_id, "016x") == parent_id  # the upstream's parent
    assert gateway_span.attributes["http.route"] == "/api/v1/{rest:path}"
    assert gateway_span.attributes["http.status_code"] == 200
    assert gateway_span.attributes["http.target"] == "/api/v1/transfers"


async def test_a_request_without_a_trace_starts_one_that_the_upstream_continues(gateway, bearer, spans):
    response = await gateway.get("/api/v1/customers", headers=bearer)

    _version, trace_id, parent_id, _flags = response.json()["headers"]["traceparent"].split("-")
    gateway_span = next(span for span in spans.get_finished_spans()
                        if format(span.context.span_id, "016x") == parent_id)
    assert gateway_span.name == "GET /api/v1/{rest:path}"
    assert gateway_span.parent is None
    assert format(gateway_span.context.trace_id, "032x") == trace_id


def _sample(metrics_text: str, name: str, labels: dict[str, str]) -> float:
    return sum(sample.value for family in text_string_to_metric_families(metrics_text) for sample in family.samples
               if sample.name == name and sample.labels == labels)


async def test_each_proxied_request_is_counted_and_timed(gateway, bearer):
    labels = {"service": "gateway", "method": "PUT", "route": "/api/v1/{rest:path}"}
    before = (await gateway.get("/metrics")).text

    for _ in range(3):
        assert (await gateway.put("/api/v1/licenses/9", json={})).status_code == 401
    assert (await gateway.put("/api/v1/licenses/9", json={}, headers=bearer)).status_code == 200

    after = (await gateway.get("/metrics")).text
    for name, extra, added in (("http_requests_total", {"status": "401"}, 3),
                               ("http_requests_total", {"status": "200"}, 1),
                               ("http_request_duration_seconds_count", {}, 4)):
        assert _sample(after, name, {**labels, **extra}) == _sample(before, name, {**labels, **extra}) + added, name
