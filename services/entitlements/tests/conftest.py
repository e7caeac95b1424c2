"""The entitlements service running on the test infrastructure, an HTTP client to it, a seeded
org tree (vendor -> distributor -> integrator -> customer in the org directory) and the
conservation check every quantity-changing test ends with."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from entitlements.db import org_directory
from entitlements.ledger import apply_transfer, today, unconserved_lines
from entitlements.main import create_app
from entitlements.settings import EntitlementsSettings
from shared.db import UnitOfWork, create_engine
from shared.events.entitlements import TransferCompleted
from shared.events.transfers import TransferRequested
from shared.testing import running


@pytest.fixture(scope="session")
def settings(infrastructure, identity_keys_url) -> EntitlementsSettings:
    # The sweeper of the app under test waits an hour between passes; expiry tests drive it themselves.
    return infrastructure.settings(EntitlementsSettings, identity_url=identity_keys_url, expiry_check_interval=3600)


@pytest.fixture(scope="session")
async def app(settings):
    app = create_app(settings)
    async with running(app):
        yield app


@pytest.fixture(scope="session")
async def api(app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://entitlements") as client:
        yield client


@pytest.fixture(scope="session")
async def books(settings):
    """A connection of the tests' own to the service's database, for the checks after each test."""
    engine = create_engine(settings.resolved_database_url(), pool_size=1)
    yield engine
    await engine.dispose()


@pytest.fixture(autouse=True)
async def books_balance_after_every_test(request, books):
    """Conservation, checked after every test of this service that ran it (not only where a test
    asks): whatever a test did through the API, the bus or the ledger, every line still balances."""
    yield
    if "app" in request.fixturenames:  # the others (pure rules) touch no database
        await assert_conserved(books)


async def assert_conserved(engine) -> None:
    """For every line: what is held plus what is reserved for subscription licences plus what is
    actively activated is exactly what was issued (and every holding agrees with its ledger
    entries): the ledger's own check, on the whole database."""
    async with AsyncSession(engine) as session:
        broken = await unconserved_lines(session)
    assert not broken, f"conservation broken: {broken}"


@dataclass
class Orgs:
    vendor: uuid.UUID
    distributor: uuid.UUID
    integrator: uuid.UUID
    customer: uuid.UUID


async def add_org(engine, tier: str, parent_id: uuid.UUID | None, status: str = "active",
                  name: str | None = None) -> uuid.UUID:
    org_id = uuid.uuid4()
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(sa.insert(org_directory).values(
            id=org_id, name=name or f"{tier} {org_id.hex[:6]}", tier=tier, parent_id=parent_id, status=status,
            created_at=now, updated_at=now))
    return org_id


@pytest.fixture
async def orgs(app) -> Orgs:
    """A fresh org tree per test, so tests never see each other's licenses."""
    engine = app.state.engine
    vendor = await add_org(engine, "vendor", None)
    distributor = await add_org(engine, "distributor", vendor)
    integrator = await add_org(engine, "integrator", distributor)
    customer = await add_org(engine, "customer", integrator)
    return Orgs(vendor, distributor, integrator, customer)


@pytest.fixture
def as_(issue_token):
    """Authorization headers of a member of `org` with `tier` and `role`."""

    def headers(org: uuid.UUID, tier: str, role: str = "admin", **claims) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(org=str(org), tier=tier, role=role, **claims)}"}

    return headers


async def all_pages(api, path: str, headers: dict, limit: int = 200, **params) -> list[dict]:
    """Every item of a list, following next_cursor."""
    items, cursor = [], None
    while True:
        query = {"limit": limit, **params} | ({"cursor": cursor} if cursor else {})
        response = await api.get(path, headers=headers, params=query)
        assert response.status_code == 200, response.text
        items += response.json()["items"]
        cursor = response.json()["next_cursor"]
        if not cursor:
            return items


@pytest.fixture
def pages(api):
    """`await pages(path, headers, **params)`: every item of a list, following next_cursor."""

    async def collect(path: str, headers: dict, **params) -> list[dict]:
        return await all_pages(api, path, headers, **params)

    return collect


@pytest.fixture
def licensing(app, api, orgs, as_):
    return Licensing(app, api, orgs, as_)


class Licensing:
    """The steps every test needs, through the public API where it has one."""

    def __init__(self, app, api, orgs: Orgs, as_):
        self.app, self.api, self.orgs, self.as_ = app, api, orgs, as_
        self.vendor = as_(orgs.vendor, "vendor")
        self.distributor = as_(orgs.distributor, "distributor")
        self.integrator = as_(orgs.integrator, "integrator")
        self.customer = as_(orgs.customer, "customer", email="ada@customer.example")

    async def product(self, name: str = "Camera Pro", license_type: str = "perpetual", **fields) -> dict:
        response = await self.api.post("/api/v1/products", headers=self.vendor,
                                       json={"name": name, "license_type": license_type, **fields})
        assert response.status_code == 201, response.text
        return response.json()

    async def issue(self, lines: list[tuple[dict, int]], **fields) -> dict:
        response = await self.api.post("/api/v1/entitlements", headers=self.vendor, json=self.order(lines, **fields))
        assert response.status_code == 201, response.text
        return response.json()

    async def issued_in_the_past(self, lines: list[tuple[dict, int]], *, expired_on, **fields) -> dict:
        """An entitlement whose expiration date is now `expired_on`, behind us: issued while it was
        valid (an order cannot be issued already expired), then time passed (the date is moved,
        the status left to the sweeper)."""
        issued = await self.issue(lines, expiration_date=str(today()), **fields)
        async with self.app.state.engine.begin() as conn:
            await conn.execute(sa.text("UPDATE entitlements SET expiration_date = :d WHERE id = :id"),
                               {"d": expired_on, "id": issued["entitlement_id"]})
        return issued

    def order(self, lines: list[tuple[dict, int]], **fields) -> dict:
        return {
            "distributor_id": str(self.orgs.distributor),
            "sales_order": f"SO-{uuid.uuid4().hex[:8]}",
            "po_number": "PO-1",
            "order_date": "2026-03-01",
            "expiration_date": "2099-12-31",
            "lines": [{"product_id": product["id"], "quantity": quantity} for product, quantity in lines],
            **fields,
        }

    async def transfer(self, entitlement_id: str, product: dict, from_org: uuid.UUID, to_org: uuid.UUID,
                       quantity: int | None) -> None:
        """What the transfer-requested handler does with an event from the bus, in one transaction."""
        request = TransferRequested(transfer_id=uuid.uuid4(), from_org_id=from_org, to_org_id=to_org,
                                    entitlement_id=entitlement_id, product_id=product["id"], quantity=quantity)
        async with UnitOfWork(self.app.state.session_factory, producer="entitlements") as uow:
            outcome = await apply_transfer(uow, request)
            assert isinstance(outcome, TransferCompleted), outcome
            await uow.commit()

    async def down_to_customer(self, entitlement_id: str, product: dict, quantity: int) -> None:
        await self.transfer(entitlement_id, product, self.orgs.distributor, self.orgs.integrator, quantity)
        await self.transfer(entitlement_id, product, self.orgs.integrator, self.orgs.customer, quantity)

    async def customer_line(self, entitlement_id: str) -> dict:
        """The entitlement's first line as the customer sees it."""
        detail = await self.api.get(f"/api/v1/entitlements/{entitlement_id}", headers=self.customer)
        assert detail.status_code == 200
        return detail.json()["lines"][0]

    async def activate(self, entitlement_id: str, product: dict, quantity: int, headers=None, **fields):
        body = {"entitlement_id": entitlement_id, "product_id": product["id"], "quantity": quantity,
                "project_name": "Lobby", "project_manager": "Grace", "serial_number": "SN-1", **fields}
        return await self.api.post("/api/v1/activations", headers=headers or self.customer, json=body)

    async def add_org(self, tier: str, parent_id: uuid.UUID | None, status: str = "active") -> uuid.UUID:
        return await add_org(self.app.state.engine, tier, parent_id, status)

    async def conserved(self) -> None:
        await assert_conserved(self.app.state.engine)

    async def events(self, routing_key: str, **payload) -> list[dict]:
        """The outbox's events of a type whose payload has these values."""
        async with self.app.state.engine.connect() as conn:
            bodies = (await conn.execute(
                sa.text("SELECT body FROM outbox WHERE routing_key = :key ORDER BY id"), {"key": routing_key}
            )).scalars().all()
        return [b for b in bodies if all(b["payload"].get(k) == v for k, v in payload.items())]


@pytest.fixture
async def held(licensing):
    """An entitlement of 10 Cameras with 5 of them down at the customer: (entitlement id, product)."""
    camera = await licensing.product("Camera")
    entitlement_id = (await licensing.issue([(camera, 10)]))["entitlement_id"]
    await licensing.down_to_customer(entitlement_id, camera, 5)
    return entitlement_id, camera
