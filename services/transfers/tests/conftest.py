"""The transfers service on test infrastructure of its own (databases and vhost apart from the rest of
the run, so no other test's entitlements consumer answers its transfer requests), an HTTP
client to it, and helpers: orgs put in its directory by the real org handlers, outcomes delivered
through the real consumer (published on the bus) or applied by the registered handlers."""

import uuid
from dataclasses import dataclass, field
from datetime import datetime

import aio_pika
import httpx
import pytest
import sqlalchemy as sa

from shared.bus.consumer import BatchHandler
from shared.bus.topology import declare_topology, routing_key_matches
from shared.db import UnitOfWork
from shared.events.entitlements import TransferCompleted, TransferRejected
from shared.events.envelope import Envelope, EventPayload
from shared.events.orgs import OrganizationArchived, OrganizationCreated, OrganizationUnarchived, RepresentativeInfo
from shared.testing import isolated_infrastructure, running
from transfers.handlers import event_handlers
from transfers.main import create_app
from transfers.settings import TransfersSettings

EXCHANGE = "licensing.events"


@pytest.fixture(scope="session")
async def own_infrastructure(infrastructure):
    async with isolated_infrastructure(infrastructure) as own:
        yield own


# One running service per test module (its relay and consumer); tests keep apart by their own orgs.
@pytest.fixture(scope="module")
async def app(own_infrastructure, identity_keys_url):
    app = create_app(own_infrastructure.settings(TransfersSettings, identity_url=identity_keys_url))
    async with running(app):
        yield app


@pytest.fixture(scope="module")
async def api(app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://transfers") as client:
        yield client


@pytest.fixture
def signed_in(issue_token):
    """Headers of a member of `org` with `role`; the same `user` gives the same user id."""

    def headers(org: uuid.UUID, role: str = "admin", tier: str = "distributor", user: uuid.UUID | None = None):
        claims = {"org": str(org), "role": role, "tier": tier}
        if user is not None:
            claims["sub"] = str(user)
        return {"Authorization": f"Bearer {issue_token(**claims)}"}

    return headers


@pytest.fixture
async def broker(own_infrastructure):
    connection = await aio_pika.connect(own_infrastructure.amqp_url)
    channel = await connection.channel()
    await declare_topology(channel, EXCHANGE)
    yield channel
    await connection.close()


@pytest.fixture
def publish(broker):
    """Publishes an event on the exchange, as another service's relay would; returns its envelope."""

    async def publish_event(event: EventPayload, **envelope_fields) -> Envelope:
        envelope = Envelope.wrap(event, producer="tests").model_copy(update=envelope_fields)
        exchange = await broker.get_exchange(EXCHANGE)
        await exchange.publish(aio_pika.Message(envelope.model_dump_json().encode()), routing_key=envelope.type)
        return envelope

    return publish_event


async def handle(app, event: EventPayload, occurred_at: datetime | None = None) -> None:
    """Applies an event with the service's registered handler in one unit of work."""
    envelope = Envelope.wrap(event, producer="tests")
    if occurred_at is not None:
        envelope = envelope.model_copy(update={"occurred_at": occurred_at})
    async with UnitOfWork(app.state.session_factory, producer="transfers") as uow:
        for pattern, handler in event_handlers().items():
            if routing_key_matches(pattern, envelope.type):
                await (handler.handle(uow, [envelope]) if isinstance(handler, BatchHandler) else handler(uow, envelope))
        await uow.commit()


@dataclass
class Org:
    id: uuid.UUID
    name: str
    representatives: list[RepresentativeInfo] = field(default_factory=list)

    @property
    def default_representative(self) -> RepresentativeInfo:
        return next(r for r in self.representatives if r.is_default)


@pytest.fixture
def directory(app):
    """Orgs as the orgs service announces them, applied by the real directory handlers."""

    class Directory:
        async def distributor(self, name: str = "Distributor") -> Org:
            org = Org(uuid.uuid4(), name)
            await handle(app, OrganizationCreated(org_id=org.id, name=name, tier="distributor", parent_id=uuid.uuid4()))
            return org

        async def integrator(self, parent: Org, name: str = "Acme Integration", representatives: int = 2) -> Org:
            slug = name.lower().replace(" ", "-")
            reps = [
                RepresentativeInfo(
                    representative_id=uuid.uuid4(), email=f"rep{i}@{slug}.example", first_name=f"Rep{i}",
                    last_name=name.split()[0], is_default=i == 0,
                )
                for i in range(representatives)
            ]
            org = Org(uuid.uuid4(), name, reps)
            await handle(
                app,
                OrganizationCreated(org_id=org.id, name=name, tier="integrator", parent_id=parent.id,
                                    representatives=reps),
            )
            return org

        async def archive(self, org: Org, parent: Org) -> None:
            await handle(app, OrganizationArchived(org_id=org.id, name=org.name, tier="integrator", parent_id=parent.id))

        async def unarchive(self, org: Org, parent: Org) -> None:
            await handle(app, OrganizationUnarchived(org_id=org.id, name=org.name, tier="integrator",
                                                     parent_id=parent.id))

    return Directory()


@pytest.fixture
def transfer(api, signed_in):
    """Requests a transfer as an Admin of `sender`; returns its id."""

    async def request(sender: Org, receiver: Org, quantity: int | None = None, **body) -> uuid.UUID:
        payload = {"entitlement_id": "ENT-2026-000001", "product_id": str(uuid.uuid4()), "to_org_id": str(receiver.id)}
        if quantity is not None:
            payload["quantity"] = quantity
        payload.update(body)
        response = await api.post("/api/v1/transfers", json=payload, headers=signed_in(sender.id))
        assert response.status_code == 202, response.text
        return uuid.UUID(response.json()["id"])

    return request


@pytest.fixture
def apply(app):
    """Applies an event with the registered handler, as the consumer would (without the bus)."""

    async def apply_event(event: EventPayload, occurred_at: datetime | None = None) -> None:
        await handle(app, event, occurred_at)

    return apply_event


@pytest.fixture
def stored(app):
    """The transfer's row as the database holds it."""

    async def row(transfer_id: uuid.UUID) -> dict:
        async with app.state.engine.connect() as conn:
            result = await conn.execute(sa.text("SELECT * FROM transfers WHERE id = :id"), {"id": transfer_id})
            return dict(result.mappings().one())

    return row


@pytest.fixture
def outcome():
    """Builds the outcome events entitlements would send."""

    class Outcomes:
        completed = staticmethod(completed)
        rejected = staticmethod(rejected)

    return Outcomes()


def completed(transfer_id: uuid.UUID, sender: Org, receiver: Org, **details) -> TransferCompleted:
    values = dict(
        transfer_id=transfer_id, from_org_id=sender.id, to_org_id=receiver.id, entitlement_id="ENT-2026-000001",
        product_id=uuid.uuid4(), product_name="Core License", product_description="The core product", quantity=10,
        action="transfer", po_number="PO-1", sales_order="SO-1",
    )
    values.update(details)
    return TransferCompleted(**values)


def rejected(transfer_id: uuid.UUID, sender: Org, receiver: Org, **details) -> TransferRejected:
    values = dict(
        transfer_id=transfer_id, from_org_id=sender.id, to_org_id=receiver.id, entitlement_id="ENT-2026-000001",
        product_id=uuid.uuid4(), reason_code="insufficient_quantity", reason="Only 5 available; 10 requested.",
    )
    values.update(details)
    return TransferRejected(**values)
