"""The devices service on test infrastructure of its own, an HTTP client to it, and helpers that
give an end customer a license the way the platform does: entitlements' events (a product with its
device rules, an entitlement with its expiration date, an activation) applied by the service's
registered handlers or published on the bus."""

import uuid
from dataclasses import dataclass
from datetime import date

import aio_pika
import httpx
import pytest

from devices.handlers import event_handlers
from devices.main import create_app
from devices.settings import DevicesSettings
from shared.bus.topology import declare_topology, routing_key_matches
from shared.db import UnitOfWork
from shared.events.entitlements import (
    ActivationDeactivated, EntitlementIssued, EntitlementLine, LicensesActivated, ProductCreated)
from shared.events.envelope import Envelope, EventPayload
from shared.events.orgs import OrganizationCreated
from shared.testing import isolated_infrastructure, running

EXCHANGE = "licensing.events"


@pytest.fixture(scope="session")
async def own_infrastructure(infrastructure):
    async with isolated_infrastructure(infrastructure) as own:
        yield own


@pytest.fixture(scope="module")
async def app(own_infrastructure, identity_keys_url):
    app = create_app(own_infrastructure.settings(DevicesSettings, identity_url=identity_keys_url,
                                                 validation_flush_interval=0.2))
    async with running(app):
        yield app


@pytest.fixture(scope="module")
async def api(app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://devices") as client:
        yield client


@pytest.fixture
def signed_in(issue_token):
    def headers(org: uuid.UUID, role: str = "admin", tier: str = "customer"):
        return {"Authorization": f"Bearer {issue_token(org=str(org), role=role, tier=tier)}"}

    return headers


async def handle(app, event: EventPayload) -> None:
    """Applies an event with the service's registered handler in one unit of work."""
    envelope = Envelope.wrap(event, producer="tests")
    async with UnitOfWork(app.state.session_factory, producer="devices") as uow:
        for pattern, handler in event_handlers(app.state.settings).items():
            if routing_key_matches(pattern, envelope.type):
                await handler(uow, envelope)
        await uow.commit()


@pytest.fixture
def apply(app):
    async def apply_event(event: EventPayload) -> None:
        await handle(app, event)

    return apply_event


@pytest.fixture
async def broker(own_infrastructure):
    connection = await aio_pika.connect(own_infrastructure.amqp_url)
    channel = await connection.channel()
    await declare_topology(channel, EXCHANGE)
    yield channel
    await connection.close()


@pytest.fixture
def publish(broker):
    """Publishes an event on the exchange, as entitlements' relay would."""

    async def publish_event(event: EventPayload) -> None:
        envelope = Envelope.wrap(event, producer="tests")
        exchange = await broker.get_exchange(EXCHANGE)
        await exchange.publish(aio_pika.Message(envelope.model_dump_json().encode()), routing_key=envelope.type)

    return publish_event


@dataclass
class License:
    id: uuid.UUID
    key: str
    org_id: uuid.UUID
    activation_id: uuid.UUID
    entitlement_id: str
    product_id: uuid.UUID
    quantity: int


@pytest.fixture
def customer(app, api, signed_in):
    """An end customer (under an integrator, under a distributor) that activates licenses."""

    class Customer:
        def __init__(self):
            self.distributor_id, self.integrator_id, self.org_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
            self.admin = signed_in(self.org_id)
            self.viewer = signed_in(self.org_id, role="viewer")

        async def exists(self) -> "Customer":
            for org_id, tier, parent in ((self.distributor_id, "distributor", uuid.uuid4()),
                                         (self.integrator_id, "integrator", self.distributor_id),
                                         (self.org_id, "customer", self.integrator_id)):
                await handle(app, OrganizationCreated(org_id=org_id, name=f"{tier} {org_id.hex[:6]}", tier=tier,
                                                      parent_id=parent))
            return self

        async def activates(self, quantity: int = 10, expires_on: date | None = None, project: str = "Plant",
                            **rules) -> License:
            product_id, activation_id = uuid.uuid4(), uuid.uuid4()
            entitlement_id = f"ENT-2026-{uuid.uuid4().int % 1_000_000:06d}"
            await handle(app, ProductCreated(product_id=product_id, name="Edge", license_type="subscription", **rules))
            await handle(app, EntitlementIssued(
                entitlement_id=entitlement_id, distributor_id=self.distributor_id, sales_order="SO-1",
                order_date=date(2026, 1, 1), expiration_date=expires_on,
                lines=[EntitlementLine(product_id=product_id, product_name="Edge", quantity=quantity)]))
            await handle(app, LicensesActivated(
                activation_id=activation_id, org_id=self.org_id, entitlement_id=entitlement_id,
                product_id=product_id, product_name="Edge", quantity=quantity, project_name=project))
            return await self.license_of(activation_id, entitlement_id, product_id, quantity)

        async def license_of(self, activation_id, entitlement_id, product_id, quantity) -> License:
            listed = await api.get("/api/v1/license-keys", params={"search": entitlement_id}, headers=self.admin)
            item = next(i for i in listed.json()["items"] if i["activation_id"] == str(activation_id))
            detail = (await api.get(f"/api/v1/license-keys/{item['id']}", headers=self.admin)).json()
            return License(uuid.UUID(item["id"]), detail["key"], self.org_id, activation_id, entitlement_id,
                           product_id, quantity)

        async def deactivates(self, license: License) -> None:
            await handle(app, ActivationDeactivated(
                activation_id=license.activation_id, org_id=self.org_id, entitlement_id=license.entitlement_id,
                product_id=license.product_id, product_name="Edge", quantity=license.quantity,
                project_name="Plant", available_after=license.quantity))

    async def make() -> Customer:
        return await Customer().exists()

    return make


@pytest.fixture
def device(api):
    """The licensed software's calls."""

    class Device:
        async def activate(self, license: License, fingerprint: str, **extra) -> httpx.Response:
            return await api.post("/api/v1/device/activate",
                                  json={"key": license.key, "fingerprint": fingerprint, **extra})

        async def validate(self, key: str, fingerprint: str, **extra) -> dict:
            answer = await api.post("/api/v1/device/validate", json={"key": key, "fingerprint": fingerprint, **extra})
            assert answer.status_code == 200, answer.text
            return answer.json()

    return Device()


