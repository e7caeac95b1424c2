"""The people and licenses the portal tests start from, made through the public API as users
would: a distributor holding an entitlement of 100 licenses, its Admin, and members of other roles."""

import uuid
from dataclasses import dataclass

import httpx
import sqlalchemy as sa

from shared.org_directory import org_directory_representatives
from shared.testing import eventually
from tests.system.platform import ADMIN_EMAIL, Platform, eventually_ok, unique_email


@dataclass
class Distributor:
    id: str
    name: str
    admin_email: str
    admin: httpx.AsyncClient  # the Admin's API client (bearer token)
    product_id: str
    product_name: str
    entitlement_id: str
    po_number: str


async def distributor_with_licenses(platform: Platform, quantity: int = 100) -> Distributor:
    vendor = await platform.sign_in(ADMIN_EMAIL)
    admin_email = unique_email("distributor-admin")
    name = f"Nordic Distribution {admin_email[18:26]}"
    answer = await vendor.post("/api/v1/distributors", json={"name": name, "country": "SE", "admin_email": admin_email})
    assert answer.status_code == 201, answer.text
    distributor_id = answer.json()["id"]
    admin = await platform.accept_invite(admin_email)
    product_name = "Edge Gateway"
    answer = await vendor.post("/api/v1/products", json={
        "name": product_name, "license_type": "perpetual", "description": "Gateway appliance licence",
        "deployment_type": "on_premise"})
    assert answer.status_code == 201, answer.text
    product_id = answer.json()["id"]
    po_number = f"PO-{admin_email[18:26]}"
    issued = await eventually_ok(lambda: vendor.post("/api/v1/entitlements", json={
        "distributor_id": distributor_id, "sales_order": "SO-1001", "po_number": po_number,
        "order_date": "2026-11-01", "expiration_date": "2030-12-31",
        "lines": [{"product_id": product_id, "quantity": quantity}]}), 201)
    await vendor.aclose()
    return Distributor(distributor_id, name, admin_email, admin, product_id, product_name,
                       issued.json()["entitlement_id"], po_number)


async def invited(platform: Platform, admin: httpx.AsyncClient, role: str, who: str | None = None
                  ) -> tuple[str, str]:
    """Invites someone with `role` into the Admin's org; returns their email and the link's token."""
    email = unique_email(who or role.replace("_", "-"))
    answer = await admin.post("/api/v1/invites", json={"email": email, "role": role})
    assert answer.status_code == 201, answer.text
    return email, await platform.invite_token(email)


async def member_with_role(platform: Platform, admin: httpx.AsyncClient, role: str) -> str:
    """Invites a member with `role` into the Admin's org and accepts; returns their email."""
    email, _ = await invited(platform, admin, role)
    client = await platform.accept_invite(email)
    await client.aclose()
    return email


async def known_to_transfers(platform: Platform, org_id: str) -> None:
    """Waits until the transfers service's directory (fed by events) knows a new org and its
    representatives, as it must before it accepts a transfer to it."""
    factory = platform.apps["transfers"].state.session_factory

    async def known():
        async with factory() as session:
            return await session.scalar(sa.select(sa.func.count()).select_from(org_directory_representatives)
                                        .where(org_directory_representatives.c.org_id == uuid.UUID(org_id)))

    await eventually(known, timeout=20)
