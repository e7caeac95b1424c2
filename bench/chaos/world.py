"""The seed's world, set up through the gateway as its users would (before any fault): the vendor
creates a distributor, products and entitlements; the distributor creates integrators, each of
which creates its end customers and a plan (its price list, for subscription licences); every
org's first Admin accepts the invite and signs in. Plus a canary: an entitlement and an integrator
of their own, used only to see that processing resumed."""

import asyncio
import uuid
from dataclasses import dataclass

from bench.chaos.plan import World
from bench.system_run import ADMIN_EMAIL, Api, RunningSystem, accept_invite, connect, eventually, pg, sign_in

CANARY_QUANTITY = 1_000_000


@dataclass(frozen=True)
class Line:
    entitlement_id: str
    product_id: str
    quantity: int


@dataclass(frozen=True)
class Org:
    id: str
    admin_email: str  # its first Admin, invited when it was created


@dataclass
class Cast:
    """Who plays in the seed's run: each actor's org and signed-in client, and the lines."""

    orgs: dict[str, Org]  # "distributor", "integrator:<i>", "customer:<i>:<j>", "canary"
    clients: dict[str, Api]
    lines: dict[tuple[int, int], Line]
    canary: Line
    plans: dict[str, str]  # integrator actor -> the id of its plan

    def org_ids(self) -> list[str]:
        return [org.id for org in self.orgs.values()]


def _partner(name: str, emails: list[str]) -> dict:
    return {"name": name, "country": "DE", "representatives": [
        {"email": e, "first_name": e.split("@")[0][:40], "last_name": "Chaos"} for e in emails]}


async def _created(api: Api, path: str, body: dict) -> dict:
    """POSTs until created: a new org reaches the other services' directories a moment later."""
    async def create():
        status, data = await api.request("POST", path, body, headers={"Idempotency-Key": str(uuid.uuid4())})
        return data if status in (200, 201, 202) else None

    create.__name__ = f"POST {path}"
    return await eventually(create, timeout=60)


async def set_up(session, system: RunningSystem, seed: int, world: World) -> Cast:
    base, infra = system.base, system.infra
    run = f"s{seed}-{uuid.uuid4().hex[:6]}"
    vendor = await sign_in(session, base, ADMIN_EMAIL)
    distributor_email = f"{run}-distributor@example.com"
    distributor = Org((await _created(vendor, "/api/v1/distributors", {
        "name": f"Chaos Distribution {run}", "country": "SE", "admin_email": distributor_email}))["id"],
        distributor_email)
    orgs, clients = {"distributor": distributor}, {}
    clients["distributor"] = await accept_invite(session, base, infra, distributor_email)

    products = [(await _created(vendor, "/api/v1/products", {
        "name": f"Chaos Product {run} {p}", "license_type": "perpetual"}))["id"] for p in range(world.products)]

    async def issue(lines: list[tuple[int, int]], order: str) -> str:
        return (await _created(vendor, "/api/v1/entitlements", {
            "distributor_id": distributor.id, "sales_order": f"SO-{run}-{order}", "po_number": f"PO-{run}",
            "order_date": "2026-11-01", "expiration_date": "2035-12-31",
            "lines": [{"product_id": products[p], "quantity": q} for p, q in lines]}))["entitlement_id"]

    lines = {}
    for e, entitlement_lines in enumerate(world.entitlements):
        entitlement_id = await issue(entitlement_lines, str(e))
        for n, (p, quantity) in enumerate(entitlement_lines):
            lines[(e, n)] = Line(entitlement_id, products[p], quantity)
    canary = Line(await issue([(0, CANARY_QUANTITY)], "canary"), products[0], CANARY_QUANTITY)

    async def partner(creator: str, path: str, actor: str, representatives: int) -> None:
        emails = [f"{run}-{actor.replace(':', '-')}-{r}@example.com" for r in range(representatives)]
        created = await _created(clients[creator], path, _partner(f"Chaos {actor} {run}", emails))
        orgs[actor] = Org(created["id"], emails[0])  # the first representative is invited as Admin

    async def integrator_with_customers(i: int, representatives: int, customers: int) -> None:
        await partner("distributor", "/api/v1/integrators", f"integrator:{i}", representatives)
        clients[f"integrator:{i}"] = await accept_invite(session, base, infra, orgs[f"integrator:{i}"].admin_email)
        plans[f"integrator:{i}"] = (await _created(clients[f"integrator:{i}"], "/api/v1/plans", {
            "name": f"Chaos monthly {run}", "interval": "monthly", "unit_price": "12.50", "currency": "EUR"}))["id"]
        for j in range(customers):
            await partner(f"integrator:{i}", "/api/v1/customers", f"customer:{i}:{j}", 1)
            clients[f"customer:{i}:{j}"] = await accept_invite(
                session, base, infra, orgs[f"customer:{i}:{j}"].admin_email)

    plans: dict[str, str] = {}
    await asyncio.gather(*(integrator_with_customers(i, *shape) for i, shape in enumerate(world.integrators)))
    await partner("distributor", "/api/v1/integrators", "canary", 1)
    cast = Cast(orgs, clients, lines, canary, plans)
    await _known_everywhere(system, cast)
    return cast


async def _known_everywhere(system: RunningSystem, cast: Cast) -> None:
    """Waits until the services that check or address orgs know them all, and notify knows the
    members it mails about rejections: the load then meets the system settled, not still starting."""
    ids = [uuid.UUID(i) for i in cast.org_ids()]
    # every org's first Admin has signed up, but the canary's
    admins = [org.admin_email for actor, org in cast.orgs.items() if actor != "canary"]

    async def everywhere_known() -> bool:
        for service in ("entitlements", "transfers", "notify", "billing", "devices"):
            conn = await connect(pg(system.infra, service))
            try:
                known = await conn.fetchval("SELECT count(*) FROM org_directory WHERE id = ANY($1)", ids)
                if known < len(ids):
                    return False
                if service == "notify" and await conn.fetchval(
                        "SELECT count(*) FROM members WHERE email = ANY($1)", admins) < len(admins):
                    return False
            finally:
                await conn.close()
        return True

    await eventually(everywhere_known, timeout=60)
