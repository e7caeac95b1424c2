"""The price list, and the console's list of licences: filters, keyword search, sort, pages."""

from datetime import timedelta

import sqlalchemy as sa

from billing.handlers import today


async def test_a_plan_is_kept_in_minor_units_and_its_name_is_unique_per_org(console):
    plan = await console.plan("19.99", interval="months", interval_months=3, name="Quarterly")
    assert (plan["unit_price"], plan["unit_price_minor"], plan["interval"]) == ("19.99", 1999, "every 3 months")
    again = await console.billing.post("/api/v1/plans", headers=console.integrator, json={
        "name": "Quarterly", "interval": "monthly", "unit_price": "1", "currency": "EUR"})
    assert again.status_code == 409
    for bad in ({"unit_price": "1.999"}, {"interval": "months"}, {"currency": "euro"}):
        body = {"name": "Bad", "interval": "monthly", "unit_price": "1", "currency": "EUR", **bad}
        answer = await console.billing.post("/api/v1/plans", headers=console.integrator, json=body)
        assert answer.status_code == 422, (bad, answer.text)
    stranger = console.as_(console.orgs.distributor, "distributor")
    assert (await console.billing.get(f"/api/v1/plans/{plan['id']}", headers=stranger)).status_code == 404
    names = [p["name"] for p in (await console.billing.get("/api/v1/plans", headers=console.integrator)).json()["items"]]
    assert names == ["Quarterly"]


async def test_a_disabled_plan_sells_nothing(console):
    plan = await console.plan("5.00")
    changed = await console.billing.put(f"/api/v1/plans/{plan['id']}", headers=console.integrator, json={
        "name": plan["name"], "interval": "monthly", "unit_price": "5.00", "currency": "EUR", "enabled": False})
    assert changed.status_code == 200 and changed.json()["enabled"] is False
    refused = await console.create(await console.holding(5), 1, plan=changed.json())
    assert refused.status_code == 409


async def test_the_console_filters_by_customer_expiry_and_keyword_and_pages_with_a_cursor(console):
    holding = await console.holding(10)
    plan = await console.plan("10.00")
    lobby = await console.licence(holding, 1, plan=plan, name="Lobby screens", note="ground floor")
    soon = await console.licence(holding, 1, plan=plan, name="Kitchen menu boards",
                                 customer_org_id=str(console.orgs.customer))
    gone = await console.licence(holding, 1, plan=plan, name="Old terrace", auto_renew=False)
    async with console.billing_app.state.engine.begin() as conn:
        for licence, end in ((soon, today() + timedelta(days=10)), (gone, today() - timedelta(days=1))):
            await conn.execute(sa.text("UPDATE subscriptions SET period_end = :end WHERE id = :id"),
                               {"end": end, "id": licence["id"]})

    async def names(**params) -> list[str]:
        answer = await console.billing.get("/api/v1/subscriptions", headers=console.integrator,
                                           params={"sort": "name", **params})
        assert answer.status_code == 200, answer.text
        return [item["name"] for item in answer.json()["items"]]

    assert await names() == ["Kitchen menu boards", "Lobby screens", "Old terrace"]
    assert await names(expiring_soon="true") == ["Kitchen menu boards"]
    assert await names(expired="true") == ["Old terrace"]
    assert await names(expiring_soon="true", window_days=5) == []
    assert await names(customer_id=str(console.orgs.customer)) == ["Kitchen menu boards"]
    assert await names(q="GROUND") == ["Lobby screens"]  # the note, any case
    assert await names(q="Café") == ["Kitchen menu boards"]  # the customer's name
    statuses = {item["name"]: item["status"] for item in (await console.billing.get(
        "/api/v1/subscriptions", headers=console.integrator)).json()["items"]}
    assert statuses == {"Lobby screens": "active", "Kitchen menu boards": "expiring_soon", "Old terrace": "expired"}

    seen, cursor = [], None
    while True:
        page = (await console.billing.get("/api/v1/subscriptions", headers=console.integrator, params={
            "sort": "name", "order": "desc", "limit": 1, **({"cursor": cursor} if cursor else {})})).json()
        seen += [item["name"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ["Old terrace", "Lobby screens", "Kitchen menu boards"]
    assert lobby["id"] not in str((await console.billing.get(
        "/api/v1/subscriptions", headers=console.as_(console.orgs.distributor, "distributor"))).json())
