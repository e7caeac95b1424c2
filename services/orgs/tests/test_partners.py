"""Integrators and customers over the real database: the representative rules, one transaction
with the event, tenant scoping (404, never another org's data), archive and the list filters."""

import uuid

import pytest
import sqlalchemy as sa



def as_(issue_token, org: uuid.UUID, role: str = "admin", tier: str = "distributor") -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(org=str(org), role=role, tier=tier)}"}


def integrator(name: str = "Acme Integration", **overrides) -> dict:
    body = {
        "name": name,
        "email_domain": "acme.example",
        "country": "DE",
        "contact_name": "Ada Lovelace",
        "contact_email": "ada@acme.example",
        "representatives": [
            {"email": "first@acme.example", "first_name": "First"},
            {"email": "second@acme.example", "first_name": "Second"},
        ],
    }
    body.update(overrides)
    return body


async def counts(app) -> tuple[int, int, int]:
    async with app.state.engine.connect() as conn:
        return (
            (await conn.execute(sa.text("SELECT count(*) FROM organizations WHERE tier = 'integrator'"))).scalar_one(),
            (await conn.execute(sa.text("SELECT count(*) FROM representatives"))).scalar_one(),
            (await conn.execute(sa.text("SELECT count(*) FROM outbox"))).scalar_one(),
        )


async def test_creating_an_integrator_makes_the_first_representative_default_and_records_the_event(
    app, api, distributor, issue_token
):
    parent = await distributor()
    response = await api.post("/api/v1/integrators", json=integrator(), headers=as_(issue_token, parent))
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["parent_id"] == str(parent) and created["tier"] == "integrator" and created["status"] == "active"
    assert [(r["email"], r["is_default"]) for r in created["representatives"]] == [
        ("first@acme.example", True),
        ("second@acme.example", False),
    ]

    detail = await api.get(f"/api/v1/integrators/{created['id']}", headers=as_(issue_token, parent))
    assert detail.status_code == 200
    assert [(r["email"], r["is_default"]) for r in detail.json()["representatives"]][0] == ("first@acme.example", True)

    async with app.state.engine.connect() as conn:
        row = (
            await conn.execute(
                sa.text(
                    "SELECT o.body, o.created_at = g.created_at AS same_transaction FROM outbox o, organizations g "
                    "WHERE g.id = :id AND o.routing_key = 'orgs.organization.created' "
                    "AND o.body->'payload'->>'org_id' = :sid"
                ),
                {"id": uuid.UUID(created["id"]), "sid": created["id"]},
            )
        ).one()
    body = row.body
    assert row.same_transaction  # now() is the transaction's start: both rows were written in one
    assert body["payload"]["tier"] == "integrator" and body["payload"]["parent_id"] == str(parent)
    assert body["payload"]["default_representative_email"] == "first@acme.example"
    assert set(body["visible_to"]) == {created["id"], str(parent)}


async def test_a_representative_marked_default_is_the_default(api, distributor, issue_token):
    parent = await distributor()
    reps = [{"email": "a@acme.example"}, {"email": "b@acme.example", "is_default": True}]
    response = await api.post(
        "/api/v1/integrators", json=integrator(representatives=reps), headers=as_(issue_token, parent)
    )
    assert response.status_code == 201
    assert [r["is_default"] for r in response.json()["representatives"]] == [False, True]


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"representatives": []}, "at least one representative"),
        ({"representatives": [{"email": f"r{i}@acme.example"} for i in range(6)]}, "at most 5"),
        ({"representatives": [{"email": "same@acme.example"}, {"email": "SAME@acme.example"}]}, "more than once"),
        (
            {"representatives": [{"email": f"{x}@acme.example", "is_default": True} for x in "ab"]},
            "only one",
        ),
        ({"representatives": [{"email": "not-an-email"}]}, "not a valid email"),
        ({"representatives": [{"email": "a@acme"}]}, "not a valid email"),
        ({"contact_email": "ada@@acme.example"}, "not a valid email"),
        ({"country": "Germany"}, "country"),
        ({"name": "x" * 201}, "name"),
        ({"org_id": str(uuid.uuid4())}, "org_id"),
        ({"status": "archived"}, "status"),
        ({"tier": "distributor"}, "tier"),
        ({"parent_id": str(uuid.uuid4())}, "parent_id"),
    ],
)
async def test_bad_input_is_a_422_that_names_the_problem_and_writes_nothing(
    app, api, distributor, issue_token, overrides, named
):
    parent = await distributor()
    before = await counts(app)
    response = await api.post("/api/v1/integrators", json=integrator(**overrides), headers=as_(issue_token, parent))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert named in response.json()["detail"]
    assert await counts(app) == before


async def test_another_distributor_can_neither_see_nor_archive_it(api, distributor, issue_token):
    owner, stranger = await distributor("Owner"), await distributor("Stranger")
    created = (await api.post("/api/v1/integrators", json=integrator(), headers=as_(issue_token, owner))).json()
    other = as_(issue_token, stranger)
    for method, path in [
        ("GET", f"/api/v1/integrators/{created['id']}"),
        ("POST", f"/api/v1/integrators/{created['id']}/archive"),
        ("POST", f"/api/v1/integrators/{created['id']}/unarchive"),
        ("GET", f"/api/v1/customers/{created['id']}"),
    ]:
        response = await api.request(method, path, headers=other)
        assert response.status_code == 404, (method, path, response.status_code)
        assert created["name"] not in response.text
    for status in ("active", "archived"):
        listed = await api.get("/api/v1/integrators", params={"status": status}, headers=other)
        assert listed.status_code == 200 and listed.json()["items"] == []
    # Still active for its owner: the stranger's archive did nothing.
    detail = await api.get(f"/api/v1/integrators/{created['id']}", headers=as_(issue_token, owner))
    assert detail.json()["status"] == "active"


async def test_archive_moves_it_to_the_archived_list_and_records_events(app, api, distributor, issue_token):
    parent = await distributor()
    headers = as_(issue_token, parent)
    await api.post("/api/v1/integrators", json=integrator("Kept"), headers=headers)
    gone = (await api.post("/api/v1/integrators", json=integrator("Gone"), headers=headers)).json()

    response = await api.post(f"/api/v1/integrators/{gone['id']}/archive", headers=headers)
    assert response.status_code == 200 and response.json()["status"] == "archived"
    again = await api.post(f"/api/v1/integrators/{gone['id']}/archive", headers=headers)
    assert again.status_code == 409

    async def names(**params):
        response = await api.get("/api/v1/integrators", params=params, headers=headers)
        assert response.status_code == 200
        return [item["name"] for item in response.json()["items"]]

    assert await names() == ["Kept"]
    assert await names(status="archived") == ["Gone"]
    assert (await api.post(f"/api/v1/integrators/{gone['id']}/unarchive", headers=headers)).status_code == 200
    assert await names() == ["Gone", "Kept"]  # newest first

    async with app.state.engine.connect() as conn:
        types = (
            await conn.execute(
                sa.text("SELECT routing_key FROM outbox WHERE body->'payload'->>'org_id' = :id ORDER BY id"),
                {"id": gone["id"]},
            )
        ).scalars().all()
    assert types == ["orgs.organization.created", "orgs.organization.archived", "orgs.organization.unarchived"]


async def test_list_filters_by_country_and_text_and_pages_by_cursor(api, distributor, issue_token):
    parent = await distributor()
    headers = as_(issue_token, parent)
    for i, country in enumerate(["DE", "FR", "DE", "US", "DE"]):
        body = integrator(f"Partner {i}", country=country, email_domain=f"p{i}.example")
        assert (await api.post("/api/v1/integrators", json=body, headers=headers)).status_code == 201

    async def names(**params):
        response = await api.get("/api/v1/integrators", params=params, headers=headers)
        return [item["name"] for item in response.json()["items"]]

    assert await names(country="de") == ["Partner 4", "Partner 2", "Partner 0"]
    assert await names(q="p3.EXAMPLE") == ["Partner 3"]
    assert await names(q="100%") == []
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await api.get("/api/v1/integrators", params=params, headers=headers)).json()
        seen += [i["name"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"Partner {i}" for i in reversed(range(5))]


async def test_who_may_create(api, distributor, issue_token):
    parent = await distributor()
    viewer = await api.post("/api/v1/integrators", json=integrator(), headers=as_(issue_token, parent, "viewer"))
    assert viewer.status_code == 403
    assert viewer.headers["content-type"] == "application/problem+json"
    integrator_admin = await api.post(
        "/api/v1/integrators", json=integrator(), headers=as_(issue_token, parent, tier="integrator")
    )
    assert integrator_admin.status_code == 403
    customer = await api.post("/api/v1/customers", json=integrator("End Customer"), headers=as_(issue_token, parent))
    assert customer.status_code == 201 and customer.json()["tier"] == "customer"
    listed = await api.get("/api/v1/integrators", headers=as_(issue_token, parent, "viewer"))
    assert listed.status_code == 200 and listed.json()["items"] == []  # customers are not integrators
