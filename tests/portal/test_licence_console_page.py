"""The licence console over plain HTTP: a distributor's account manager adds a plan and a licence
(its claim code shown once), the customer's Admin adds the licence with the code, the manager sends
its invoice after a confirmation showing the total, and the customer downloads the PDF."""

import re

import pytest

from shared.testing import eventually
from tests.portal.signed_in import post_form, sign_in
from tests.system.platform import unique_email

pytestmark = [pytest.mark.system, pytest.mark.timeout(120)]


async def test_a_licence_goes_from_the_console_to_the_customer_and_is_invoiced(portal, platform, distributor):
    customer_email = unique_email("console-customer")
    answer = await distributor.admin.post("/api/v1/customers", json={
        "name": "Café Console", "country": "SE", "representatives": [{"email": customer_email, "first_name": "Eva"}]})
    assert answer.status_code == 201, answer.text
    customer = await platform.accept_invite(customer_email)
    await sign_in(portal, distributor.admin_email)

    added = await post_form(portal, "/plans", {"name": "Screens monthly", "interval": "monthly", "unit_price": "12.50",
                                               "currency": "EUR"})
    assert added.status_code == 303
    plans = await portal.get("/plans")
    assert "Screens monthly" in plans.text and "12.50 EUR" in plans.text
    plan_id = (await distributor.admin.get("/api/v1/plans")).json()["items"][0]["id"]

    form = await portal.get("/licences/new")
    assert form.status_code == 200 and "Screens monthly" in form.text
    created = await post_form(portal, "/licences/new", {
        "plan_id": plan_id, "name": "Lobby screens", "quantity": "3",
        "line": f"{distributor.entitlement_id}|{distributor.product_id}", "idempotency_key": "console-1"})
    assert created.status_code == 303, created.text
    console = await portal.get("/licences")
    code = re.search(r"claim code is ([0-9A-Z]{4}-[0-9A-Z]{4})", console.text).group(1)
    assert "Lobby screens" in console.text

    async def reserved():
        items = (await distributor.admin.get("/api/v1/subscriptions")).json()["items"]
        return items if items and items[0]["reservation"] == "reserved" else None
    (licence,) = await eventually(reserved, timeout=20)

    customer_portal = type(portal)(base_url=portal.base_url, timeout=30)
    async with customer_portal:
        await sign_in(customer_portal, customer_email)

        async def redeemed():
            await post_form(customer_portal, "/licences/redeem", {"code": code.lower()})
            page = await customer_portal.get("/licences")
            return "Lobby screens" in page.text and "Not added" not in page.text
        await eventually(redeemed, timeout=20, interval=0.5)  # once billing knows the new customer

        confirm = await post_form(portal, "/licences/invoices", {"subscription_id": licence["id"]})
        assert confirm.status_code == 200 and "37.50 EUR" in confirm.text
        key = re.search(r'name="idempotency_key" value="([^"]+)"', confirm.text).group(1)
        sent = await post_form(portal, "/licences/invoices", [("confirmed", "yes"), ("idempotency_key", key),
                                                              ("subscription_id", licence["id"])])
        assert sent.status_code == 303
        invoices = await portal.get("/invoices")
        assert "Invoices sent: INV-000001" in invoices.text

        invoice_id = (await customer.get("/api/v1/invoices")).json()["items"][0]["id"]
        pdf = await customer_portal.get(f"/invoices/{invoice_id}.pdf")
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF")
    await customer.aclose()
