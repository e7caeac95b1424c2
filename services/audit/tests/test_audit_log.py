"""The audit log over the real bus and database: each org sees its own events, page by page."""

import uuid

import aio_pika
import httpx
import pytest

from audit.main import create_app
from audit.settings import AuditSettings
from shared.events.envelope import Envelope
from shared.events.entitlements import TransferCompleted
from shared.events.orgs import OrganizationCreated
from shared.settings import development_bus_password, with_credentials
from shared.testing import eventually


async def test_an_org_sees_its_events_and_those_shared_with_it_never_anothers(audit_api, publish, signed_in):
    distributor, integrator, stranger = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    own = await created(publish, distributor, name="Own")
    shared = await created(publish, distributor, also_visible_to=(integrator,), name="Shared")
    foreign = await created(publish, stranger, name="Foreign")

    async def ids_seen_by(org):
        response = await audit_api.get("/api/v1/audit-events", headers=signed_in(org))
        assert response.status_code == 200
        return {item["event_id"] for item in response.json()["items"]}

    await eventually(lambda: _has(ids_seen_by(distributor), 2))
    assert await ids_seen_by(distributor) == {str(own.event_id), str(shared.event_id)}
    await eventually(lambda: _has(ids_seen_by(integrator), 1))
    assert await ids_seen_by(integrator) == {str(shared.event_id)}
    assert str(foreign.event_id) not in await ids_seen_by(distributor) | await ids_seen_by(integrator)
    response = await audit_api.get("/api/v1/audit-events", headers=signed_in(distributor))
    messages = sorted(item["message"] for item in response.json()["items"])
    assert [("Own" in messages[0]), ("Shared" in messages[1])] == [True, True]


async def test_pages_follow_each_other_newest_first_without_overlap(audit_api, publish, signed_in):
    org = uuid.uuid4()
    published = [await created(publish, org, name=f"Partner {i}") for i in range(5)]
    headers = signed_in(org)

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


async def test_a_transfers_record_names_the_org_on_the_other_side_for_both_sides(audit_api, publish, signed_in):
    distributor, integrator = uuid.uuid4(), uuid.uuid4()
    for org_id, name, tier in ((distributor, "Nordic Distribution", "distributor"), (integrator, "Contoso AV", "integrator")):
        event = OrganizationCreated(org_id=org_id, name=name, tier=tier)
        await publish(event.routing_key, event.model_dump(mode="json"), org=org_id)
    transfer = TransferCompleted(transfer_id=uuid.uuid4(), from_org_id=distributor, to_org_id=integrator,
                                 entitlement_id="ENT-2026-000001", product_id=uuid.uuid4(), product_name="Engine",
                                 quantity=50, action="split")
    await publish(transfer.routing_key, transfer.model_dump(mode="json"), org=distributor, also_visible_to=(integrator,))

    async def transfer_message(org):
        response = await audit_api.get("/api/v1/audit-events", params={"type": "Transfers"}, headers=signed_in(org))
        return [item["message"] for item in response.json()["items"] if "transferred" in item["message"]]

    for org in (distributor, integrator):
        assert await eventually(lambda org=org: transfer_message(org)) == [
            "50 x Engine of entitlement ENT-2026-000001 transferred from Nordic Distribution to Contoso AV (split)"]


async def test_a_viewer_may_not_read_the_audit_log(audit_api, signed_in):
    response = await audit_api.get("/api/v1/audit-events", headers=signed_in(uuid.uuid4(), "viewer"))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("query", [{"cursor": "not-a-cursor"}, {"cursor": "WyJ4Il0"}, {"limit": 0}, {"limit": "many"}])
async def test_bad_paging_input_is_a_clear_client_error(audit_api, signed_in, query):
    response = await audit_api.get("/api/v1/audit-events", params=query, headers=signed_in(uuid.uuid4()))
    assert response.status_code in (400, 422)
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"]


async def test_without_a_token_the_audit_log_answers_401(audit_api):
    response = await audit_api.get("/api/v1/audit-events")
    assert response.status_code == 401


async def test_each_event_shows_the_service_the_broker_authenticated_as_its_publisher(
        audit_api, signed_in, infrastructure):
    org = uuid.uuid4()
    event = OrganizationCreated(org_id=uuid.uuid4(), name="Acme", tier="integrator", parent_id=org)
    envelope = Envelope.wrap(event, producer="orgs", actor_org_id=org, visible_to=[org])
    # As orgs' relay publishes: its own broker user, which the broker validates the user_id against.
    connection = await aio_pika.connect(with_credentials(infrastructure.amqp_url, "orgs", development_bus_password("orgs")))
    async with connection:
        exchange = await (await connection.channel()).get_exchange("licensing.events", ensure=False)
        await exchange.publish(aio_pika.Message(envelope.model_dump_json().encode(), user_id="orgs"),
                               routing_key=envelope.type)

    async def listed():
        response = await audit_api.get("/api/v1/audit-events", headers=signed_in(org))
        return response.json()["items"]

    [item] = await eventually(listed)
    assert (item["event_id"], item["published_by"]) == (str(envelope.event_id), "orgs")


async def created(publish, actor_org: uuid.UUID, *, also_visible_to: tuple[uuid.UUID, ...] = (), name: str = "Acme"):
    event = OrganizationCreated(org_id=uuid.uuid4(), name=name, tier="integrator", parent_id=actor_org)
    return await publish(event.routing_key, event.model_dump(mode="json"), org=actor_org, also_visible_to=also_visible_to)


async def _has(awaitable, count: int) -> bool:
    return len(await awaitable) == count


async def test_when_identity_is_unreachable_a_token_gets_503_not_401(infrastructure, signed_in):
    app = create_app(infrastructure.settings(AuditSettings, identity_url="http://127.0.0.1:1"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://audit") as client:
        response = await client.get("/api/v1/audit-events", headers=signed_in(uuid.uuid4()))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert "identity" in response.json()["detail"]
