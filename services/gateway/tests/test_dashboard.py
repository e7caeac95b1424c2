"""The dashboard asks each service with the caller's token and still answers when one is down."""

from fastapi import FastAPI

from gateway.domain.dashboard import parts_for, summarize
from shared.auth.permissions import Role, Tier
from shared.testing import serving


def test_each_tier_and_role_asks_only_for_what_it_may_see():
    names = lambda tier, role: [p.name for p in parts_for(tier, role)]  # noqa: E731
    assert names(Tier.DISTRIBUTOR, Role.ADMIN) == ["licenses", "integrators", "members", "transactions", "audit"]
    assert names(Tier.INTEGRATOR, Role.ADMIN) == ["licenses", "customers", "members", "transactions", "audit"]
    assert names(Tier.CUSTOMER, Role.ADMIN) == ["licenses", "members", "activations", "audit"]
    # Document 2: the customer's Viewer sees the recent audits, not the members.
    assert names(Tier.CUSTOMER, Role.VIEWER) == ["licenses", "activations", "audit"]
    assert names(Tier.DISTRIBUTOR, Role.VIEWER) == ["licenses", "integrators", "transactions"]


def test_an_end_customer_sees_received_activated_and_unactivated():
    licenses = {"items": [{"available": 6, "transferred": 0, "activated": 4}, {"available": 5, "activated": 0}]}
    assert summarize(Tier.CUSTOMER, {"licenses": licenses})["licenses"] == {
        "available": 15, "activated": 4, "unactivated": 11}


async def test_with_a_service_down_the_dashboard_answers_the_rest_and_names_what_is_missing(
    start_gateway, issue_token, stopped_upstream_url
):
    token = issue_token(tier="distributor", role="admin")
    async with start_gateway(audit_url=stopped_upstream_url) as gateway:
        answer = await gateway.get("/api/v1/dashboard", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["tier"] == "distributor"
    assert "licenses" in body and "recent_transactions" in body
    assert "recent_audit_events" not in body
    assert [(m["part"], m["service"]) for m in body["missing"]] == [("audit", "audit")]


async def test_the_dashboard_needs_a_token(gateway):
    assert (await gateway.get("/api/v1/dashboard")).status_code == 401


async def test_the_license_totals_count_every_product_not_only_the_first_page(start_gateway, issue_token):
    products = FastAPI()

    @products.get("/api/v1/licenses/products")
    async def page(limit: int, cursor: int = 0):
        items = [{"available": 1, "transferred": 2, "activated": 0} for _ in range(cursor, min(cursor + limit, 450))]
        return {"items": items, "next_cursor": str(cursor + limit) if cursor + limit < 450 else None}

    token = issue_token(tier="distributor", role="admin")
    async with serving(products) as url, start_gateway(entitlements_url=url) as gateway:
        answer = await gateway.get("/api/v1/dashboard", headers={"Authorization": f"Bearer {token}"})
    assert answer.json()["licenses"] == {"available": 450, "transferred": 900}
