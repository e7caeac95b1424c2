"""Issue 21, Missing: the vendor's portal. The vendor's Admin creates a distributor (its first
Admin is invited), a product and an entitlement with its lines, all through the portal's forms;
a refused form shows the API's reason beside the field and keeps what was typed."""

import re

import pytest

from tests.portal.signed_in import post_form, sign_in
from tests.system.platform import ADMIN_EMAIL, unique_email

pytestmark = [pytest.mark.system, pytest.mark.timeout(180)]


def idempotency_key(page: str) -> str:
    return re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)


def option_value(page: str, label: str) -> str:
    return re.search(rf'<option value="([^"]+)"[^>]*>\s*{re.escape(label)}\s*</option>', page).group(1)


async def test_the_vendor_creates_a_distributor_a_product_and_an_entitlement(platform, portal):
    vendor = await platform.sign_in(ADMIN_EMAIL)
    await sign_in(portal, ADMIN_EMAIL)
    menu = (await portal.get("/dashboard")).text
    assert 'href="/distributors"' in menu and 'href="/products"' in menu and 'href="/entitlements/new"' in menu

    admin_email = unique_email("new-distributor")
    name = f"Baltic Distribution {admin_email[16:24]}"
    page = (await portal.get("/distributors")).text
    created = await post_form(portal, "/distributors", {"name": name, "admin_email": admin_email, "country": "lt",
                                                        "idempotency_key": idempotency_key(page)})
    assert created.status_code == 303, created.text
    listed = await portal.get("/distributors")
    assert name in listed.text and "invited as its Admin" in listed.text
    assert await platform.invite_token(admin_email), "its first Admin is invited"

    product = f"Core Router {admin_email[16:24]}"
    page = (await portal.get("/products")).text
    created = await post_form(portal, "/products", {"name": product, "license_type": "subscription",
                                                    "deployment_type": "cloud", "description": "Routing licence",
                                                    "idempotency_key": idempotency_key(page)})
    assert created.status_code == 303, created.text
    assert product in (await portal.get("/products")).text

    page = (await portal.get("/entitlements/new")).text
    distributor_id, product_id = option_value(page, name), option_value(page, product)
    form = [("distributor_id", distributor_id), ("sales_order", "SO-7001"), ("po_number", "PO-7001"),
            ("order_date", "2026-12-01"), ("expiration_date", "2031-12-31"), ("idempotency_key", idempotency_key(page)),
            ("product_id", product_id), ("quantity", "40"), ("product_id", ""), ("quantity", "")]
    issued = await post_form(portal, "/entitlements/new", form)
    assert issued.status_code == 303 and issued.headers["location"] == "/licenses/entitlements", issued.text
    entitlements = (await vendor.get("/api/v1/entitlements", params={"limit": 200})).json()["items"]
    ours = [e for e in entitlements if e.get("sales_order") == "SO-7001"]
    assert len(ours) == 1, entitlements
    detail = (await vendor.get(f"/api/v1/entitlements/{ours[0]['entitlement_id']}")).json()
    assert [(line["product_id"], line["received"]) for line in detail["lines"]] == [(product_id, 40)]


async def test_a_refused_vendor_form_marks_the_field_and_keeps_the_input(portal):
    await sign_in(portal, ADMIN_EMAIL)
    page = (await portal.get("/distributors")).text
    refused = await post_form(portal, "/distributors", {"name": "Half Made", "admin_email": "not-an-address",
                                                        "idempotency_key": idempotency_key(page)})
    assert refused.status_code == 422
    field = re.search(r'<input id="f-admin_email"[^>]*>', refused.text, re.S).group(0)
    assert 'aria-invalid="true"' in field and 'value="not-an-address"' in field
    assert 'value="Half Made"' in refused.text

    page = (await portal.get("/entitlements/new")).text
    refused = await post_form(portal, "/entitlements/new", [
        ("distributor_id", ""), ("sales_order", ""), ("order_date", ""), ("idempotency_key", idempotency_key(page)),
        ("product_id", ""), ("quantity", "")])
    assert refused.status_code == 422 and 'role="alert"' in refused.text
