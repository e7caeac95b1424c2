"""Members and invites sorted by every column (keyset pages that hold across NULLs), and
Idempotency-Key on creating an invite."""

import asyncio
import uuid
from datetime import datetime

import sqlalchemy as sa

from identity.db import idempotency_keys, invites, members, outbox

PASSWORD = "correct horse battery staple"


async def signed_in_admin(identity, new_member, org_id) -> dict[str, str]:
    _, email = await new_member(identity, org_id)
    tokens = (await identity.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})).json()
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def walk(identity, path: str, headers, **params) -> list[dict]:
    """Every item of a list, two per page, following next_cursor."""
    items, cursor = [], None
    while True:
        query = {**params, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await identity.get(path, params=query, headers=headers)
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items


DATES = ("created_at", "expires_at")


def expected(items: list[dict], value, descending: bool, is_date: bool = False) -> list[str]:
    """The order the API promises: text case-insensitive with no value as empty, then id."""
    def key(item):
        v = value(item)
        return (datetime.fromisoformat(v) if is_date else (v or "").lower()), uuid.UUID(item["id"])
    return [item["id"] for item in sorted(items, key=key, reverse=descending)]


async def test_members_sort_by_every_column_both_ways(identity, new_member, password_hash):
    org_id = uuid.uuid4()
    headers = await signed_in_admin(identity, new_member, org_id)
    people = [("bea", "Zed", "viewer", None), ("Adam", "young", "auditor", "+44 1"), ("carl", "Xu", "admin", None),
              ("bea", "Zed", "support", "+1 2"), ("Dora", "ash", "technician", "+33 3")]
    async with identity.app.state.session_factory() as session:
        for first, last, role, phone in people:
            await session.execute(sa.insert(members).values(
                id=uuid.uuid4(), org_id=org_id, tier="distributor", email=f"{last.lower()}{uuid.uuid4().hex[:6]}@x.com",
                first_name=first, last_name=last, role=role, phone=phone, password_hash=password_hash,
                status="active", created_at=sa.func.clock_timestamp()))
        await session.commit()
    everyone = await walk(identity, "/api/v1/members", headers)
    assert len(everyone) == 6
    counted = await identity.get("/api/v1/members", params={"limit": 2, "include_total": "true"}, headers=headers)
    assert (len(counted.json()["items"]), counted.json()["total"]) == (2, 6)
    named = await identity.get("/api/v1/members", params={"q": "zed", "include_total": "true"}, headers=headers)
    assert named.json()["total"] == 2
    assert (await identity.get("/api/v1/members", headers=headers)).json()["total"] is None
    columns = {"name": lambda m: f"{m['first_name']} {m['last_name']}", "first_name": lambda m: m["first_name"],
               "last_name": lambda m: m["last_name"], "email": lambda m: m["email"], "phone": lambda m: m["phone"],
               "role": lambda m: m["role"], "created_at": lambda m: m["created_at"]}
    for sort, value in columns.items():
        for order in ("asc", "desc"):
            listed = await walk(identity, "/api/v1/members", headers, sort=sort, order=order)
            assert [m["id"] for m in listed] == expected(everyone, value, order == "desc", sort in DATES), (sort, order)
    # Defaults: text ascending, dates newest first.
    assert [m["id"] for m in await walk(identity, "/api/v1/members", headers, sort="last_name")] == expected(
        everyone, columns["last_name"], False)
    assert [m["id"] for m in await walk(identity, "/api/v1/members", headers)] == expected(
        everyone, columns["created_at"], True, True)


async def test_invites_sort_by_every_column_both_ways(identity, new_member):
    org_id = uuid.uuid4()
    headers = await signed_in_admin(identity, new_member, org_id)
    for name, role, phone in (("kim", "viewer", None), ("Al", "auditor", "+1 555"), ("zoe", "admin", "+2 555"),
                              ("Bo", "viewer", None)):
        created = await identity.post("/api/v1/invites", headers=headers, json={
            "email": f"{name}{uuid.uuid4().hex[:6]}@x.com", "role": role, **({"phone": phone} if phone else {})})
        assert created.status_code == 201, created.text
    everyone = await walk(identity, "/api/v1/invites", headers)
    assert len(everyone) == 4
    viewers = await identity.get("/api/v1/invites", params={"role": "viewer", "limit": 1, "include_total": "true"},
                                 headers=headers)
    assert (len(viewers.json()["items"]), viewers.json()["total"]) == (1, 2)
    for sort in ("email", "role", "phone", "created_at", "expires_at"):
        for order in ("asc", "desc"):
            listed = await walk(identity, "/api/v1/invites", headers, sort=sort, order=order)
            in_order = expected(everyone, lambda i: i[sort], order == "desc", sort in DATES)
            assert [i["id"] for i in listed] == in_order, (sort, order)


async def test_unknown_sorts_and_foreign_cursors_are_refused(identity, new_member):
    org_id = uuid.uuid4()
    headers = await signed_in_admin(identity, new_member, org_id)
    await new_member(identity, org_id)
    await new_member(identity, org_id)
    unknown = await identity.get("/api/v1/members", params={"sort": "password_hash"}, headers=headers)
    assert unknown.status_code == 422 and "sort must be one of: name" in unknown.json()["detail"]
    assert (await identity.get("/api/v1/invites", params={"order": "up"}, headers=headers)).status_code == 422
    cursor = (await identity.get("/api/v1/members", params={"sort": "email", "limit": 1},
                                 headers=headers)).json()["next_cursor"]
    other_sort = await identity.get("/api/v1/members", params={"sort": "role", "cursor": cursor}, headers=headers)
    assert other_sort.status_code == 400
    other_order = await identity.get("/api/v1/members", params={"sort": "email", "order": "desc", "cursor": cursor},
                                     headers=headers)
    assert other_order.status_code == 400
    assert (await identity.get("/api/v1/members", params={"cursor": "garbage"}, headers=headers)).status_code == 400


async def count(identity, query) -> int:
    async with identity.app.state.session_factory() as session:
        return (await session.execute(sa.select(sa.func.count()).select_from(query.subquery()))).scalar_one()


async def test_an_invite_with_the_same_idempotency_key_is_made_once(identity, new_member):
    org_id = uuid.uuid4()
    headers = await signed_in_admin(identity, new_member, org_id)
    key = {"Idempotency-Key": f"invite-{uuid.uuid4()}"}
    body = {"email": f"once-{uuid.uuid4().hex[:6]}@x.com", "role": "viewer"}

    first = await identity.post("/api/v1/invites", json=body, headers={**headers, **key})
    again = await identity.post("/api/v1/invites", json=body, headers={**headers, **key})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert await count(identity, sa.select(invites.c.id).where(invites.c.email == body["email"])) == 1
    events = sa.select(outbox.c.id).where(outbox.c.routing_key == "identity.invite.created",
                                          outbox.c.body["payload"]["email"].astext == body["email"])
    assert await count(identity, events) == 1

    changed = await identity.post("/api/v1/invites", json={**body, "role": "auditor"}, headers={**headers, **key})
    assert changed.status_code == 422 and "Idempotency-Key" in changed.json()["detail"]
    # Without a key, the same body is a second request: the email already has a pending invite.
    assert (await identity.post("/api/v1/invites", json=body, headers=headers)).status_code == 409


async def test_concurrent_invites_with_one_idempotency_key_make_one(identity, new_member):
    org_id = uuid.uuid4()
    headers = {**await signed_in_admin(identity, new_member, org_id), "Idempotency-Key": str(uuid.uuid4())}
    body = {"email": f"race-{uuid.uuid4().hex[:6]}@x.com", "role": "support"}
    answers = await asyncio.gather(*(identity.post("/api/v1/invites", json=body, headers=headers) for _ in range(5)))
    assert {answer.status_code for answer in answers} == {201}
    assert len({answer.json()["id"] for answer in answers}) == 1
    assert await count(identity, sa.select(invites.c.id).where(invites.c.email == body["email"])) == 1
    assert await count(identity, sa.select(idempotency_keys.c.key).where(
        idempotency_keys.c.key == headers["Idempotency-Key"])) == 1


async def test_a_refused_invite_leaves_its_key_free(identity, new_member):
    org_id = uuid.uuid4()
    headers = {**await signed_in_admin(identity, new_member, org_id), "Idempotency-Key": str(uuid.uuid4())}
    refused = await identity.post("/api/v1/invites", json={"email": "a@x.com", "role": "pilot"}, headers=headers)
    assert refused.status_code == 422
    assert await count(identity, sa.select(idempotency_keys.c.key).where(
        idempotency_keys.c.key == headers["Idempotency-Key"])) == 0


async def test_two_orgs_asking_in_turn_each_get_their_own_members_and_total(identity, new_member, password_hash):
    # The list's statements are built once per shape and shared: one org's values must never stay in them.
    orgs = {uuid.uuid4(): [("Ann", "Roe"), ("Abe", "Roe"), ("Bob", "Poe")], uuid.uuid4(): [("Al", "Roe"), ("Cy", "Poe")]}
    headers = {org: await signed_in_admin(identity, new_member, org) for org in orgs}
    async with identity.app.state.session_factory() as session:
        for org, names in orgs.items():
            for first_name, last_name in names:
                await session.execute(sa.insert(members).values(
                    id=uuid.uuid4(), org_id=org, tier="distributor", email=f"{first_name.lower()}{uuid.uuid4().hex[:6]}@x.com",
                    first_name=first_name, last_name=last_name, role="viewer", password_hash=password_hash, status="active"))
        await session.commit()
    first, second = orgs
    for org in (first, second, first):
        everyone = (await identity.get("/api/v1/members", params={"limit": 1, "include_total": "true"},
                                       headers=headers[org])).json()
        assert everyone["total"] == len(orgs[org]) + 1  # and the admin who signed in
        roes = (await identity.get("/api/v1/members", params={"q": "roe", "role": "viewer", "include_total": "true"},
                                   headers=headers[org])).json()
        assert roes["total"] == sum(1 for _, last_name in orgs[org] if last_name == "Roe")
        assert {m["first_name"] for m in roes["items"]} == {f for f, last_name in orgs[org] if last_name == "Roe"}
    for org, names in orgs.items():
        listed = await walk(identity, "/api/v1/members", headers[org], role="viewer", sort="first_name")
        assert [m["first_name"] for m in listed] == sorted(f for f, _ in names)
