"""The people and data the security suite calls with, built once through the public API.

Tree "A" is the vendor, a distributor, its integrator and the integrator's customer, with a
signed-in member of every role of every tier (invites accepted as users would). Tree "B" is an
unrelated distributor with its own integrator, customer, entitlement, transfer, activation, pending
invite and notifications: its real ids are what A's members must never reach.
"""

import asyncio
import uuid
from dataclasses import dataclass, field

import httpx
import sqlalchemy as sa

from shared.auth.permissions import ROLES_BY_TIER, Role, Tier
from shared.testing import eventually
from tests.system.platform import ADMIN_EMAIL, Platform, eventually_ok, unique_email


@dataclass(frozen=True)
class Member:
    tier: Tier
    role: Role
    email: str
    http: httpx.AsyncClient

    def __str__(self) -> str:
        return f"{self.tier.value}/{self.role.value}"


@dataclass
class Tree:
    """One distributor's chain, through its Admins, and the ids of what it holds."""

    admins: dict[Tier, Member] = field(default_factory=dict)
    ids: dict[tuple[str, str], str] = field(default_factory=dict)  # (resource, path param) -> id
    emails: list[str] = field(default_factory=list)


@dataclass
class Cast:
    platform: Platform
    vendor: Member
    members: list[Member]  # tree A: every role of every tier
    own: Tree
    unrelated: Tree

    def member(self, tier: Tier, role: Role) -> Member:
        return next(m for m in self.members if (m.tier, m.role) == (tier, role))


def partner(name: str, *emails: str) -> dict:
    return {"name": name, "country": "DE", "representatives": [
        {"email": e, "first_name": e.split("@")[0], "last_name": "Rep"} for e in emails]}


async def created(call, status: int = 201) -> dict:
    answer = await eventually_ok(call, status)
    return answer.json()


async def build_cast(platform: Platform) -> Cast:
    vendor = Member(Tier.VENDOR, Role.ADMIN, ADMIN_EMAIL, await platform.sign_in(ADMIN_EMAIL))
    products = [await created(lambda name=name: vendor.http.post("/api/v1/products", json={
        "name": name, "license_type": "perpetual", "deployment_type": "on_premise"})) for name in ("Edge", "Core")]
    # Each Admin invites the other roles of its org as soon as it exists, while the trees grow.
    staff = Staff(platform)
    staff.hire(vendor)
    own, unrelated = await asyncio.gather(build_tree(platform, vendor, products[0]["id"], "a", staff.hire),
                                          build_tree(platform, vendor, products[1]["id"], "b"))
    unrelated.ids[("notifications", "notification_id")] = await notification_of(platform, unrelated)
    unrelated.ids[("activations", "activation_id")] = await activation_of(unrelated)
    unrelated.ids.update(await billing_of(unrelated))
    await devices_of(platform, unrelated)
    others = await staff.hired()
    return Cast(platform, vendor, [vendor, *own.admins.values(), *others], own, unrelated)


class Staff:
    """The members of every role but Admin, invited by each org's Admin and accepted, a few at a
    time (each acceptance hashes a password and signs in)."""

    def __init__(self, platform: Platform):
        self._platform = platform
        self._tasks: list[asyncio.Task] = []
        self._semaphore = asyncio.Semaphore(4)

    def hire(self, admin: Member) -> None:
        self._tasks += [asyncio.create_task(self._invite(admin, role))
                        for role in sorted(ROLES_BY_TIER[admin.tier]) if role != Role.ADMIN]

    async def _invite(self, admin: Member, role: Role) -> Member:
        async with self._semaphore:
            return await invited(self._platform, admin, role)

    async def hired(self) -> list[Member]:
        return list(await asyncio.gather(*self._tasks))


async def invited(platform: Platform, admin: Member, role: Role) -> Member:
    email = unique_email(f"{admin.tier.value}-{role.value}")
    answer = await admin.http.post("/api/v1/invites", json={"email": email, "role": role.value})
    assert answer.status_code == 201, answer.text
    return Member(admin.tier, role, email, await platform.accept_invite(email))


async def build_tree(platform: Platform, vendor: Member, product_id: str, name: str,
                     on_admin=lambda admin: None) -> Tree:
    """`on_admin` is told of each Admin as soon as it has signed in."""
    tree = Tree()
    emails = {tier: unique_email(f"{name}-{tier.value}")
              for tier in (Tier.DISTRIBUTOR, Tier.INTEGRATOR, Tier.CUSTOMER)}
    tree.emails += emails.values()

    distributor = await created(lambda: vendor.http.post("/api/v1/distributors", json={
        "name": f"Distributor {name}", "country": "SE", "admin_email": emails[Tier.DISTRIBUTOR]}))
    tree.ids[("distributors", "org_id")] = distributor["id"]
    admin = await first_admin(platform, tree, Tier.DISTRIBUTOR, emails[Tier.DISTRIBUTOR], on_admin)
    issued = await created(lambda: vendor.http.post("/api/v1/entitlements", json={
        "distributor_id": distributor["id"], "sales_order": f"SO-{name}", "po_number": f"PO-{name}",
        "order_date": "2026-11-01", "expiration_date": "2030-12-31",
        "lines": [{"product_id": product_id, "quantity": 100}]}))
    tree.ids[("entitlements", "entitlement_id")] = issued["entitlement_id"]
    tree.ids[("licenses", "product_id")] = product_id

    integrator = await created(lambda: admin.http.post("/api/v1/integrators", json=partner(
        f"Integrator {name}", emails[Tier.INTEGRATOR], unique_email(f"{name}-second-rep"))))
    tree.ids[("integrators", "org_id")] = integrator["id"]
    tree.ids[("integrators", "rep_id")] = integrator["representatives"][1]["id"]
    integrator_admin = await first_admin(platform, tree, Tier.INTEGRATOR, emails[Tier.INTEGRATOR], on_admin)
    transfer = await created(lambda: admin.http.post("/api/v1/transfers", json={
        "entitlement_id": issued["entitlement_id"], "product_id": product_id, "quantity": 30,
        "to_org_id": integrator["id"]}), 202)
    tree.ids[("transfers", "transfer_id")] = transfer["id"]

    customer = await created(lambda: integrator_admin.http.post("/api/v1/customers", json=partner(
        f"Customer {name}", emails[Tier.CUSTOMER])))
    tree.ids[("customers", "org_id")] = customer["id"]
    tree.ids[("customers", "rep_id")] = customer["representatives"][0]["id"]
    await first_admin(platform, tree, Tier.CUSTOMER, emails[Tier.CUSTOMER], on_admin)

    pending = await created(lambda: admin.http.post("/api/v1/invites", json={
        "email": unique_email(f"{name}-pending"), "role": "viewer"}))
    tree.ids[("invites", "invite_id")] = pending["id"]
    tree.ids[("members", "member_id")] = (await admin.http.get("/api/v1/me")).json()["id"]
    return tree


async def first_admin(platform: Platform, tree: Tree, tier: Tier, email: str, on_admin) -> Member:
    """The org's first Admin, invited when the org was created, signed in once it accepted."""
    tree.admins[tier] = admin = Member(tier, Role.ADMIN, email, await platform.accept_invite(email))
    on_admin(admin)
    return admin


async def notification_of(platform: Platform, tree: Tree) -> str:
    """A notification of the tree's distributor (the mail inviting its Admin, for instance)."""
    engine = platform.apps["notify"].state.engine
    org_id = uuid.UUID(tree.ids[("distributors", "org_id")])

    async def first():
        async with engine.connect() as conn:
            return await conn.scalar(sa.text("SELECT id FROM notifications WHERE :org = ANY(org_ids) LIMIT 1"),
                                     {"org": org_id})

    return str(await eventually(first, timeout=20))


async def activation_of(tree: Tree) -> str:
    """An activation of the tree's customer: its integrator passes it 5 of the 30 licenses it was
    sent, and the customer activates 1."""
    integrator, customer = tree.admins[Tier.INTEGRATOR].http, tree.admins[Tier.CUSTOMER].http
    line = {"entitlement_id": tree.ids[("entitlements", "entitlement_id")],
            "product_id": tree.ids[("licenses", "product_id")]}

    async def passed_on() -> bool:
        # Refused (or rejected) while the ledger does not yet know the customer: sent again.
        sent = await integrator.post("/api/v1/transfers", json={
            **line, "quantity": 5, "to_org_id": tree.ids[("customers", "org_id")]})
        if sent.status_code != 202:
            return False
        return await eventually(lambda: _settled(integrator, sent.json()["id"]), timeout=20) == "completed"

    distributor = tree.admins[Tier.DISTRIBUTOR].http
    first = tree.ids[("transfers", "transfer_id")]
    assert await eventually(lambda: _settled(distributor, first), timeout=20) == "completed"
    await eventually(passed_on, timeout=60, interval=0.5)
    activation = await created(lambda: customer.post("/api/v1/activations", json={
        **line, "quantity": 1, "project_name": "Unrelated project"}))
    return activation["id"]


async def devices_of(platform: Platform, tree: Tree) -> None:
    """The license the tree's activation became, a device activated on it and a license user."""
    customer = tree.admins[Tier.CUSTOMER].http

    async def license_id():
        items = (await customer.get("/api/v1/license-keys")).json()["items"]
        return items[0]["id"] if items else None

    license = (await customer.get(f"/api/v1/license-keys/{await eventually(license_id, timeout=20)}")).json()
    tree.ids[("license-keys", "license_id")] = license["id"]
    device = await created(lambda: platform.http.post("/api/v1/device/activate", json={
        "key": license["key"], "fingerprint": f"unrelated-{uuid.uuid4()}"}))
    tree.ids[("devices", "device_id")] = device["id"]
    user = await created(lambda: customer.post("/api/v1/license-users", json={
        "license_id": license["id"], "email": unique_email("unrelated-license-user")}))
    tree.ids[("license-users", "license_user_id")] = user["id"]
    tree.emails.append(user["email"])
async def billing_of(tree: Tree) -> dict[tuple[str, str], str]:
    """The integrator's plan, a licence of 1 assigned to its customer (out of what it still holds
    after activation_of), and that licence's invoice."""
    integrator = tree.admins[Tier.INTEGRATOR].http
    plan = await created(lambda: integrator.post("/api/v1/plans", json={
        "name": "Monthly", "interval": "monthly", "unit_price": "9.90", "currency": "EUR"}))
    licence = await created(lambda: integrator.post("/api/v1/subscriptions", json={
        "plan_id": plan["id"], "name": "Unrelated screens", "quantity": 1,
        "entitlement_id": tree.ids[("entitlements", "entitlement_id")], "product_id": tree.ids[("licenses", "product_id")],
        "customer_org_id": tree.ids[("customers", "org_id")]}), 202)
    invoice = await created(lambda: integrator.post("/api/v1/invoices", json={"subscription_ids": [licence["id"]]}))
    return {("plans", "plan_id"): plan["id"], ("subscriptions", "subscription_id"): licence["id"],
            ("invoices", "invoice_id"): invoice["items"][0]["id"]}


async def _settled(http: httpx.AsyncClient, transfer_id: str) -> str | None:
    """The transfer's outcome (completed, rejected), None while it is pending."""
    answer = await http.get(f"/api/v1/transfers/{transfer_id}")
    return None if answer.status_code != 200 or answer.json()["status"] == "pending" else answer.json()["status"]


async def gather_bounded(calls, limit: int = 8) -> list:
    """Runs the calls concurrently, a few at a time: the services' connection pools (and the shared
    PostgreSQL's connection limit) are not there to absorb a test's whole burst at once."""
    semaphore = asyncio.Semaphore(limit)

    async def bounded(call):
        async with semaphore:
            return await call

    return await asyncio.gather(*(bounded(c) for c in calls))
