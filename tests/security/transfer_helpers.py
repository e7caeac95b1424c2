"""What the transfer attacks share: a fresh integrator of the cast's own distributor (so its mail
and its licenses are the test's alone), and a transfer's outcome."""

import httpx

from shared.auth.permissions import Tier
from shared.testing import eventually
from tests.security.cast import Cast, created, partner
from tests.system.platform import unique_email


def line(cast: Cast) -> dict:
    """The entitlement line the cast's own distributor holds."""
    return {"entitlement_id": cast.own.ids[("entitlements", "entitlement_id")],
            "product_id": cast.own.ids[("licenses", "product_id")]}


async def fresh_integrator(cast: Cast, name: str) -> tuple[str, str]:
    """A new integrator of the own distributor: its id and its (default) representative's email."""
    representative = unique_email(name.lower().replace(" ", "-"))
    distributor = cast.own.admins[Tier.DISTRIBUTOR].http
    integrator = await created(lambda: distributor.post("/api/v1/integrators", json=partner(name, representative)))
    return integrator["id"], representative


async def outcome(http: httpx.AsyncClient, transfer_id: str) -> str:
    async def settled():
        status = (await http.get(f"/api/v1/transfers/{transfer_id}")).json()["status"]
        return None if status == "pending" else status

    return await eventually(settled, timeout=30)


async def transfer_ids(http: httpx.AsyncClient) -> list[str]:
    """The newest transfers the caller's org asked for."""
    return [t["id"] for t in (await http.get("/api/v1/transfers", params={"limit": 200})).json()["items"]]
