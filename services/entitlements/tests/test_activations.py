"""Activations by end customers: one transaction with the ledger, refused when over what is held,
expired or not held at all; the activations log, its filters and its CSV export."""

import asyncio
import csv
import io
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from entitlements.ledger import today


async def activation_count(app) -> int:
    async with app.state.engine.connect() as conn:
        return (await conn.execute(sa.text("SELECT count(*) FROM activations"))).scalar_one()


async def test_a_customer_activates_part_of_its_licenses(api, licensing, held):
    entitlement_id, camera = held
    response = await licensing.activate(entitlement_id, camera, 3, project_name="Lobby", serial_number="SN-9")
    assert response.status_code == 201, response.text
    activation = response.json()
    assert (activation["quantity"], activation["product_name"], activation["serial_number"]) == (3, "Camera", "SN-9")
    assert activation["activated_by_name"] == "ada@customer.example"
    line = await licensing.customer_line(entitlement_id)
    assert (line["received"], line["available"], line["activated"]) == (5, 2, 3)

    [event] = await licensing.events("entitlements.activation.created", activation_id=activation["id"])
    assert event["visible_to"] == [str(licensing.orgs.customer)] and event["payload"]["quantity"] == 3
    [product] = (await api.get("/api/v1/licenses/products", headers=licensing.customer)).json()["items"]
    assert (product["available"], product["activated"]) == (2, 3)
    await licensing.conserved()


async def test_activating_more_than_is_unactivated_is_refused_and_changes_nothing(app, api, licensing, held):
    entitlement_id, camera = held
    assert (await licensing.activate(entitlement_id, camera, 3)).status_code == 201
    before = await activation_count(app)
    response = await licensing.activate(entitlement_id, camera, 3)
    assert response.status_code == 409
    assert "Only 2 unactivated" in response.json()["detail"]
    assert await activation_count(app) == before
    assert (await licensing.customer_line(entitlement_id))["available"] == 2
    await licensing.conserved()


async def test_concurrent_activations_never_overdraw_the_holding(app, api, licensing, held):
    entitlement_id, camera = held
    answers = await asyncio.gather(*(licensing.activate(entitlement_id, camera, 1, serial_number=f"SN-{i}")
                                     for i in range(12)))
    assert sorted(a.status_code for a in answers) == [201] * 5 + [409] * 7
    assert (await licensing.customer_line(entitlement_id))["available"] == 0
    await licensing.conserved()


async def test_licenses_the_customer_does_not_hold_are_not_found(app, api, licensing, held):
    entitlement_id, camera = held
    other_customer = await licensing.add_org("customer", licensing.orgs.integrator)
    stranger = licensing.as_(other_customer, "customer")
    before = await activation_count(app)
    assert (await licensing.activate(entitlement_id, camera, 1, headers=stranger)).status_code == 404
    assert (await licensing.activate("ENT-2026-999999", camera, 1)).status_code == 404
    door = await licensing.product("Door")
    assert (await licensing.activate(entitlement_id, door, 1)).status_code == 404
    assert await activation_count(app) == before
    assert (await api.get(f"/api/v1/entitlements/{entitlement_id}", headers=stranger)).status_code == 404
    assert (await api.get("/api/v1/activations", headers=stranger)).json()["items"] == []
    await licensing.conserved()


@pytest.mark.parametrize(("tier", "role"), [("customer", "viewer"), ("integrator", "admin"), ("distributor", "admin")])
async def test_only_a_customers_admin_activates(app, licensing, held, tier, role):
    entitlement_id, camera = held
    org = {"customer": licensing.orgs.customer, "integrator": licensing.orgs.integrator,
           "distributor": licensing.orgs.distributor}[tier]
    before = await activation_count(app)
    response = await licensing.activate(entitlement_id, camera, 1, headers=licensing.as_(org, tier, role))
    assert response.status_code == 403
    assert await activation_count(app) == before


async def test_an_expired_entitlement_cannot_be_activated_even_before_the_sweeper_marks_it(app, api, licensing):
    camera = await licensing.product()
    valid_until = today() + timedelta(days=10)
    entitlement_id = (await licensing.issue([(camera, 4)], order_date=str(today() - timedelta(days=30)),
                                            expiration_date=str(valid_until)))["entitlement_id"]
    await licensing.down_to_customer(entitlement_id, camera, 4)
    async with app.state.engine.begin() as conn:  # time passes: the date is now behind us, status untouched
        await conn.execute(sa.text("UPDATE entitlements SET expiration_date = :d WHERE id = :id"),
                           {"d": today() - timedelta(days=1), "id": entitlement_id})
    response = await licensing.activate(entitlement_id, camera, 1)
    assert response.status_code == 409 and "expired" in response.json()["detail"]
    async with app.state.engine.begin() as conn:
        await conn.execute(sa.text("UPDATE entitlements SET expiration_date = :d, status = 'suspended' WHERE id = :id"),
                           {"d": valid_until, "id": entitlement_id})
    response = await licensing.activate(entitlement_id, camera, 1)
    assert response.status_code == 409 and "suspended" in response.json()["detail"]
    assert (await licensing.customer_line(entitlement_id))["available"] == 4
    await licensing.conserved()


async def test_an_idempotency_key_activates_once(app, api, licensing, held):
    entitlement_id, camera = held
    headers = {**licensing.customer, "Idempotency-Key": "activate-lobby"}
    body = {"entitlement_id": entitlement_id, "product_id": camera["id"], "quantity": 2, "project_name": "Lobby"}
    first = await api.post("/api/v1/activations", headers=headers, json=body)
    again = await api.post("/api/v1/activations", headers=headers, json=body)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"] and again.headers["Idempotent-Replayed"] == "true"
    assert (await licensing.customer_line(entitlement_id))["available"] == 3
    # The same key from another user of the org is another request.
    colleague = {**licensing.as_(licensing.orgs.customer, "customer"), "Idempotency-Key": "activate-lobby"}
    third = await api.post("/api/v1/activations", headers=colleague, json=body)
    assert third.status_code == 201 and third.json()["id"] != first.json()["id"]
    await licensing.conserved()


async def test_the_same_key_sent_concurrently_activates_once(api, licensing, held):
    entitlement_id, camera = held
    headers = {**licensing.customer, "Idempotency-Key": f"retry-{uuid.uuid4()}"}
    body = {"entitlement_id": entitlement_id, "product_id": camera["id"], "quantity": 2, "project_name": "Lobby"}
    answers = await asyncio.gather(*(api.post("/api/v1/activations", headers=headers, json=body) for _ in range(6)))
    assert [a.status_code for a in answers] == [201] * 6
    assert len({a.json()["id"] for a in answers}) == 1
    assert (await licensing.customer_line(entitlement_id))["available"] == 3
    await licensing.conserved()


@pytest.mark.parametrize("body", [
    {"quantity": 0}, {"quantity": -1}, {"project_name": ""}, {"org_id": str(uuid.uuid4())}, {"status": "revoked"},
])
async def test_bad_activations_are_422(app, api, licensing, held, body):
    entitlement_id, camera = held
    before = await activation_count(app)
    valid = {"entitlement_id": entitlement_id, "product_id": camera["id"], "quantity": 1, "project_name": "Lobby"}
    response = await api.post("/api/v1/activations", headers=licensing.customer, json=valid | body)
    assert response.status_code == 422, response.text
    assert await activation_count(app) == before


async def test_the_activations_log_filters_searches_sorts_and_pages(api, pages, licensing, held):
    entitlement_id, camera = held
    door = await licensing.product("Door")
    door_entitlement = (await licensing.issue([(door, 3)]))["entitlement_id"]
    await licensing.down_to_customer(door_entitlement, door, 3)
    for project, manager, serial in (("Lobby", "Grace", "SN-A"), ("Garage", "Alan", "SN-B"),
                                     ("Roof", None, "XK-7")):
        assert (await licensing.activate(entitlement_id, camera, 1, project_name=project, project_manager=manager,
                                         serial_number=serial)).status_code == 201
    assert (await licensing.activate(door_entitlement, door, 2, project_name="Gate")).status_code == 201

    async def projects(**params) -> list[str]:
        return [a["project_name"] for a in await pages("/api/v1/activations", licensing.customer, **params)]

    assert await projects() == ["Gate", "Roof", "Garage", "Lobby"]  # newest first
    assert await projects(product_id=door["id"]) == ["Gate"]
    assert await projects(search="xk-") == ["Roof"]
    assert await projects(search="alan") == ["Garage"]
    assert await projects(sort="project_name", order="asc", limit=1) == ["Garage", "Gate", "Lobby", "Roof"]
    assert (await projects(sort="quantity", order="desc"))[:1] == ["Gate"]
    assert await projects(date_from=str(today()), date_to=str(today())) == ["Gate", "Roof", "Garage", "Lobby"]
    assert await projects(date_to=str(today() - timedelta(days=1))) == []
    for sort in ("created_at", "product_name", "project_name", "project_manager", "activated_by", "quantity",
                 "entitlement_id", "serial_number"):
        assert len(await projects(sort=sort, limit=3)) == 4
    viewer = licensing.as_(licensing.orgs.customer, "customer", "viewer")
    [first] = (await api.get("/api/v1/activations", headers=viewer, params={"limit": 1})).json()["items"]
    assert first["entitlement_id"] == door_entitlement and first["serial_number"] == "SN-1"
    await licensing.conserved()


async def test_the_export_is_admin_only_and_neutralizes_formulas(api, licensing, held):
    entitlement_id, camera = held
    assert (await licensing.activate(entitlement_id, camera, 1, project_name='=HYPERLINK("http://evil","x")',
                                     project_manager="+1 555", serial_number="@SUM(A1)")).status_code == 201
    viewer = licensing.as_(licensing.orgs.customer, "customer", "viewer")
    assert (await api.get("/api/v1/activations/export.csv", headers=viewer)).status_code == 403
    response = await api.get("/api/v1/activations/export.csv", headers=licensing.customer)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["Activation Date", "Product Name", "Project Name"]
    [row] = rows[1:]
    assert row[2] == "'=HYPERLINK(\"http://evil\",\"x\")" and row[3] == "'+1 555" and row[7] == "'@SUM(A1)"
    assert row[4] == "ada@customer.example" and row[6] == entitlement_id
