"""Issue 20, item 10 and the info item on expiry: an entitlement's body is taken as JSON writes it
(a quantity `"2"` or `true` is refused, not coerced; an object naming a key twice is refused, since
parsers disagree on which one counts), and the vendor cannot issue an order that has already
expired. Each refusal is a 422 and issues nothing; the same order written properly is issued."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from shared.auth.permissions import Tier
from tests.security.cast import Cast, partner
from tests.system.platform import unique_email

pytestmark = [pytest.mark.system, pytest.mark.timeout(120)]


def order(cast: Cast, sales_order: str, **fields) -> dict:
    return {"distributor_id": cast.own.ids[("distributors", "org_id")], "sales_order": sales_order,
            "order_date": "2026-11-01", "lines": [{"product_id": cast.own.ids[("licenses", "product_id")],
                                                   "quantity": 3}], **fields}


async def issued_with(cast: Cast, sales_order: str) -> list[dict]:
    listed = await cast.vendor.http.get("/api/v1/entitlements", params={"sales_order": sales_order})
    return listed.json()["items"]


@pytest.mark.parametrize("quantity", ["2", True, False, "1e3"])
async def test_a_quantity_that_is_not_a_json_integer_is_refused(cast: Cast, quantity):
    sales_order = f"SO-strict-{abs(hash(repr(quantity)))}"
    body = order(cast, sales_order)
    body["lines"][0]["quantity"] = quantity
    refused = await cast.vendor.http.post("/api/v1/entitlements", json=body)
    assert refused.status_code == 422 and "quantity" in refused.json()["detail"], refused.text
    assert await issued_with(cast, sales_order) == []


async def test_a_body_naming_a_key_twice_is_refused(cast: Cast):
    sales_order = "SO-duplicate-key"
    # A checker reading the first `quantity` sees 1; a parser keeping the last would issue 90000.
    text = json.dumps(order(cast, sales_order)).replace('"quantity": 3', '"quantity": 1, "quantity": 90000')
    refused = await cast.vendor.http.post("/api/v1/entitlements", content=text,
                                          headers={"Content-Type": "application/json"})
    assert refused.status_code == 400 and "quantity" in refused.json()["detail"], refused.text
    assert await issued_with(cast, sales_order) == []
    issued = await cast.vendor.http.post("/api/v1/entitlements", json=order(cast, sales_order))
    assert issued.status_code == 201, issued.text
    assert issued.json()["lines"][0]["received"] == 3


async def test_a_representative_flag_must_be_a_json_boolean(cast: Cast):
    distributor = cast.own.admins[Tier.DISTRIBUTOR].http
    body = partner("Strict flags", unique_email("rep"))
    for flag in ("true", 1):
        body["representatives"][0]["is_default"] = flag
        refused = await distributor.post("/api/v1/integrators", json=body)
        assert refused.status_code == 422 and "is_default" in refused.json()["detail"], refused.text
    body["representatives"][0]["is_default"] = True
    assert (await distributor.post("/api/v1/integrators", json=body)).status_code == 201


async def test_the_vendor_cannot_issue_an_entitlement_that_has_already_expired(cast: Cast):
    today = datetime.now(UTC).date()
    sales_order = "SO-already-expired"
    refused = await cast.vendor.http.post("/api/v1/entitlements", json=order(
        cast, sales_order, order_date=str(today - timedelta(days=30)), expiration_date=str(today - timedelta(days=1))))
    assert refused.status_code == 422 and "expir" in refused.json()["detail"], refused.text
    assert await issued_with(cast, sales_order) == []
    last_day = await cast.vendor.http.post("/api/v1/entitlements", json=order(
        cast, sales_order, order_date=str(today - timedelta(days=30)), expiration_date=str(today)))
    assert last_day.status_code == 201 and last_day.json()["status"] == "active", last_day.text
