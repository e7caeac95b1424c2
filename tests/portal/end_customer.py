"""An end customer holding licenses, made through the public API as users would: the distributor
creates the customer directly, transfers some of its licenses, and the customer's default
representative accepts the invite that makes them its first Admin."""

import asyncio
from dataclasses import dataclass

import httpx

from shared.testing import eventually
from tests.portal.world import Distributor, known_to_transfers
from tests.system.platform import Platform, eventually_ok, unique_email


@dataclass
class EndCustomer:
    id: str
    name: str
    admin_email: str
    admin: httpx.AsyncClient


async def end_customer_with_licenses(platform: Platform, distributor: Distributor, quantity: int,
                                     kind: str = "customers") -> EndCustomer:
    """`kind`: "integrators" makes an integrator the same way (the same body, the same first Admin)."""
    admin_email = unique_email("customer-admin")
    name = f"Harbour Hospital {admin_email[15:23]}"
    answer = await distributor.admin.post(f"/api/v1/{kind}", json={
        "name": name, "country": "NO", "representatives": [{"email": admin_email, "first_name": "Kari"}]})
    assert answer.status_code == 201, answer.text
    customer_id = answer.json()["id"]
    # The invite to its first Admin and the transfer travel by different events: wait for both at once.
    admin, _ = await asyncio.gather(platform.accept_invite(admin_email),
                                    _transfer(platform, distributor, customer_id, quantity))
    return EndCustomer(customer_id, name, admin_email, admin)


async def _transfer(platform: Platform, distributor: Distributor, customer_id: str, quantity: int) -> None:
    await known_to_transfers(platform, customer_id)
    transfer = await eventually_ok(lambda: distributor.admin.post("/api/v1/transfers", json={
        "entitlement_id": distributor.entitlement_id, "product_id": distributor.product_id, "quantity": quantity,
        "to_org_id": customer_id}), 202)

    async def outcome():
        status = (await distributor.admin.get(f"/api/v1/transfers/{transfer.json()['id']}")).json()["status"]
        return status if status != "pending" else None

    assert await eventually(outcome, timeout=20) == "completed"
