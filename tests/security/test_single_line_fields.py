"""Issue 20, item 12: names and other single-line fields refuse control characters (CR, LF, VT,
C1 controls, Unicode line separators) with a 422 that names the field, and nothing is created: a
name with a CR LF could add a header to a mail or a row to a CSV export. A note or an address may
still have several lines, and names with any printable character are taken."""

import pytest

from shared.auth.permissions import Tier
from tests.security.cast import Cast, partner
from tests.system.platform import unique_email

pytestmark = [pytest.mark.system, pytest.mark.timeout(120)]

INJECTIONS = ["Acme\r\nBcc: victim@example.com", "Acme\nSecond line", "Acme\x0bTab", "Acme\x85Next", "Acme\u2028Line"]


@pytest.mark.parametrize("name", INJECTIONS)
async def test_partner_and_representative_names_refuse_control_characters(cast: Cast, name):
    distributor = cast.own.admins[Tier.DISTRIBUTOR].http
    body = partner(name, unique_email("rep"))
    refused = await distributor.post("/api/v1/integrators", json=body)
    assert refused.status_code == 422 and "name" in refused.json()["detail"], refused.text
    representative = partner("Clean name", unique_email("rep"))
    representative["representatives"][0]["last_name"] = name
    refused = await distributor.post("/api/v1/integrators", json=representative)
    assert refused.status_code == 422 and "last_name" in refused.json()["detail"], refused.text
    listed = (await distributor.get("/api/v1/integrators", params={"limit": 200})).json()["items"]
    assert name not in [i["name"] for i in listed]


async def test_products_entitlements_and_activations_refuse_control_characters(cast: Cast):
    vendor = cast.vendor.http
    product = await vendor.post("/api/v1/products", json={"name": "Edge\r\nX-Injected: 1", "license_type": "trial"})
    assert product.status_code == 422 and "name" in product.json()["detail"]
    order = {"distributor_id": cast.own.ids[("distributors", "org_id")], "order_date": "2026-11-01",
             "lines": [{"product_id": cast.own.ids[("licenses", "product_id")], "quantity": 1}]}
    for field in ("sales_order", "po_number"):
        refused = await vendor.post("/api/v1/entitlements", json={**order, "sales_order": "SO-1", field: "SO\n2"})
        assert refused.status_code == 422 and field in refused.json()["detail"], refused.text
    customer = cast.own.admins[Tier.CUSTOMER].http
    refused = await customer.post("/api/v1/activations", json={
        "entitlement_id": cast.own.ids[("entitlements", "entitlement_id")],
        "product_id": cast.own.ids[("licenses", "product_id")], "quantity": 1, "project_name": "Lobby\r\nInjected"})
    assert refused.status_code == 422 and "project_name" in refused.json()["detail"]


async def test_multi_line_notes_and_printable_names_are_still_taken(cast: Cast):
    distributor = cast.own.admins[Tier.DISTRIBUTOR].http
    body = {**partner("Müller & Søn — Überwachung™", unique_email("rep")),
            "note": "First line\nSecond line", "address": "Street 1\r\n12345 Town"}
    created = await distributor.post("/api/v1/integrators", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["note"] == "First line\nSecond line"
