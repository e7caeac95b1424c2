"""Subscription licences through the ledger: creation reserves out of the holding, redemption
makes it the customer's activation, deletion while unused gives it back; concurrency."""

import asyncio

import pytest
import sqlalchemy as sa

from shared.testing import eventually


async def test_a_licence_of_5_from_a_holding_of_20_leaves_15_and_the_customer_holds_5_once_redeemed(console):
    holding = await console.holding(20)
    created = await console.licence(holding, 5)
    assert created["claim_code"] and len(created["claim_code"]) == 9 and created["claim_code"][4] == "-"
    assert await console.available(console.orgs.integrator, holding[0]) == 15
    await console.conserved()

    redeemed = await console.redeem(created["claim_code"].lower())
    assert redeemed.status_code == 200, redeemed.text
    assert redeemed.json()["customer_org_id"] == str(console.orgs.customer)

    async def customer_holds():
        return await console.activated(console.orgs.customer, holding[0]) == 5
    await eventually(customer_holds)
    assert await console.available(console.orgs.integrator, holding[0]) == 15
    await console.conserved()

    async def activated_in_billing():
        detail = await console.billing.get(f"/api/v1/subscriptions/{created['id']}", headers=console.integrator)
        return detail.json()["activated_at"]
    await eventually(activated_in_billing)
    mine = (await console.billing.get("/api/v1/subscriptions", headers=console.customer)).json()["items"]
    assert [licence["id"] for licence in mine] == [created["id"]]


async def test_the_sellers_products_tab_and_ledger_follow_the_licence_and_its_customer_cannot_deactivate_it(console):
    """Over the broker: the seller sees what it reserved, then what it sold as passed on; the
    customer's activation of the licence stays until the seller, who bills it, ends it."""
    holding = await console.holding(20)
    created = await console.licence(holding, 5)

    async def products_tab(headers) -> dict:
        answer = await console.entitlements.get("/api/v1/licenses/products", headers=headers)
        [product] = [p for p in answer.json()["items"] if p["product_id"] == holding[1]]
        return {figure: product[figure] for figure in ("available", "transferred", "activated", "reserved")}

    assert await products_tab(console.integrator) == {"available": 15, "transferred": 0, "activated": 0, "reserved": 5}
    ledger = await console.entitlements.get("/api/v1/licenses/ledger", headers=console.integrator, params={
        "entitlement_id": holding[0], "product_id": holding[1], "kind": "reservation"})
    assert [(e["quantity"], e["subscription_id"]) for e in ledger.json()["items"]] == [(-5, created["id"])]

    assert (await console.redeem(created["claim_code"])).status_code == 200

    async def sold():
        return await products_tab(console.integrator) == {"available": 15, "transferred": 5, "activated": 0,
                                                          "reserved": 0}
    await eventually(sold)
    assert await products_tab(console.customer) == {"available": 0, "transferred": 0, "activated": 5, "reserved": 0}

    [activation] = (await console.entitlements.get("/api/v1/activations", headers=console.customer)).json()["items"]
    refused = await console.entitlements.post(f"/api/v1/activations/{activation['id']}/deactivate",
                                              headers=console.customer)
    assert refused.status_code == 409 and "Ask Integrator One" in refused.json()["detail"]
    assert await console.activated(console.orgs.customer, holding[0]) == 5
    await console.conserved()


async def test_the_same_code_again_a_wrong_code_and_an_expired_code_get_the_same_refusal(console):
    holding = await console.holding(20)
    used = await console.licence(holding, 2)
    assert (await console.redeem(used["claim_code"])).status_code == 200
    expiring = await console.licence(holding, 2)
    async with console.billing_app.state.engine.begin() as conn:
        await conn.execute(sa.text("UPDATE claim_codes SET expires_at = now() - interval '1 second'"
                                   " WHERE subscription_id = :id"), {"id": expiring["id"]})
    answers = [await console.redeem(code) for code in (used["claim_code"], "ZZZZ-ZZZZ", expiring["claim_code"])]
    assert {answer.status_code for answer in answers} == {404}
    assert len({answer.json()["detail"] for answer in answers}) == 1
    assert await console.available(console.orgs.integrator, holding[0]) == 16
    await console.conserved()


async def test_guessing_is_throttled_and_every_attempt_is_audited(console):
    for _ in range(5):  # the tests' limit per org
        assert (await console.redeem("AAAA-BBBB")).status_code == 404
    throttled = await console.redeem("AAAA-CCCC")
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) > 0
    async with console.billing_app.state.engine.connect() as conn:
        outcomes = (await conn.execute(sa.text(
            "SELECT body -> 'payload' ->> 'outcome' FROM outbox WHERE routing_key = 'billing.claim.redemption_attempted'"
            " AND body -> 'payload' ->> 'org_id' = :org ORDER BY id"), {"org": str(console.orgs.customer)})).scalars().all()
    assert outcomes == ["refused"] * 5 + ["throttled"]


async def test_a_licence_assigned_at_creation_becomes_the_customers_at_once(console):
    holding = await console.holding(10)
    created = await console.licence(holding, 4, customer_org_id=str(console.orgs.customer))
    assert created["claim_code"] is None

    async def customer_holds():
        return await console.activated(console.orgs.customer, holding[0]) == 4
    await eventually(customer_holds)
    assert await console.available(console.orgs.integrator, holding[0]) == 6
    await console.conserved()


async def test_delete_gives_the_quantity_back_while_unused_and_is_refused_once_used(console):
    holding = await console.holding(10)
    unused = await console.licence(holding, 3)
    used = await console.licence(holding, 2)
    assert await console.available(console.orgs.integrator, holding[0]) == 5
    assert (await console.redeem(used["claim_code"])).status_code == 200

    assert (await console.billing.delete(f"/api/v1/subscriptions/{unused['id']}",
                                         headers=console.integrator)).status_code == 204

    async def given_back():
        return await console.available(console.orgs.integrator, holding[0]) == 8
    await eventually(given_back)
    refused = await console.billing.delete(f"/api/v1/subscriptions/{used['id']}", headers=console.integrator)
    assert refused.status_code == 409
    assert (await console.billing.get(f"/api/v1/subscriptions/{unused['id']}",
                                      headers=console.integrator)).status_code == 404
    assert (await console.redeem(unused["claim_code"])).status_code == 404
    await console.conserved()


async def test_more_than_the_holding_is_rejected_with_the_reason(console):
    holding = await console.holding(3)
    response = await console.create(holding, 4)
    assert response.status_code == 202
    rejected = await console.settled(response.json()["id"], reservation="rejected")
    assert "Only 3 available" in rejected["reservation_reason"]
    assert await console.available(console.orgs.integrator, holding[0]) == 3


async def test_20_concurrent_creations_against_a_holding_that_fits_14_reserve_exactly_14(console):
    holding = await console.holding(14 * 3)
    plan = await console.plan()
    answers = await asyncio.gather(*(console.create(holding, 3, plan=plan, name=f"Screen set {n}") for n in range(20)))
    assert {answer.status_code for answer in answers} == {202}
    settled = [await _settled_any(console, answer.json()["id"]) for answer in answers]
    assert sorted(s["reservation"] for s in settled).count("reserved") == 14
    assert await console.available(console.orgs.integrator, holding[0]) == 0
    await console.conserved()


async def _settled_any(console, subscription_id: str) -> dict:
    async def done():
        answer = (await console.billing.get(f"/api/v1/subscriptions/{subscription_id}",
                                            headers=console.integrator)).json()
        return answer if answer["reservation"] != "pending" else None
    return await eventually(done)


@pytest.mark.parametrize("tier, role, status", [("customer", "admin", 403), ("integrator", "viewer", 403),
                                                 ("integrator", "technician", 403)])
async def test_only_a_resellers_account_managers_create_licences(console, tier, role, status):
    response = await console.billing.post("/api/v1/subscriptions", headers=console.as_(console.orgs.integrator, tier, role),
                                          json={})
    assert response.status_code == status


async def test_another_orgs_licence_is_not_found(console):
    holding = await console.holding(5)
    created = await console.licence(holding, 1)
    stranger = console.as_(console.orgs.distributor, "distributor")
    for method, path in (("GET", ""), ("POST", "/pause"), ("POST", "/resume"), ("DELETE", "")):
        response = await console.billing.request(method, f"/api/v1/subscriptions/{created['id']}{path}",
                                                 headers=stranger)
        assert response.status_code == 404, (method, path)


async def test_attempts_are_counted_per_client_address_as_the_gateway_forwards_it(console):
    forwarded = "203.0.113.7"
    answer = await console.billing.post("/api/v1/claims/redeem", json={"code": "QQQQ-QQQQ"},
                                        headers={**console.customer, "X-Forwarded-For": forwarded})
    assert answer.status_code == 404
    async with console.billing_app.state.engine.connect() as conn:
        addresses = (await conn.execute(sa.text("SELECT client_address FROM redemption_attempts WHERE org_id = :org"),
                                        {"org": console.orgs.customer})).scalars().all()
    assert addresses == [forwarded]
