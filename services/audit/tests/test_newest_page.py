"""The plain newest-first list (the dashboards' recent events, paging, a date range): it reads a
page's worth of rows however long the org's log, and its statement, built once and shared by
every request, never carries one org's values into another's answer."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from audit.bulk_load import copy_records

EVENTS = "/api/v1/audit-events"


def records(org: uuid.UUID, start: datetime, count: int, step: timedelta = timedelta(seconds=1)) -> list[dict]:
    return [
        {"event_id": uuid.uuid4(), "type": "identity.session.started", "category": "Sign-in", "message": f"m{i} signed in",
         "occurred_at": start + step * i, "producer": "identity", "actor_org_id": org, "actor_user_id": None,
         "visible_to": [org], "subject_ids": [org], "correlation_id": None, "payload": {}}
        for i in range(count)
    ]


def rows_read(plan: dict) -> int:
    """Rows the plan took from tables (kept or filtered out), over every loop."""
    read = 0
    if "Relation Name" in plan:
        kept_and_dropped = plan["Actual Rows"] + plan.get("Rows Removed by Filter", 0) + plan.get("Rows Removed by Index Recheck", 0)
        read += kept_and_dropped * plan["Actual Loops"]
    return read + sum(rows_read(child) for child in plan.get("Plans", []))


async def test_the_newest_page_reads_a_page_not_the_orgs_whole_log(audit_app, audit_api, audit_db, signed_in):
    # A long log for the reader, then as many newer records of another org: whether a plan goes
    # through the reader's records or walks everyone's newest first, it can no longer read all.
    reader, neighbour = uuid.uuid4(), uuid.uuid4()
    await copy_records(audit_db, records(reader, datetime(2090, 1, 1, tzinfo=UTC), 1500))
    await copy_records(audit_db, records(neighbour, datetime(2091, 1, 1, tzinfo=UTC), 1500))
    await audit_db.execute("ANALYZE audit_events, audit_chain")  # as autovacuum would after such a load
    sent = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        if "audit_events" in statement:
            sent.append((statement, parameters))

    sa.event.listen(audit_app.state.engine.sync_engine, "before_cursor_execute", keep)
    try:
        response = await audit_api.get(EVENTS, params={"limit": 20}, headers=signed_in(reader))
    finally:
        sa.event.remove(audit_app.state.engine.sync_engine, "before_cursor_execute", keep)

    assert response.status_code == 200
    assert [item["message"] for item in response.json()["items"]] == [f"m{i} signed in" for i in range(1499, 1479, -1)]
    [(statement, parameters)] = sent
    plan = json.loads(await audit_db.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", *parameters))[0]["Plan"]
    assert rows_read(plan) <= 3 * 21, json.dumps(plan, indent=1)


async def test_pages_asked_in_turn_by_two_orgs_each_hold_only_that_orgs_records(audit_api, audit_db, signed_in):
    first, second = uuid.uuid4(), uuid.uuid4()
    start = datetime(2085, 3, 1, tzinfo=UTC)
    # Interleaved in time: each org's records sit between the other's.
    logs = {first: records(first, start, 9, timedelta(minutes=2)),
            second: records(second, start + timedelta(minutes=1), 9, timedelta(minutes=2))}
    for log in logs.values():
        await copy_records(audit_db, log)
    window = {"from": (start + timedelta(minutes=3)).isoformat(), "to": (start + timedelta(minutes=14)).isoformat()}
    seen = {first: [], second: []}
    cursors = {first: None, second: None}
    for page_number in range(3):  # first's page, then second's page of the same shape, and so on
        for org in (first, second):
            params = {"limit": 2, **window} | ({"cursor": cursors[org]} if page_number else {})
            page = (await audit_api.get(EVENTS, params=params, headers=signed_in(org))).json()
            seen[org] += [item["event_id"] for item in page["items"]]
            cursors[org] = page["next_cursor"]

    for org, log in logs.items():
        in_window = [r for r in log if start + timedelta(minutes=3) <= r["occurred_at"] <= start + timedelta(minutes=14)]
        assert seen[org] == [str(r["event_id"]) for r in reversed(in_window)]
        assert cursors[org] is None
