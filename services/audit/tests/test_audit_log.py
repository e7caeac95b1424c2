"""The audit log over the real bus and database: each org sees its own events, page by page."""

import uuid

import aio_pika
import httpx
import pytest

from audit.main import create_app
from audit.settings import AuditSettings
from shared.bus.topology import declare_topology
from shared.events.envelope import Envelope
from shared.events.orgs import OrganizationCreated
from shared.testing import eventually, running


@pytest.fixture
async def audit_api(infrastructure, identity_keys_url):
    app = create_app(infrastructure.settings(AuditSettings, identity_url=identity_keys_url))
    async with running(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://audit") as client:
            yield client


@pytest.fixture
async def publish(infrastructure):
    connection = await aio_pika.connect(infrastructure.amqp_url)
    channel = await connection.channel()
    exchange = await declare_topology(channel, "licensing.events")

    async def publish(actor_org: uuid.UUID, *, also_visible_to: tuple[uuid.UUID, ...] = (), name: str = "Acme"):
        envelope = Envelope.wrap(
            OrganizationCreated(org_id=uuid.uuid4(), name=name, tier="integrator", parent_id=actor_org),
            producer="orgs",
            actor_org_id=actor_org,
            visible_to=[actor_org, *also_visible_to],
        )
        await exchange.publish(aio_pika.Message(envelope.model_dump_json().encode()), routing_key=envelope.type)
        return envelope

    yield publish
    await connection.close()


def signed_in(issue_token, org: uuid.UUID, role: str = "admin") -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(org=str(org), role=role)}"}


async def test_an_org_sees_its_events_and_those_shared_with_it_never_anothers(audit_api, publish, issue_token):
    distributor, integrator, stranger = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    own = await publish(distributor, name="Own")
    shared = await publish(distributor, also_visible_to=(integrator,), name="Shared")
    foreign = await publish(stranger, name="Foreign")

    async def ids_seen_by(org):
        response = await audit_api.get("/api/v1/audit-events", headers=signed_in(issue_token, org))
        assert response.status_code == 200
        return {item["event_id"] for item in response.json()["items"]}

    await eventually(lambda: _has(ids_seen_by(distributor), 2))
    assert await ids_seen_by(distributor) == {str(own.event_id), str(shared.event_id)}
    await eventually(lambda: _has(ids_seen_by(integrator), 1))
    assert await ids_seen_by(integrator) == {str(shared.event_id)}
    assert str(foreign.event_id) not in await ids_seen_by(distributor) | await ids_seen_by(integrator)
    response = await audit_api.get("/api/v1/audit-events", headers=signed_in(issue_token, distributor))
    messages = {item["message"] for item in response.json()["items"]}
    assert messages == {"Integrator organization Own created", "Integrator organization Shared created"}


async def test_pages_follow_each_other_newest_first_without_overlap(audit_api, publish, issue_token):
    org = uuid.uuid4()
    published = [await publish(org, name=f"Partner {i}") for i in range(5)]
    headers = signed_in(issue_token, org)

    async def total():
        response = await audit_api.get("/api/v1/audit-events", params={"limit": 200}, headers=headers)
        return len(response.json()["items"]) == 5

    await eventually(total)
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await audit_api.get("/api/v1/audit-events", params=params, headers=headers)).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [item["event_id"] for item in seen] == [str(e.event_id) for e in reversed(published)]


async def test_a_viewer_may_not_read_the_audit_log(audit_api, issue_token):
    response = await audit_api.get("/api/v1/audit-events", headers=signed_in(issue_token, uuid.uuid4(), "viewer"))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("query", [{"cursor": "not-a-cursor"}, {"cursor": "WyJ4Il0"}, {"limit": 0}, {"limit": "many"}])
async def test_bad_paging_input_is_a_clear_client_error(audit_api, issue_token, query):
    response = await audit_api.get("/api/v1/audit-events", params=query, headers=signed_in(issue_token, uuid.uuid4()))
    assert response.status_code in (400, 422)
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"]


async def test_without_a_token_the_audit_log_answers_401(audit_api):
    response = await audit_api.get("/api/v1/audit-events")
    assert response.status_code == 401


async def _has(awaitable, count: int) -> bool:
    return len(await awaitable) == count


async def test_when_identity_is_unreachable_a_token_gets_503_not_401(infrastructure, issue_token):
    app = create_app(infrastructure.settings(AuditSettings, identity_url="http://127.0.0.1:1"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://audit") as client:
        response = await client.get("/api/v1/audit-events", headers=signed_in(issue_token, uuid.uuid4()))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert "identity" in response.json()["detail"]
