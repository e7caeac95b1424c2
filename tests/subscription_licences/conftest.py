"""Billing and entitlements running together on test infrastructure of their own (databases and
vhost apart from the rest of the run), talking over the real broker: the ledger's answers reach
billing as they would in production. Orgs are put in both services' directories; licences reach a
reseller's holding through entitlements' own API and ledger."""

import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

import httpx
import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from sqlalchemy.ext.asyncio import AsyncSession

from billing.main import create_app
from billing.settings import BillingSettings
from entitlements.db import org_directory
from entitlements.ledger import apply_transfer, unconserved_lines
from entitlements.main import create_app as create_entitlements_app
from entitlements.settings import EntitlementsSettings
from notify.db import members
from notify.main import create_app as create_notify_app
from notify.settings import NotifySettings
from shared.db import UnitOfWork
from shared.events.entitlements import TransferCompleted
from shared.events.transfers import TransferRequested
from shared.testing import eventually, isolated_infrastructure, running


@pytest.fixture(scope="session")
async def own_infrastructure(infrastructure):
    async with isolated_infrastructure(infrastructure) as own:
        yield own


BILLING_OVERRIDES = dict(claim_attempts_per_org=5, claim_attempts_per_address=1000, lifecycle_check_interval=3600)


@pytest.fixture(scope="session")
async def billing_app(own_infrastructure, identity_keys_url):
    app = create_app(own_infrastructure.settings(BillingSettings, identity_url=identity_keys_url, **BILLING_OVERRIDES))
    async with running(app):
        yield app


@pytest.fixture(scope="session")
async def entitlements_app(own_infrastructure, identity_keys_url):
    app = create_entitlements_app(own_infrastructure.settings(EntitlementsSettings, identity_url=identity_keys_url,
                                                              expiry_check_interval=3600))
    async with running(app):
        yield app


@pytest.fixture(scope="session")
async def billing(billing_app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=billing_app), base_url="http://billing") as client:
        yield client


@pytest.fixture(scope="session")
async def entitlements(entitlements_app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=entitlements_app),
                                 base_url="http://entitlements") as client:
        yield client


@pytest.fixture
def as_(issue_token):
    def headers(org: uuid.UUID, tier: str, role: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(org=str(org), tier=tier, role=role)}"}

    return headers


@dataclass
class Tree:
    vendor: uuid.UUID
    distributor: uuid.UUID
    integrator: uuid.UUID
    customer: uuid.UUID


async def add_org(apps, tier: str, parent_id: uuid.UUID | None, name: str) -> uuid.UUID:
    """The org in both services' directories, as the orgs service's events would put it."""
    org_id = uuid.uuid4()
    now = datetime.now(UTC)
    for app in apps:
        async with app.state.engine.begin() as conn:
            await conn.execute(sa.insert(org_directory).values(
                id=org_id, name=name, tier=tier, parent_id=parent_id, status="active", created_at=now, updated_at=now))
    return org_id


class Console:
    """The steps of the licence console's tests, through the public APIs."""

    def __init__(self, billing_app, entitlements_app, billing, entitlements, as_):
        self.billing_app, self.entitlements_app = billing_app, entitlements_app
        self.billing, self.entitlements, self.as_ = billing, entitlements, as_

    async def tree(self) -> Tree:
        apps = (self.billing_app, self.entitlements_app)
        vendor = await add_org(apps, "vendor", None, "Vendor")
        distributor = await add_org(apps, "distributor", vendor, "Distributor")
        integrator = await add_org(apps, "integrator", distributor, "Integrator One")
        customer = await add_org(apps, "customer", integrator, "Customer Café")
        self.orgs = Tree(vendor, distributor, integrator, customer)
        self.integrator = self.as_(integrator, "integrator")
        self.customer = self.as_(customer, "customer")
        self.vendor = self.as_(vendor, "vendor")
        return self.orgs

    async def holding(self, quantity: int) -> tuple[str, str]:
        """`quantity` licences of a new product in the integrator's holding: (entitlement id, product id)."""
        product = (await self.entitlements.post("/api/v1/products", headers=self.vendor,
                                                json={"name": f"Signage {uuid.uuid4().hex[:6]}",
                                                      "license_type": "subscription"})).json()
        issued = await self.entitlements.post("/api/v1/entitlements", headers=self.vendor, json={
            "distributor_id": str(self.orgs.distributor), "sales_order": f"SO-{uuid.uuid4().hex[:8]}",
            "po_number": "PO-1", "order_date": "2026-03-01", "expiration_date": "2099-12-31",
            "lines": [{"product_id": product["id"], "quantity": quantity}]})
        assert issued.status_code == 201, issued.text
        entitlement_id = issued.json()["entitlement_id"]
        request = TransferRequested(transfer_id=uuid.uuid4(), from_org_id=self.orgs.distributor,
                                    to_org_id=self.orgs.integrator, entitlement_id=entitlement_id,
                                    product_id=product["id"], quantity=quantity)
        async with UnitOfWork(self.entitlements_app.state.session_factory, producer="entitlements") as uow:
            assert isinstance(await apply_transfer(uow, request), TransferCompleted)
            await uow.commit()
        return entitlement_id, product["id"]

    async def available(self, org: uuid.UUID, entitlement_id: str) -> int:
        async with self.entitlements_app.state.engine.connect() as conn:
            return await conn.scalar(sa.text(
                "SELECT coalesce(sum(h.available), 0) FROM holdings h JOIN entitlement_lines l ON l.id = h.line_id"
                " WHERE h.org_id = :org AND l.entitlement_id = :entitlement"), {"org": org, "entitlement": entitlement_id})

    async def activated(self, org: uuid.UUID, entitlement_id: str) -> int:
        async with self.entitlements_app.state.engine.connect() as conn:
            return await conn.scalar(sa.text(
                "SELECT coalesce(sum(quantity), 0) FROM activations WHERE org_id = :org AND entitlement_id = :e"
                " AND status = 'active'"), {"org": org, "e": entitlement_id})

    async def plan(self, unit_price: str = "10.00", interval: str = "monthly", **fields) -> dict:
        response = await self.billing.post("/api/v1/plans", headers=self.integrator, json={
            "name": f"Plan {uuid.uuid4().hex[:6]}", "interval": interval, "unit_price": unit_price,
            "currency": "EUR", **fields})
        assert response.status_code == 201, response.text
        return response.json()

    async def create(self, holding: tuple[str, str], quantity: int, plan: dict | None = None, **fields):
        plan = plan or await self.plan()
        return await self.billing.post("/api/v1/subscriptions", headers=self.integrator, json={
            "plan_id": plan["id"], "name": fields.pop("name", "Lobby screens"), "quantity": quantity,
            "entitlement_id": holding[0], "product_id": holding[1], **fields})

    async def licence(self, holding: tuple[str, str], quantity: int, **fields) -> dict:
        """A licence created and reserved by the ledger."""
        response = await self.create(holding, quantity, **fields)
        assert response.status_code == 202, response.text
        created = response.json()
        await self.settled(created["id"])
        return created

    async def settled(self, subscription_id: str, reservation: str = "reserved") -> dict:
        async def done():
            answer = (await self.billing.get(f"/api/v1/subscriptions/{subscription_id}", headers=self.integrator)).json()
            return answer if answer["reservation"] != "pending" else None

        answer = await eventually(done)
        assert answer["reservation"] == reservation, answer
        return answer

    async def redeem(self, code: str, headers=None):
        return await self.billing.post("/api/v1/claims/redeem", headers=headers or self.customer, json={"code": code})

    async def conserved(self) -> None:
        async with AsyncSession(self.entitlements_app.state.engine) as session:
            broken = await unconserved_lines(session)
        assert not broken, f"conservation broken: {broken}"


@pytest.fixture
async def console(billing_app, entitlements_app, billing, entitlements, as_) -> Console:
    console = Console(billing_app, entitlements_app, billing, entitlements, as_)
    await console.tree()
    return console


class Mailbox:
    """An SMTP server (aiosmtpd) keeping every message it receives, parsed."""

    def __init__(self):
        self.received: list[EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.received.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted"


@pytest.fixture(scope="session")
def mailbox():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    box.port = port
    yield box
    controller.stop()


@pytest.fixture(scope="session")
async def notify_app(own_infrastructure, identity_keys_url, mailbox):
    app = create_notify_app(own_infrastructure.settings(
        NotifySettings, identity_url=identity_keys_url, smtp_port=mailbox.port, sender_poll_interval=0.05,
        send_base_delay=0.05, send_max_delay=0.2))
    async with running(app):
        yield app


async def add_admin(notify_app, org_id: uuid.UUID, email: str) -> None:
    """A customer Admin as identity's member events would put it in notify's copy."""
    async with notify_app.state.engine.begin() as conn:
        await conn.execute(sa.insert(members).values(id=uuid.uuid4(), org_id=org_id, email=email, role="admin"))
