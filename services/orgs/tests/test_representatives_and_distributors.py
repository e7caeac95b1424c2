"""Distributors, partial updates and the representative rules over the real database."""

import asyncio
import uuid

import pytest
import sqlalchemy as sa



def as_(issue_token, org: uuid.UUID, role: str = "admin", tier: str = "distributor") -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(org=str(org), role=role, tier=tier)}"}


def integrator(reps: int = 2, **overrides) -> dict:
    body = {
        "name": "Acme Integration",
        "email_domain": "acme.example",
        "country": "DE",
        "representatives": [{"email": f"r{i}@acme.example", "first_name": f"R{i}"} for i in range(reps)],
    }
    body.update(overrides)
    return body


async def events(app, routing_key: str) -> list[dict]:
    async with app.state.engine.connect() as conn:
        rows = await conn.execute(
            sa.text("SELECT body FROM outbox WHERE routing_key = :k ORDER BY created_at"), {"k": routing_key}
        )
        return [r.body for r in rows]


@pytest.fixture
def partner(api, distributor, issue_token):
    async def create(reps: int = 2):
        parent = await distributor()
        headers = as_(issue_token, parent)
        response = await api.post("/api/v1/integrators", json=integrator(reps), headers=headers)
        assert response.status_code == 201, response.text
        return response.json(), headers

    return create


async def test_the_vendor_creates_a_distributor_with_its_admin_email_in_the_event(app, api, issue_token):
    headers = as_(issue_token, app.state.vendor_id, tier="vendor")
    body = {"name": "Big Distribution", "country": "fr", "admin_email": "boss@big.example"}
    response = await api.post("/api/v1/distributors", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["tier"] == "distributor" and created["parent_id"] == str(app.state.vendor_id)
    assert created["country"] == "FR"
    created_events = await events(app, "orgs.organization.created")
    payload = [e["payload"] for e in created_events if e["payload"]["org_id"] == created["id"]]
    assert payload[0]["admin_email"] == "boss@big.example" and payload[0]["tier"] == "distributor"

    listed = await api.get("/api/v1/distributors", headers=headers)
    assert listed.status_code == 200
    assert created["id"] in [d["id"] for d in listed.json()["items"]]

    bad = await api.post("/api/v1/distributors", json={**body, "admin_email": "nope"}, headers=headers)
    assert bad.status_code == 422


async def test_only_the_vendor_creates_distributors(api, distributor, issue_token):
    org = await distributor()
    body = {"name": "Sneaky", "admin_email": "a@b.example"}
    response = await api.post("/api/v1/distributors", json=body, headers=as_(issue_token, org))
    assert response.status_code == 403


async def test_patch_changes_company_fields_and_refuses_mass_assignment(app, api, partner, issue_token, distributor):
    created, headers = await partner()
    url = f"/api/v1/integrators/{created['id']}"
    response = await api.patch(url, json={"name": "Renamed", "country": "us"}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Renamed" and response.json()["country"] == "US"
    updated_events = await events(app, "orgs.organization.updated")
    updated = [e["payload"] for e in updated_events if e["payload"]["org_id"] == created["id"]]
    assert updated[-1]["changed"] == ["country", "name"]

    forbidden = [("tier", "vendor"), ("status", "archived"), ("parent_id", str(uuid.uuid4())), ("org_id", "x")]
    for field, value in forbidden:
        refused = await api.patch(url, json={field: value}, headers=headers)
        assert refused.status_code == 422, field
    assert (await api.get(url, headers=headers)).json()["tier"] == "integrator"

    other = as_(issue_token, await distributor("Other"))
    assert (await api.patch(url, json={"name": "Mine"}, headers=other)).status_code == 404


async def test_representative_limits_and_duplicates(app, api, partner):
    created, headers = await partner(reps=5)
    url = f"/api/v1/integrators/{created['id']}/representatives"
    sixth = await api.post(url, json={"email": "six@acme.example"}, headers=headers)
    assert sixth.status_code == 422 and "at most 5" in sixth.text

    created, headers = await partner(reps=2)
    url = f"/api/v1/integrators/{created['id']}/representatives"
    duplicate = await api.post(url, json={"email": "R0@acme.example"}, headers=headers)
    assert duplicate.status_code == 409
    added = await api.post(url, json={"email": "new@acme.example", "first_name": "New"}, headers=headers)
    assert added.status_code == 201 and added.json()["is_default"] is False
    edited = await api.patch(f"{url}/{added.json()['id']}", json={"last_name": "Person"}, headers=headers)
    assert edited.status_code == 200 and edited.json()["last_name"] == "Person"
    clash = await api.patch(f"{url}/{added.json()['id']}", json={"email": "r1@acme.example"}, headers=headers)
    assert clash.status_code == 409
    assert len(await events(app, "orgs.representative.added")) >= 1
    assert len(await events(app, "orgs.representative.updated")) >= 1


async def test_the_last_representative_stays_and_the_default_passes_to_the_oldest(app, api, partner):
    created, headers = await partner(reps=1)
    url = f"/api/v1/integrators/{created['id']}/representatives"
    only = created["representatives"][0]["id"]
    assert (await api.delete(f"{url}/{only}", headers=headers)).status_code == 409

    created, headers = await partner(reps=3)
    url = f"/api/v1/integrators/{created['id']}/representatives"
    default = next(r for r in created["representatives"] if r["is_default"])
    assert default["email"] == "r0@acme.example"
    assert (await api.delete(f"{url}/{default['id']}", headers=headers)).status_code == 204
    reps = (await api.get(f"/api/v1/integrators/{created['id']}", headers=headers)).json()["representatives"]
    assert [(r["email"], r["is_default"]) for r in reps] == [("r1@acme.example", True), ("r2@acme.example", False)]
    removed = (await events(app, "orgs.representative.removed"))[-1]
    assert removed["payload"]["email"] == "r0@acme.example"
    assert set(removed["visible_to"]) == {created["id"], created["parent_id"]}


async def test_make_default_leaves_exactly_one_default(app, api, partner):
    created, headers = await partner(reps=3)
    url = f"/api/v1/integrators/{created['id']}/representatives"
    target = created["representatives"][2]["id"]
    response = await api.post(f"{url}/{target}/make-default", headers=headers)
    assert response.status_code == 200 and response.json()["is_default"] is True
    reps = (await api.get(f"/api/v1/integrators/{created['id']}", headers=headers)).json()["representatives"]
    assert [r["id"] for r in reps if r["is_default"]] == [target]
    assert len(await events(app, "orgs.representative.made_default")) >= 1


async def test_concurrent_adds_never_exceed_five(app, api, partner):
    created, headers = await partner(reps=1)
    url = f"/api/v1/integrators/{created['id']}/representatives"
    responses = await asyncio.gather(
        *(api.post(url, json={"email": f"c{i}@acme.example"}, headers=headers) for i in range(6))
    )
    assert sorted(r.status_code for r in responses) == [201, 201, 201, 201, 422, 422]
    async with app.state.engine.connect() as conn:
        count = (
            await conn.execute(
                sa.text("SELECT count(*) FROM representatives WHERE org_id = :id"), {"id": uuid.UUID(created["id"])}
            )
        ).scalar_one()
    assert count == 5


async def test_customers_have_the_same_representative_routes(api, distributor, issue_token):
    parent = await distributor()
    headers = as_(issue_token, parent)
    created = (await api.post("/api/v1/customers", json=integrator(1), headers=headers)).json()
    url = f"/api/v1/customers/{created['id']}/representatives"
    assert (await api.post(url, json={"email": "x@acme.example"}, headers=headers)).status_code == 201


async def test_representative_events_name_their_organization_for_the_audit_log(app, api, partner):
    created, headers = await partner(reps=2)
    url = f"/api/v1/integrators/{created['id']}/representatives"
    added = await api.post(url, json={"email": "new@acme.example"}, headers=headers)
    rep = added.json()["id"]
    assert (await api.patch(f"{url}/{rep}", json={"first_name": "New"}, headers=headers)).status_code == 200
    assert (await api.post(f"{url}/{rep}/make-default", headers=headers)).status_code == 200
    assert (await api.delete(f"{url}/{rep}", headers=headers)).status_code == 204
    for kind in ("added", "updated", "made_default", "removed"):
        payload = [e["payload"] for e in await events(app, f"orgs.representative.{kind}")
                   if e["payload"]["org_id"] == created["id"]][-1]
        assert (payload["org_name"], payload["tier"], payload["email"]) == (created["name"], "integrator",
                                                                            "new@acme.example"), kind
