"""Lists of distributors, integrators and customers sorted by every column (keyset pages that hold
across NULLs), and Idempotency-Key on every POST that creates something."""

import asyncio
import uuid
from datetime import datetime

import pytest
import sqlalchemy as sa

COLUMNS = ("name", "email_domain", "country", "status", "contact_name", "contact_email", "phone", "address", "tax_id",
           "note", "created_at")


def as_(issue_token, org: uuid.UUID, tier: str = "distributor") -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(org=str(org), role='admin', tier=tier)}"}


def company(name: str, **fields) -> dict:
    return {"name": name, "representatives": [{"email": f"rep@{uuid.uuid4().hex[:6]}.example"}], **fields}


async def walk(api, path: str, headers, **params) -> list[dict]:
    """Every item of a list, two per page, following next_cursor."""
    items, cursor = [], None
    while True:
        page = await api.get(path, params={**params, "limit": 2, **({"cursor": cursor} if cursor else {})},
                             headers=headers)
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items


def expected(items: list[dict], column: str, descending: bool) -> list[str]:
    """The order the API promises: text case-insensitive with no value as empty, then id."""
    def key(item):
        value = item[column]
        return (datetime.fromisoformat(value) if column == "created_at" else (value or "").lower()), uuid.UUID(item["id"])
    return [item["id"] for item in sorted(items, key=key, reverse=descending)]


async def test_integrators_sort_by_every_column_both_ways(api, distributor, issue_token):
    headers = as_(issue_token, await distributor())
    bodies = [
        company("beta", country="DE", email_domain="b.example", phone="+49 1", tax_id="X1", note="n"),
        company("Alpha", country=None, contact_name="Zoe", contact_email="zoe@a.example", address="Main St 1"),
        company("gamma", country="AT", contact_name="adam", phone="+43 2"),
        company("Beta", country="de", email_domain="a.example", contact_name="Adam", tax_id="a2"),
        company("delta"),
    ]
    for body in bodies:
        assert (await api.post("/api/v1/integrators", json=body, headers=headers)).status_code == 201
    everyone = await walk(api, "/api/v1/integrators", headers)
    assert len(everyone) == 5
    for column in COLUMNS:
        for order in ("asc", "desc"):
            listed = await walk(api, "/api/v1/integrators", headers, sort=column, order=order)
            assert [i["id"] for i in listed] == expected(everyone, column, order == "desc"), (column, order)
    # Filters and search keep working with a sort.
    germans = await walk(api, "/api/v1/integrators", headers, country="de", sort="name")
    assert [i["name"] for i in germans] == ["beta", "Beta"] or [i["name"] for i in germans] == ["Beta", "beta"]
    assert [i["id"] for i in germans] == expected(germans, "name", False)
    # The total of the filtered list, whatever the page (the dashboard's "total integrators").
    counted = await api.get("/api/v1/integrators", params={"country": "DE", "limit": 1, "include_total": "true"},
                            headers=headers)
    assert (len(counted.json()["items"]), counted.json()["total"]) == (1, 2)
    everything = await api.get("/api/v1/integrators", params={"limit": 1, "include_total": "true"}, headers=headers)
    assert everything.json()["total"] == 5
    assert (await api.get("/api/v1/integrators", params={"status": "archived", "include_total": "true"},
                          headers=headers)).json()["total"] == 0
    assert (await api.get("/api/v1/integrators", headers=headers)).json()["total"] is None  # not asked: not counted


async def test_customers_and_distributors_sort_the_same_way(app, api, distributor, issue_token):
    parent = await distributor()
    for name in ("c", "A", "b"):
        assert (await api.post("/api/v1/customers", json=company(name), headers=as_(issue_token, parent))).status_code == 201
    listed = await walk(api, "/api/v1/customers", as_(issue_token, parent), sort="name", order="desc")
    assert [c["name"] for c in listed] == ["c", "b", "A"]

    vendor = as_(issue_token, app.state.vendor_id, tier="vendor")
    for name in ("Zulu", "alpha"):
        created = await api.post("/api/v1/distributors", headers=vendor,
                                 json={"name": f"{name} {uuid.uuid4().hex[:4]}", "admin_email": "a@d.example"})
        assert created.status_code == 201, created.text
    distributors = await walk(api, "/api/v1/distributors", vendor, sort="name")
    assert [d["id"] for d in distributors] == expected(distributors, "name", False)


async def test_unknown_sorts_and_foreign_cursors_are_refused(api, distributor, issue_token):
    headers = as_(issue_token, await distributor())
    for name in ("a", "b"):
        await api.post("/api/v1/integrators", json=company(name), headers=headers)
    unknown = await api.get("/api/v1/integrators", params={"sort": "parent_id"}, headers=headers)
    assert unknown.status_code == 422 and unknown.json()["detail"].startswith("sort must be one of: name")
    assert (await api.get("/api/v1/integrators", params={"order": "sideways"}, headers=headers)).status_code == 422
    cursor = (await api.get("/api/v1/integrators", params={"sort": "name", "limit": 1},
                            headers=headers)).json()["next_cursor"]
    assert cursor
    moved = await api.get("/api/v1/integrators", params={"sort": "country", "cursor": cursor}, headers=headers)
    assert moved.status_code == 400


# --- Idempotency-Key -------------------------------------------------------------------------


@pytest.fixture
def creation(app, distributor, issue_token, api):
    """(path, headers, body, table, routing key) for one of the POSTs that create something."""

    async def make(kind: str):
        mark = uuid.uuid4().hex[:8]
        if kind == "distributors":
            return ("/api/v1/distributors", as_(issue_token, app.state.vendor_id, tier="vendor"),
                    {"name": f"D {mark}", "admin_email": f"admin@{mark}.example"}, "organizations", "orgs.organization.created")
        parent = await distributor()
        if kind in ("integrators", "customers"):
            return (f"/api/v1/{kind}", as_(issue_token, parent), company(f"P {mark}"), "organizations",
                    "orgs.organization.created")
        created = await api.post("/api/v1/integrators", json=company(f"I {mark}"), headers=as_(issue_token, parent))
        return (f"/api/v1/integrators/{created.json()['id']}/representatives", as_(issue_token, parent),
                {"email": f"rep@{mark}.example"}, "representatives", "orgs.representative.added")

    return make


async def made(app, table: str, routing_key: str, marker: str) -> tuple[int, int]:
    """How many rows and events mention the marker (the name or email of what was created)."""
    column = "name" if table == "organizations" else "email"
    async with app.state.engine.connect() as conn:
        rows = (await conn.execute(sa.text(f"SELECT count(*) FROM {table} WHERE {column} = :m"), {"m": marker})).scalar_one()
        events = (await conn.execute(
            sa.text(f"SELECT count(*) FROM outbox WHERE routing_key = :k AND body->'payload'->>'{column}' = :m"),
            {"k": routing_key, "m": marker})).scalar_one()
    return rows, events


def marker(body: dict) -> str:
    return body.get("name") or body["email"]


KINDS = ("distributors", "integrators", "customers", "representatives")


@pytest.mark.parametrize("kind", KINDS)
async def test_the_same_key_and_body_create_once_and_replay_the_answer(app, api, creation, kind):
    path, headers, body, table, routing_key = await creation(kind)
    keyed = {**headers, "Idempotency-Key": f"k-{uuid.uuid4()}"}
    first = await api.post(path, json=body, headers=keyed)
    again = await api.post(path, json=body, headers=keyed)
    assert first.status_code == again.status_code == 201, first.text
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert await made(app, table, routing_key, marker(body)) == (1, 1)

    changed = await api.post(path, json={**body, "note": "other"} if kind != "distributors" else
                             {**body, "country": "FR"}, headers=keyed)
    assert changed.status_code == 422 and "Idempotency-Key" in changed.json()["detail"]
    assert await made(app, table, routing_key, marker(body)) == (1, 1)


@pytest.mark.parametrize("kind", KINDS)
async def test_concurrent_requests_with_one_key_create_once(app, api, creation, kind):
    path, headers, body, table, routing_key = await creation(kind)
    keyed = {**headers, "Idempotency-Key": str(uuid.uuid4())}
    answers = await asyncio.gather(*(api.post(path, json=body, headers=keyed) for _ in range(4)))
    assert [a.status_code for a in answers] == [201] * 4
    assert len({a.json()["id"] for a in answers}) == 1
    assert await made(app, table, routing_key, marker(body)) == (1, 1)


async def test_a_key_belongs_to_its_caller(api, distributor, issue_token):
    key = str(uuid.uuid4())
    body = company(f"Shared {uuid.uuid4().hex[:6]}")
    ours = await api.post("/api/v1/integrators", json=body, headers={**as_(issue_token, await distributor()),
                                                                     "Idempotency-Key": key})
    theirs = await api.post("/api/v1/integrators", json=body, headers={**as_(issue_token, await distributor()),
                                                                       "Idempotency-Key": key})
    assert ours.status_code == theirs.status_code == 201
    assert ours.json()["id"] != theirs.json()["id"] and "Idempotent-Replayed" not in theirs.headers


async def test_two_distributors_asking_in_turn_each_get_their_own_integrators_and_total(api, distributor, issue_token):
    # The list's statements are built once per shape and shared: one org's values must never stay in them.
    first, second = await distributor(), await distributor()
    names = {first: ["f1", "f2", "f3"], second: ["s1", "s2"]}
    for org, own in names.items():
        for name in own:
            body = company(name, country="DE")
            assert (await api.post("/api/v1/integrators", json=body, headers=as_(issue_token, org))).status_code == 201
    for params in ({"limit": 1, "include_total": "true"}, {"country": "de", "q": "", "include_total": "true"},
                   {"q": "1", "sort": "name", "include_total": "true"}):
        for org in (first, second, first):
            page = (await api.get("/api/v1/integrators", params=params, headers=as_(issue_token, org))).json()
            own = [n for n in names[org] if params.get("q", "") in n]
            assert page["total"] == len(own), (params, org)
            assert {item["name"] for item in page["items"]} <= set(own)
        seen = {org: [i["name"] for i in await walk(api, "/api/v1/integrators", as_(issue_token, org), sort="name")]
                for org in (first, second)}
        assert seen == {first: ["f1", "f2", "f3"], second: ["s1", "s2"]}
