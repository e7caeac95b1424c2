"""The ledger's history: who held what at a given moment (`/licenses/holdings?as_of=`) and the
entries that explain a holding (`/licenses/ledger`), for the caller's org and its child orgs only."""

import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

HOLDINGS, LEDGER = "/api/v1/licenses/holdings", "/api/v1/licenses/ledger"


async def database_now(app) -> datetime:
    """A moment between two steps, on the clock that stamps the ledger entries."""
    async with app.state.engine.connect() as conn:
        return await conn.scalar(sa.text("SELECT clock_timestamp()"))


async def org_name(app, org_id: uuid.UUID) -> str:
    async with app.state.engine.connect() as conn:
        return await conn.scalar(sa.text("SELECT name FROM org_directory WHERE id = :id"), {"id": org_id})


@pytest.fixture
async def story(app, api, licensing):
    """A chain of moments: nothing issued (0), 10 Cameras issued to the distributor (1), 6 passed to
    the integrator (2), all 6 passed on to the customer, who activates 2 (3), then gives them back (4)."""
    camera = await licensing.product("Camera")
    moments = [await database_now(app)]
    entitlement_id = (await licensing.issue([(camera, 10)]))["entitlement_id"]
    moments.append(await database_now(app))
    await licensing.transfer(entitlement_id, camera, licensing.orgs.distributor, licensing.orgs.integrator, 6)
    moments.append(await database_now(app))
    await licensing.transfer(entitlement_id, camera, licensing.orgs.integrator, licensing.orgs.customer, None)
    activation = (await licensing.activate(entitlement_id, camera, 2)).json()
    moments.append(await database_now(app))
    deactivated = await api.post(f"/api/v1/activations/{activation['id']}/deactivate", headers=licensing.customer)
    assert deactivated.status_code == 200, deactivated.text
    moments.append(await database_now(app))
    return entitlement_id, camera, activation, moments


async def held_at(pages, headers, moment: datetime | None = None, **params) -> dict[tuple[str, str], int]:
    if moment is not None:
        params["as_of"] = moment.isoformat()
    return {(h["entitlement_id"], h["product_name"]): h["available"] for h in await pages(HOLDINGS, headers, **params)}


async def test_holdings_as_of_three_moments_for_the_caller_and_its_children(pages, licensing, story):
    entitlement_id, _, _, (nothing_yet, issued, passed, used, given_back) = story
    camera = (entitlement_id, "Camera")
    orgs = licensing.orgs
    distributor = licensing.distributor

    assert [await held_at(pages, distributor, m) for m in (nothing_yet, issued, passed, used)] == [
        {}, {camera: 10}, {camera: 4}, {camera: 4}]
    # The integrator's detail panel, seen by its distributor: received at 2, passed on entirely at 3 (0, not gone).
    integrator = {"org_id": str(orgs.integrator)}
    assert [await held_at(pages, distributor, m, **integrator) for m in (issued, passed, used)] == [
        {}, {camera: 6}, {camera: 0}]
    customer = {"org_id": str(orgs.customer)}
    assert [await held_at(pages, licensing.integrator, m, **customer) for m in (passed, used, given_back)] == [
        {}, {camera: 4}, {camera: 6}]
    # Without as_of: now, as the products tab shows it.
    assert await held_at(pages, licensing.customer) == {camera: 6}
    [tab] = await pages("/api/v1/licenses/products", licensing.customer)
    assert tab["available"] == 6
    # The vendor issued everything and holds nothing itself; it reads its distributor's history.
    assert await held_at(pages, licensing.vendor, used) == {}
    assert await held_at(pages, licensing.vendor, passed, org_id=str(orgs.distributor)) == {camera: 4}
    # A moment without a zone is read as UTC.
    naive = passed.astimezone(UTC).replace(tzinfo=None)
    assert await held_at(pages, licensing.distributor, naive, **integrator) == {camera: 6}
    await licensing.conserved()


async def test_holdings_filter_sort_and_page(api, pages, licensing):
    camera, door = await licensing.product("Camera"), await licensing.product("Door")
    first = (await licensing.issue([(camera, 3), (door, 5)]))["entitlement_id"]
    second = (await licensing.issue([(camera, 7)]))["entitlement_id"]

    async def listed(**params) -> list[tuple[str, str, int]]:
        return [(h["entitlement_id"], h["product_name"], h["available"])
                for h in await pages(HOLDINGS, licensing.distributor, **params)]

    everything = [(first, "Camera", 3), (first, "Door", 5), (second, "Camera", 7)]
    assert sorted(await listed(limit=1)) == everything
    assert await listed(entitlement_id=first, sort="product_name") == everything[:2]
    assert await listed(product_id=camera["id"], sort="available", order="desc", limit=1) == [everything[2],
                                                                                              everything[0]]
    assert await listed(entitlement_id="ENT-1999-000001") == []
    cursor = (await api.get(HOLDINGS, headers=licensing.distributor, params={"limit": 1})).json()["next_cursor"]
    mismatched = await api.get(HOLDINGS, headers=licensing.distributor, params={"cursor": cursor, "sort": "available"})
    assert mismatched.status_code == 400


async def test_ledger_entries_explain_each_holding(app, pages, licensing, story):
    entitlement_id, camera, activation, _ = story
    line = {"entitlement_id": entitlement_id, "product_id": camera["id"]}
    orgs = licensing.orgs

    entries = await pages(LEDGER, licensing.customer, **line)
    assert [(e["kind"], e["quantity"], e["available_after"]) for e in entries] == [
        ("activation_reversal", 2, 6), ("activation", -2, 4), ("transfer_in", 6, 6)]  # newest first
    assert sum(e["quantity"] for e in entries) == 6 == (await held_at(pages, licensing.customer))[
        (entitlement_id, "Camera")]
    assert entries[0]["activation_id"] == entries[1]["activation_id"] == activation["id"]
    transfer_in = entries[2]
    assert (transfer_in["counterparty_org_id"], transfer_in["counterparty_name"]) == (
        str(orgs.integrator), await org_name(app, orgs.integrator))
    assert transfer_in["transfer_id"] is not None

    # The distributor's own entries: never the integrator's side of the same transfer.
    mine = await pages(LEDGER, licensing.distributor, **line)
    assert [(e["kind"], e["quantity"], e["available_after"]) for e in mine] == [("transfer_out", -6, 4),
                                                                                 ("issue", 10, 10)]
    assert mine[0]["counterparty_name"] == await org_name(app, orgs.integrator)
    # A child's holding, from its parent: the integrator's two transfers, summing to its 0.
    theirs = await pages(LEDGER, licensing.distributor, org_id=str(orgs.integrator), **line)
    assert [(e["kind"], e["quantity"]) for e in theirs] == [("transfer_out", -6), ("transfer_in", 6)]
    assert sum(e["quantity"] for e in theirs) == 0
    await licensing.conserved()


async def test_the_ledger_filters_by_kind_and_time_and_pages_both_ways(api, pages, licensing, story):
    entitlement_id, camera, _, (_, _, _, used, given_back) = story
    line = {"entitlement_id": entitlement_id, "product_id": camera["id"]}

    async def kinds(**params) -> list[str]:
        return [e["kind"] for e in await pages(LEDGER, licensing.customer, **line, **params)]

    assert await kinds(limit=1) == ["activation_reversal", "activation", "transfer_in"]
    assert await kinds(limit=1, order="asc") == ["transfer_in", "activation", "activation_reversal"]
    assert await kinds(kind="activation") == ["activation"]
    assert await kinds(occurred_from=used.isoformat()) == ["activation_reversal"]
    assert await kinds(occurred_to=used.isoformat()) == ["activation", "transfer_in"]
    assert await kinds(occurred_from=used.isoformat(), occurred_to=given_back.isoformat()) == ["activation_reversal"]
    backwards = await api.get(LEDGER, headers=licensing.customer,
                              params={**line, "occurred_from": given_back.isoformat(), "occurred_to": used.isoformat()})
    assert backwards.status_code == 422 and "after its end" in backwards.json()["detail"]
    assert (await api.get(LEDGER, headers=licensing.customer, params={**line, "kind": "gift"})).status_code == 422


@pytest.mark.parametrize("as_of", ["yesterday", "2026-13-01T00:00:00Z", "2026-01-01T25:00:00", ""])
async def test_a_bad_moment_is_a_422_problem(api, licensing, as_of):
    answer = await api.get(HOLDINGS, headers=licensing.distributor, params={"as_of": as_of})
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json" and "as_of" in answer.json()["detail"]
    ledger = await api.get(LEDGER, headers=licensing.distributor, params={
        "entitlement_id": "ENT-2026-000001", "product_id": str(uuid.uuid4()), "occurred_from": as_of})
    assert ledger.status_code == 422 and ledger.headers["content-type"] == "application/problem+json"


async def test_other_orgs_histories_are_not_found(api, licensing, story):
    entitlement_id, camera, _, (_, _, passed, _, _) = story
    orgs = licensing.orgs
    line = {"entitlement_id": entitlement_id, "product_id": camera["id"]}
    stranger = await licensing.add_org("integrator", await licensing.add_org("distributor", orgs.vendor))
    # A grandchild, a parent, a stranger's org, an unknown id: 404, never their entries.
    for caller, org_id in ((licensing.distributor, orgs.customer), (licensing.customer, orgs.integrator),
                           (licensing.distributor, stranger), (licensing.distributor, uuid.uuid4())):
        for path, params in ((HOLDINGS, {"as_of": passed.isoformat()}), (LEDGER, line)):
            answer = await api.get(path, headers=caller, params={**params, "org_id": str(org_id)})
            assert answer.status_code == 404, (path, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
    # A line the caller never held (or that does not exist) has no ledger for it.
    outsider = licensing.as_(stranger, "integrator")
    for caller, params in ((outsider, line), (licensing.vendor, line),
                           (licensing.customer, {**line, "entitlement_id": "ENT-1999-000001"}),
                           (licensing.customer, {**line, "product_id": str(uuid.uuid4())})):
        answer = await api.get(LEDGER, headers=caller, params=params)
        assert answer.status_code == 404, answer.text
    assert (await api.get(HOLDINGS, headers=outsider)).json()["items"] == []
    assert (await api.get(LEDGER, headers=licensing.customer, params={"entitlement_id": entitlement_id})
            ).status_code == 422
