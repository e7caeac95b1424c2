"""The CSV export: Admin only, the same filters as the list, cells a spreadsheet would run as
formulas neutralized, and any size streamed in flat memory."""

import csv
import io
import os
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from audit.bulk_load import copy_records
from shared.testing import serving

EXPORT = "/api/v1/audit-events/export.csv"


def rows_of(response: httpx.Response) -> list[list[str]]:
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


async def test_the_export_is_the_filtered_list_with_formulas_neutralized(audit_api, publish, stored, signed_in):
    org, other = uuid.uuid4(), uuid.uuid4()
    mallory, admin = uuid.uuid4(), uuid.uuid4()
    evil = "=HYPERLINK(\"http://evil.test\",\"x\")@evil.test"
    published = [
        await publish("identity.member.created", {"member_id": str(mallory), "org_id": str(org), "email": evil, "role": "viewer"},
                      org=org, user=admin, occurred_at=datetime(2026, 5, 1, 22, 15, 5, tzinfo=UTC)),
        await publish("identity.session.started", {"member_id": str(mallory), "org_id": str(org)},
                      org=org, user=mallory, occurred_at=datetime(2026, 5, 2, 8, 0, 0, tzinfo=UTC)),
        await publish("entitlements.product.created", {"product_id": str(uuid.uuid4()), "name": "@SUM(A1)", "license_type": "-1+1"},
                      org=org, user=admin, occurred_at=datetime(2026, 5, 3, 8, 0, 0, tzinfo=UTC)),
        await publish("entitlements.product.created", {"product_id": str(uuid.uuid4()), "name": "Other's", "license_type": "trial"},
                      org=other, user=admin, occurred_at=datetime(2026, 5, 3, 9, 0, 0, tzinfo=UTC)),
    ]
    await stored(*published)

    response = await audit_api.get(EXPORT, params={"tz": "Asia/Kolkata"}, headers=signed_in(org))
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    header, *rows = rows_of(response)
    assert header == ["Date & Time", "Date & Time (UTC)", "Message", "Type", "User", "Event", "Event ID"]
    assert [row[6] for row in rows] == [str(e.event_id) for e in reversed(published[:3])]
    # 22:15:05 UTC on 1 May is 03:45:05 on 2 May in India (UTC+05:30)
    assert rows[2][0] == "02 May 2026, 03:45:05"
    assert rows[2][1].startswith("2026-05-01T22:15:05")
    assert rows[1][4] == "'" + evil  # the user cell
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    assert any(cell.startswith("'") and "=HYPERLINK" in cell for cell in rows[2])  # the message of the join
    assert "@SUM(A1)" in rows[0][2]

    only_sign_ins = rows_of(await audit_api.get(EXPORT, params={"type": "Sign-in"}, headers=signed_in(org)))
    assert [row[6] for row in only_sign_ins[1:]] == [str(published[1].event_id)]
    none = rows_of(await audit_api.get(EXPORT, params={"search": "Other's"}, headers=signed_in(org)))
    assert none == [header]


@pytest.mark.parametrize(
    ("role", "tier", "list_status", "export_status"),
    [
        ("admin", "distributor", 200, 200),
        ("admin", "customer", 200, 200),
        ("project_manager", "distributor", 200, 403),
        ("auditor", "integrator", 200, 403),
        ("technician", "distributor", 403, 403),
        ("support", "integrator", 403, 403),
        ("viewer", "distributor", 403, 403),
        ("viewer", "customer", 200, 403),  # document 2: every customer member sees the audits
    ],
)
async def test_who_may_read_and_export_follows_the_permission_table(
    audit_api, signed_in, role, tier, list_status, export_status
):
    headers = signed_in(uuid.uuid4(), role, tier)
    listed = await audit_api.get("/api/v1/audit-events", headers=headers)
    exported = await audit_api.get(EXPORT, headers=headers)
    assert (listed.status_code, exported.status_code) == (list_status, export_status)
    for response in (listed, exported):
        if response.status_code == 403:
            assert response.headers["content-type"] == "application/problem+json"
            assert role in response.json()["detail"]


async def test_bad_export_filters_are_refused_before_anything_streams(audit_api, signed_in):
    response = await audit_api.get(EXPORT, params={"tz": "Nowhere/Land"}, headers=signed_in(uuid.uuid4()))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


ROWS = 100_000


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def test_a_100000_row_export_streams_in_bounded_memory(audit_app, infrastructure, signed_in):
    """The server runs in this process (uvicorn, real TCP), so its memory is this process's."""
    org = uuid.uuid4()
    start = datetime(2025, 1, 1, tzinfo=UTC)
    connection = await asyncpg.connect(infrastructure.database_url("audit").replace("+asyncpg", ""))
    try:
        # The rows are generated as COPY sends them (never all in memory); no chain: this org is
        # only exported, and bulk chaining is covered by the verify tests.
        records = (_bulk_record(org, start + timedelta(seconds=i), i) for i in range(ROWS))
        await copy_records(connection, records, chained=False)
    finally:
        await connection.close()

    lines = size = 0
    head = tail = b""
    baseline = highest = resident_bytes()
    async with serving(audit_app) as base_url, httpx.AsyncClient(base_url=base_url, timeout=120) as client:
        async with client.stream("GET", EXPORT, headers=signed_in(org)) as response:
            assert response.status_code == 200
            async for chunk in response.aiter_raw():
                size += len(chunk)
                lines += chunk.count(b"\n")
                if len(head) < 1000:
                    head = (head + chunk)[:1000]
                tail = (tail + chunk)[-400:]
                highest = max(highest, resident_bytes())
    growth = highest - baseline
    print(f"exported {lines} lines, {size / 1e6:.1f} MB; resident memory grew {growth / 1e6:.1f} MB")
    assert lines == ROWS + 1
    # Holding the rows would take several times the file's size; streaming takes a few MB.
    assert size > 10_000_000
    assert growth < 50_000_000, f"resident memory grew {growth / 1e6:.1f} MB while streaming {size / 1e6:.1f} MB"
    newest = next(csv.reader([head.decode().split("\n")[1]]))
    oldest = next(csv.reader([tail.decode().rstrip("\r\n").split("\n")[-1]]))
    assert (newest[0], newest[2]) == ("02 Jan 2025, 03:46:39", "Record 99999")  # newest first
    assert (oldest[0], oldest[2]) == ("01 Jan 2025, 00:00:00", "Record 0")


def _bulk_record(org: uuid.UUID, moment: datetime, i: int) -> dict:
    return {
        "event_id": uuid.uuid4(), "type": "entitlements.activation.created", "category": "Activations",
        "message": f"Record {i}", "occurred_at": moment, "producer": "entitlements", "actor_org_id": org,
        "actor_user_id": None, "visible_to": [org], "subject_ids": [org], "correlation_id": None, "payload": {},
    }
