"""Mass assignment: fields the API does not take (org, role, tier, status, quantities, ids) sent
along with a valid body are refused with 422 and change nothing; every request body of the public
API refuses unknown fields."""

import uuid

import pytest

from shared.auth.permissions import Role, Tier
from tests.security.cast import Cast, invited, partner
from tests.system.platform import PASSWORD, unique_email

pytestmark = [pytest.mark.system, pytest.mark.timeout(120)]


def object_schemas(schema: dict, document: dict, seen: set[str]):
    """Every object schema reachable from `schema`, $refs followed once."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name not in seen:
            seen.add(name)
            yield name, document["components"]["schemas"][name]
            yield from object_schemas(document["components"]["schemas"][name], document, seen)
        return
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, []):
            yield from object_schemas(option, document, seen)
    for nested in [*schema.get("properties", {}).values(), *([schema["items"]] if "items" in schema else [])]:
        yield from object_schemas(nested, document, seen)


async def test_every_request_body_refuses_unknown_fields(platform):
    document = (await platform.http.get("/api/v1/openapi.json")).json()
    open_bodies = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for content in operation.get("requestBody", {}).get("content", {}).values():
                for name, schema in object_schemas(content["schema"], document, set()):
                    if schema.get("type") == "object" and schema.get("additionalProperties") is not False:
                        open_bodies.append(f"{method.upper()} {path}: {name}")
    assert not open_bodies, f"bodies that would accept fields they do not define: {open_bodies}"


async def refused_each(http, method: str, path: str, body: dict, smuggled: dict) -> None:
    for field, value in smuggled.items():
        answer = await http.request(method, path, json={**body, field: value})
        assert answer.status_code == 422, f"{method} {path} with {field}: {answer.status_code} {answer.text}"
        assert field in answer.json()["detail"], answer.text  # the reason names the field


async def test_an_invite_takes_no_org_tier_status_or_token(cast: Cast):
    admin = cast.own.admins[Tier.DISTRIBUTOR]
    email = unique_email("smuggled-invite")
    await refused_each(admin.http, "POST", "/api/v1/invites", {"email": email, "role": "viewer"}, {
        "org_id": cast.unrelated.ids[("distributors", "org_id")], "tier": "vendor", "status": "accepted",
        "id": str(uuid.uuid4()), "token": "chosen-by-the-caller", "expires_at": "2099-01-01T00:00:00Z"})

    for who in (admin, cast.unrelated.admins[Tier.DISTRIBUTOR]):
        assert (await who.http.get("/api/v1/invites", params={"q": email})).json()["items"] == []


async def test_a_role_change_takes_nothing_but_the_role(cast: Cast):
    admin = cast.own.admins[Tier.DISTRIBUTOR]
    viewer = next(m for m in (await admin.http.get("/api/v1/members", params={"role": "viewer"})).json()["items"])
    await refused_each(admin.http, "PATCH", f"/api/v1/members/{viewer['id']}", {"role": "viewer"}, {
        "org_id": cast.unrelated.ids[("distributors", "org_id")], "tier": "vendor", "email": "taken@example.com",
        "status": "removed", "id": str(uuid.uuid4())})

    assert (await admin.http.get(f"/api/v1/members/{viewer['id']}")).json() == viewer


async def test_accepting_an_invite_takes_no_role_or_org_and_leaves_the_invite_usable(cast: Cast):
    admin = cast.own.admins[Tier.INTEGRATOR]
    email = unique_email("accepting")
    assert (await admin.http.post("/api/v1/invites", json={"email": email, "role": "viewer"})).status_code == 201
    token = await cast.platform.invite_token(email)
    body = {"token": token, "first_name": "Eve", "last_name": "Smuggler", "password": PASSWORD}
    await refused_each(cast.platform.http, "POST", "/api/v1/invites/accept", body, {
        "role": "admin", "org_id": cast.unrelated.ids[("distributors", "org_id")], "tier": "vendor",
        "status": "active"})

    assert (await cast.platform.http.post("/api/v1/invites/accept", json=body)).status_code == 201
    me = (await (await cast.platform.sign_in(email)).get("/api/v1/me")).json()
    assert (me["role"], me["tier"]) == ("viewer", "integrator")
    assert me["org_id"] == (await admin.http.get("/api/v1/me")).json()["org_id"]


async def test_a_partner_takes_no_parent_tier_status_or_id(cast: Cast):
    admin = cast.own.admins[Tier.DISTRIBUTOR]
    foreign = cast.unrelated.ids[("distributors", "org_id")]
    body = partner("Smuggled Partner", unique_email("smuggled-rep"))
    await refused_each(admin.http, "POST", "/api/v1/integrators", body, {
        "parent_id": foreign, "tier": "distributor", "status": "archived", "id": str(uuid.uuid4()), "org_id": foreign})
    assert (await admin.http.get("/api/v1/integrators", params={"q": "Smuggled Partner"})).json()["items"] == []

    integrator = f"/api/v1/integrators/{cast.own.ids[('integrators', 'org_id')]}"
    before = (await admin.http.get(integrator)).json()
    await refused_each(admin.http, "PATCH", integrator, {"note": "edited"}, {
        "parent_id": foreign, "tier": "customer", "status": "archived", "id": str(uuid.uuid4()), "quantity": 5})
    await refused_each(admin.http, "POST", f"{integrator}/representatives", {"email": unique_email("rep")}, {
        "is_default": True, "org_id": foreign, "id": str(uuid.uuid4())})
    assert (await admin.http.get(integrator)).json() == before


async def test_a_distributor_takes_no_parent_tier_or_status(cast: Cast):
    name = f"Smuggled Distributor {uuid.uuid4().hex[:6]}"
    body = {"name": name, "country": "SE", "admin_email": unique_email("smuggled-distributor")}
    await refused_each(cast.vendor.http, "POST", "/api/v1/distributors", body, {
        "parent_id": cast.unrelated.ids[("distributors", "org_id")], "tier": "vendor", "status": "archived",
        "id": str(uuid.uuid4()), "role": "admin"})
    listed = (await cast.vendor.http.get("/api/v1/distributors", params={"q": name})).json()["items"]
    assert name not in [d["name"] for d in listed]


async def test_an_entitlement_takes_no_status_id_or_holding(cast: Cast):
    vendor = cast.vendor.http
    distributor = cast.own.admins[Tier.DISTRIBUTOR].http
    before = (await distributor.get("/api/v1/entitlements")).json()["items"]
    line = {"product_id": cast.own.ids[("licenses", "product_id")], "quantity": 5}
    body = {"distributor_id": cast.own.ids[("distributors", "org_id")], "sales_order": "SO-SMUGGLED",
            "order_date": "2026-11-01", "lines": [line]}
    await refused_each(vendor, "POST", "/api/v1/entitlements", body, {
        "status": "expired", "entitlement_id": "ENT-2026-999999", "id": str(uuid.uuid4()),
        "org_id": cast.unrelated.ids[("distributors", "org_id")]})
    for field, value in {"available": 1000, "transferred": 3, "org_id": str(uuid.uuid4())}.items():
        answer = await vendor.post("/api/v1/entitlements", json={**body, "lines": [{**line, field: value}]})
        assert answer.status_code == 422, f"a line with {field}: {answer.status_code} {answer.text}"

    assert (await distributor.get("/api/v1/entitlements")).json()["items"] == before


async def test_a_transfer_takes_no_sender_status_or_ids(cast: Cast):
    admin = cast.own.admins[Tier.DISTRIBUTOR].http
    product_id = cast.own.ids[("licenses", "product_id")]
    available = (await admin.get(f"/api/v1/licenses/products/{product_id}")).json()
    sent = (await admin.get("/api/v1/transfers")).json()["items"]
    body = {"entitlement_id": cast.own.ids[("entitlements", "entitlement_id")], "product_id": product_id,
            "quantity": 1, "to_org_id": cast.own.ids[("integrators", "org_id")]}
    await refused_each(admin, "POST", "/api/v1/transfers", body, {
        "from_org_id": cast.unrelated.ids[("distributors", "org_id")], "status": "completed",
        "id": str(uuid.uuid4()), "requested_by": str(uuid.uuid4()), "available": 1000, "org_id": str(uuid.uuid4())})

    assert (await admin.get("/api/v1/transfers")).json()["items"] == sent
    assert (await admin.get(f"/api/v1/licenses/products/{product_id}")).json() == available


async def test_an_activation_takes_no_org_status_or_ids(cast: Cast):
    customer = cast.own.admins[Tier.CUSTOMER].http
    body = {"entitlement_id": cast.own.ids[("entitlements", "entitlement_id")],
            "product_id": cast.own.ids[("licenses", "product_id")], "quantity": 1, "project_name": "Smuggled"}
    await refused_each(customer, "POST", "/api/v1/activations", body, {
        "org_id": cast.unrelated.ids[("customers", "org_id")], "status": "released", "id": str(uuid.uuid4()),
        "activated_by": str(uuid.uuid4())})

    assert (await customer.get("/api/v1/activations")).json()["items"] == []


async def test_sign_in_and_products_take_nothing_extra(cast: Cast):
    member = await invited(cast.platform, cast.own.admins[Tier.CUSTOMER], Role.VIEWER)
    await refused_each(cast.platform.http, "POST", "/api/v1/auth/login", {"email": member.email, "password": PASSWORD},
                       {"role": "admin", "org_id": str(uuid.uuid4()), "tier": "vendor"})
    name = f"Smuggled Product {uuid.uuid4().hex[:6]}"
    await refused_each(cast.vendor.http, "POST", "/api/v1/products", {"name": name, "license_type": "perpetual"},
                       {"id": str(uuid.uuid4()), "quantity": 10, "org_id": str(uuid.uuid4())})
    listed = (await cast.vendor.http.get("/api/v1/products", params={"search": name})).json()["items"]
    assert name not in [p["name"] for p in listed]
