"""Issuing entitlements (vendor) and the entitlements tab and detail (every tier, scoped to what
the caller's org holds)."""

import re
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from entitlements.ledger import today


async def entitlement_count(app) -> tuple[int, int, int, int]:
    async with app.state.engine.connect() as conn:
        return tuple([
            (await conn.execute(sa.text(f"SELECT count(*) FROM {table}"))).scalar_one()
            for table in ("entitlements", "entitlement_lines", "holdings", "ledger_entries")
        ])


async def test_issuing_gives_the_distributor_every_line_in_one_transaction_with_the_event(app, api, licensing):
    camera, door = await licensing.product("Camera"), await licensing.product("Door", "subscription")
    issued = await licensing.issue([(camera, 10), (door, 3)], order_date="2026-05-04", po_number="PO-77")
    assert re.fullmatch(r"ENT-2026-\d{6}", issued["entitlement_id"])
    assert issued["status"] == "active" and issued["total_available"] == 13
    assert {(line["product_name"], line["received"], line["available"]) for line in issued["lines"]} == {
        ("Camera", 10, 13 - 3), ("Door", 3, 3)}

    detail = await api.get(f"/api/v1/entitlements/{issued['entitlement_id']}", headers=licensing.distributor)
    assert detail.status_code == 200
    mine = {line["product_name"]: line for line in detail.json()["lines"]}
    assert (mine["Camera"]["available"], mine["Camera"]["transferred"], mine["Camera"]["activated"]) == (10, 0, 0)
    assert detail.json()["po_number"] == "PO-77" and detail.json()["total_available"] == 13

    [event] = await licensing.events("entitlements.entitlement.issued", entitlement_id=issued["entitlement_id"])
    assert set(event["visible_to"]) == {str(licensing.orgs.vendor), str(licensing.orgs.distributor)}
    assert sorted((line["product_name"], line["quantity"]) for line in event["payload"]["lines"]) == [
        ("Camera", 10), ("Door", 3)]
    async with app.state.engine.connect() as conn:
        kinds = (await conn.execute(sa.text(
            "SELECT e.kind, e.quantity, e.org_id FROM ledger_entries e JOIN entitlement_lines l ON l.id = e.line_id"
            " WHERE l.entitlement_id = :id ORDER BY e.quantity"), {"id": issued["entitlement_id"]})).all()
    assert [(k.kind, k.quantity, k.org_id) for k in kinds] == [
        ("issue", 3, licensing.orgs.distributor), ("issue", 10, licensing.orgs.distributor)]
    await licensing.conserved()


async def test_entitlement_ids_are_sequential_per_order_year(licensing):
    camera = await licensing.product()
    first = (await licensing.issue([(camera, 1)], order_date="2025-12-31", expiration_date=None))["entitlement_id"]
    second = (await licensing.issue([(camera, 1)], order_date="2026-01-01"))["entitlement_id"]
    assert first.startswith("ENT-2025-") and second.startswith("ENT-2026-")
    assert int(second.rsplit("-", 1)[1]) > int(first.rsplit("-", 1)[1])


@pytest.mark.parametrize(("change", "status", "named"), [
    (lambda o, p: o | {"lines": []}, 422, "lines"),
    (lambda o, p: o | {"lines": [{"product_id": p["id"], "quantity": 0}]}, 422, "quantity"),
    (lambda o, p: o | {"lines": [{"product_id": p["id"], "quantity": 1_000_000_001}]}, 422, "quantity"),
    (lambda o, p: o | {"lines": [{"product_id": p["id"], "quantity": 1}] * 2}, 422, "more than once"),
    (lambda o, p: o | {"expiration_date": "2026-02-28"}, 422, "expiration_date must be on or after order_date"),
    (lambda o, p: o | {"sales_order": ""}, 422, "sales_order"),
    (lambda o, p: o | {"status": "expired"}, 422, "status"),
    (lambda o, p: o | {"lines": [{"product_id": str(uuid.UUID(int=7)), "quantity": 1}]}, 422,
     str(uuid.UUID(int=7))),
    (lambda o, p: o | {"distributor_id": str(uuid.uuid4())}, 404, "No active distributor"),
])
async def test_bad_orders_are_refused_with_a_reason_and_write_nothing(app, api, licensing, change, status, named):
    camera = await licensing.product()
    before = await entitlement_count(app)
    response = await api.post("/api/v1/entitlements", headers=licensing.vendor,
                              json=change(licensing.order([(camera, 5)]), camera))
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert named in response.json()["detail"]
    assert await entitlement_count(app) == before


async def test_only_an_active_distributor_of_the_vendor_can_receive_an_entitlement(app, api, licensing):
    camera = await licensing.product()
    archived = await licensing.add_org("distributor", licensing.orgs.vendor, status="archived")
    for org in (archived, licensing.orgs.integrator, licensing.orgs.customer):
        response = await api.post("/api/v1/entitlements", headers=licensing.vendor,
                                  json=licensing.order([(camera, 1)], distributor_id=str(org)))
        assert response.status_code == 404, response.text


@pytest.mark.parametrize(("tier", "role"), [("vendor", "viewer"), ("distributor", "admin"), ("customer", "admin")])
async def test_only_the_vendors_admin_issues(app, api, licensing, as_, tier, role):
    camera = await licensing.product()
    before = await entitlement_count(app)
    response = await api.post("/api/v1/entitlements", headers=as_(licensing.orgs.vendor, tier, role),
                              json=licensing.order([(camera, 1)]))
    assert response.status_code == 403
    assert await entitlement_count(app) == before


async def test_an_idempotency_key_issues_once(app, api, licensing):
    camera = await licensing.product()
    headers = {**licensing.vendor, "Idempotency-Key": "order-42"}
    body = licensing.order([(camera, 4)])
    before = await entitlement_count(app)
    first = await api.post("/api/v1/entitlements", headers=headers, json=body)
    again = await api.post("/api/v1/entitlements", headers=headers, json=body)
    assert first.status_code == again.status_code == 201
    assert again.json()["entitlement_id"] == first.json()["entitlement_id"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert (await entitlement_count(app))[0] == before[0] + 1
    assert len(await licensing.events("entitlements.entitlement.issued",
                                      entitlement_id=first.json()["entitlement_id"])) == 1
    await licensing.conserved()


async def test_each_org_sees_only_the_entitlements_it_holds_part_of(pages, app, api, licensing, as_):
    camera = await licensing.product()
    issued = (await licensing.issue([(camera, 10)]))["entitlement_id"]
    other_distributor = await licensing.add_org("distributor", licensing.orgs.vendor)
    stranger = as_(other_distributor, "distributor")
    assert (await api.get(f"/api/v1/entitlements/{issued}", headers=stranger)).status_code == 404
    assert (await api.get(f"/api/v1/entitlements/{issued}", headers=licensing.integrator)).status_code == 404
    assert issued not in [e["entitlement_id"] for e in await pages("/api/v1/entitlements", stranger)]
    assert issued not in [e["entitlement_id"] for e in await pages("/api/v1/entitlements",
                                                                          licensing.integrator)]
    assert (await api.get("/api/v1/entitlements/ENT-0000-000000", headers=licensing.vendor)).status_code == 404

    await licensing.transfer(issued, camera, licensing.orgs.distributor, licensing.orgs.integrator, 4)
    [mine] = [e for e in await pages("/api/v1/entitlements", licensing.integrator)
              if e["entitlement_id"] == issued]
    assert mine["total_available"] == 4 and mine["products"][0]["name"] == camera["name"]
    [theirs] = [e for e in await pages("/api/v1/entitlements", licensing.distributor)
                if e["entitlement_id"] == issued]
    assert theirs["total_available"] == 6
    line = (await api.get(f"/api/v1/entitlements/{issued}", headers=licensing.distributor)).json()["lines"][0]
    assert (line["received"], line["available"], line["transferred"]) == (10, 6, 4)
    # The vendor sees everything it issued: nothing activated yet, so all 10 are still available somewhere.
    vendor_view = (await api.get(f"/api/v1/entitlements/{issued}", headers=licensing.vendor)).json()
    assert vendor_view["total_available"] == 10
    await licensing.conserved()


async def test_an_entitlement_past_its_date_shows_expired_before_the_sweeper_runs(pages, api, licensing):
    camera = await licensing.product()
    yesterday = today() - timedelta(days=1)
    issued = await licensing.issued_in_the_past([(camera, 1)], order_date=str(yesterday - timedelta(days=30)),
                                                expired_on=yesterday)
    detail = await api.get(f"/api/v1/entitlements/{issued['entitlement_id']}", headers=licensing.vendor)
    assert detail.json()["status"] == "expired"
    listed = await pages("/api/v1/entitlements", licensing.distributor, status="expired")
    assert issued["entitlement_id"] in [e["entitlement_id"] for e in listed]


async def test_the_entitlements_tab_filters_searches_sorts_and_pages(pages, api, licensing):
    camera, door = await licensing.product("Camera"), await licensing.product("Door lock")
    made = [
        await licensing.issue([(camera, 1)], sales_order="SO-A1", po_number="PO-Z", order_date="2026-01-10",
                              expiration_date="2099-01-01"),
        await licensing.issue([(door, 5)], sales_order="SO-B2", po_number="PO-Y", order_date="2026-02-10",
                              expiration_date="2098-01-01"),
        await licensing.issue([(camera, 2), (door, 2)], sales_order="SO-C3", po_number=None,
                              order_date="2026-03-10", expiration_date=None),
    ]
    ids = [m["entitlement_id"] for m in made]

    async def listed(**params) -> list[str]:
        return [e["entitlement_id"] for e in await pages("/api/v1/entitlements", licensing.distributor, **params)]

    assert await listed() == ids[::-1]  # newest order first
    assert await listed(order_date_from="2026-02-01", order_date_to="2026-03-01") == [ids[1]]
    assert await listed(expiration_date_to="2098-06-01") == [ids[1]]
    assert await listed(sales_order="SO-C3") == [ids[2]]
    assert await listed(po_number="PO-Z") == [ids[0]]
    assert await listed(entitlement_id=ids[1]) == [ids[1]]
    assert await listed(search="so-b", search_field="sales_order") == [ids[1]]
    assert await listed(search="lock", search_field="product") == [ids[2], ids[1]]
    assert await listed(search="lock", search_field="po_number") == []
    assert await listed(search=ids[0][-6:]) == [ids[0]]
    assert await listed(sort="total_available", order="asc") == [ids[0], ids[2], ids[1]]
    assert await listed(sort="expiration_date", order="asc") == [ids[1], ids[0], ids[2]]
    assert await listed(sort="po_number", order="desc") == [ids[0], ids[1], ids[2]]
    for sort in ("entitlement_id", "sales_order", "status", "product", "description", "order_date",
                 "expiration_date", "po_number", "total_available"):
        for order in ("asc", "desc"):
            assert sorted(await listed(sort=sort, order=order, limit=1)) == sorted(ids)
    [combined] = [e for e in await pages("/api/v1/entitlements", licensing.distributor)
                  if e["entitlement_id"] == ids[2]]
    assert [p["name"] for p in combined["products"]] == ["Camera", "Door lock"]
    assert combined["total_available"] == 4 and combined["po_number"] is None
    mismatched = await api.get("/api/v1/entitlements", headers=licensing.distributor,
                               params={"sort": "po_number", "cursor": (await api.get(
                                   "/api/v1/entitlements", headers=licensing.distributor,
                                   params={"limit": 1})).json()["next_cursor"]})
    assert mismatched.status_code == 400
