"""The product catalog: the vendor's Admin creates, everyone signed in reads."""

import uuid

import pytest
import sqlalchemy as sa


async def product_count(app) -> int:
    async with app.state.engine.connect() as conn:
        return (await conn.execute(sa.text("SELECT count(*) FROM products"))).scalar_one()


async def test_the_vendor_creates_a_product_everyone_sees_it_and_the_event_is_recorded(licensing, api, as_):
    created = await licensing.product("Door Controller", "subscription", description="Opens doors",
                                      deployment_type="cloud")
    assert (created["name"], created["license_type"], created["deployment_type"]) == (
        "Door Controller", "subscription", "cloud")
    for headers in (licensing.distributor, licensing.customer, as_(uuid.uuid4(), "integrator", "viewer")):
        listed = await api.get("/api/v1/products", params={"search": "door controller", "limit": 200},
                               headers=headers)
        assert listed.status_code == 200
        assert created["id"] in [p["id"] for p in listed.json()["items"]]
    [event] = await licensing.events("entitlements.product.created", product_id=created["id"])
    assert event["payload"]["license_type"] == "subscription"
    assert event["visible_to"] == [str(licensing.orgs.vendor)]


@pytest.mark.parametrize(("tier", "role"), [("vendor", "viewer"), ("vendor", "project_manager"),
                                            ("distributor", "admin"), ("customer", "admin")])
async def test_only_the_vendors_admin_creates_products(app, api, as_, orgs, tier, role):
    before = await product_count(app)
    response = await api.post("/api/v1/products", headers=as_(orgs.vendor if tier == "vendor" else orgs.distributor,
                                                              tier, role),
                              json={"name": "Sneaky", "license_type": "trial"})
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert await product_count(app) == before


@pytest.mark.parametrize(("body", "named"), [
    ({"name": "X", "license_type": "forever"}, "license_type"),
    ({"name": "", "license_type": "trial"}, "name"),
    ({"name": "X", "license_type": "trial", "deployment_type": "moon"}, "deployment_type"),
    ({"name": "X", "license_type": "trial", "id": str(uuid.uuid4())}, "id"),
])
async def test_bad_products_are_422_and_write_nothing(app, api, licensing, body, named):
    before = await product_count(app)
    response = await api.post("/api/v1/products", headers=licensing.vendor, json=body)
    assert response.status_code == 422, response.text
    assert named in response.json()["detail"]
    assert await product_count(app) == before


async def test_an_idempotency_key_creates_the_product_once(app, api, licensing):
    headers = {**licensing.vendor, "Idempotency-Key": f"product-{uuid.uuid4()}"}
    body = {"name": "Once", "license_type": "trial"}
    before = await product_count(app)
    first = await api.post("/api/v1/products", headers=headers, json=body)
    again = await api.post("/api/v1/products", headers=headers, json=body)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert await product_count(app) == before + 1
    other_body = await api.post("/api/v1/products", headers=headers, json={**body, "name": "Twice"})
    assert other_body.status_code == 422 and "different request body" in other_body.json()["detail"]


async def test_products_sort_by_every_column_and_page_with_a_cursor(api, licensing):
    tag = uuid.uuid4().hex[:8]
    for name, kind in (("b", "trial"), ("a", "term"), ("d", "perpetual"), ("c", "subscription"), ("e", "trial")):
        await licensing.product(f"{tag}-{name}", kind)
    for sort in ("name", "license_type", "description", "deployment_type", "created_at"):
        seen, cursor = [], None
        while True:
            params = {"search": tag, "sort": sort, "order": "desc", "limit": 2} | ({"cursor": cursor} if cursor else {})
            page = (await api.get("/api/v1/products", params=params, headers=licensing.distributor)).json()
            seen += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert len(seen) == 5 and len({p["id"] for p in seen}) == 5
        if sort in ("name", "license_type"):
            values = [p[sort] for p in seen]
            assert values == sorted(values, reverse=True)
    bad = await api.get("/api/v1/products", params={"sort": "name", "cursor": "garbage"}, headers=licensing.vendor)
    assert bad.status_code == 400


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/v1/products"), ("POST", "/api/v1/products"), ("GET", "/api/v1/entitlements"),
    ("POST", "/api/v1/entitlements"), ("GET", "/api/v1/entitlements/ENT-2026-000001"),
    ("GET", "/api/v1/licenses/products"), ("GET", "/api/v1/activations"), ("POST", "/api/v1/activations"),
    ("GET", "/api/v1/activations/export.csv"),
])
async def test_every_route_wants_a_signed_in_caller(api, method, path):
    response = await api.request(method, path, json={} if method == "POST" else None)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_product_carries_device_rules_with_defaults_into_its_event(api, licensing):
    ruled = await api.post("/api/v1/products", headers=licensing.vendor, json={
        "name": "Ruled", "license_type": "subscription", "max_license_users": 3, "default_user_activation_cap": 2,
        "grace_period_days": 7, "virtual_machines_allowed": False, "offline_allowed": False,
        "device_resets_per_30_days": 1})
    assert ruled.status_code == 201, ruled.text
    plain = await licensing.product("Plain", "perpetual")
    assert (plain["max_license_users"], plain["grace_period_days"], plain["virtual_machines_allowed"]) == (5, 14, True)
    [event] = await licensing.events("entitlements.product.created", product_id=ruled.json()["id"])
    assert {k: event["payload"][k] for k in ("max_license_users", "grace_period_days", "virtual_machines_allowed",
                                              "device_resets_per_30_days")} == {
        "max_license_users": 3, "grace_period_days": 7, "virtual_machines_allowed": False,
        "device_resets_per_30_days": 1}
    refused = await api.post("/api/v1/products", headers=licensing.vendor, json={
        "name": "Bad", "license_type": "trial", "default_user_activation_cap": 0})
    assert refused.status_code == 422 and "default_user_activation_cap" in refused.json()["detail"]
