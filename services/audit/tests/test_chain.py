"""Tamper evidence over the real bus and database: each org's records form a hash chain that
`verify` recomputes; altering, deleting or slipping in a record is reported where it happened."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from audit.bulk_load import copy_records
from audit.main import create_app
from audit.settings import AuditSettings
from shared.testing import eventually, running

VERIFY = "/api/v1/audit-events/verify"


@pytest.fixture
def history(publish, stored):
    """Publishes `count` events of one org (some shared with a partner), oldest first, and waits
    until they are stored; returns their envelopes."""

    async def make(org: uuid.UUID, count: int, partner: uuid.UUID | None = None):
        start = datetime(2026, 4, 1, tzinfo=UTC)
        envelopes = []
        for i in range(count):
            shared = partner is not None and i % 2 == 1
            envelopes.append(await publish(
                "entitlements.product.created", {"product_id": str(uuid.uuid4()), "name": f"Product {i}", "license_type": "trial"},
                org=org, also_visible_to=(partner,) if shared else (), occurred_at=start + timedelta(minutes=i),
            ))
            # one at a time, so the chain order is the publishing order this test reasons about
            await stored(envelopes[-1])
        return envelopes

    return make


async def verify(audit_api, signed_in, org, role="admin") -> dict:
    response = await audit_api.get(VERIFY, headers=signed_in(org, role))
    assert response.status_code == 200, response.text
    return response.json()


async def test_an_untouched_chain_is_intact_for_each_org_that_sees_the_records(audit_api, signed_in, history):
    org, partner = uuid.uuid4(), uuid.uuid4()
    await history(org, 6, partner)
    mine = await verify(audit_api, signed_in, org, "auditor")
    assert mine["intact"] is True and mine["checked"] == 6 and mine["first_broken"] is None
    assert len(mine["head_hash"]) == 64
    theirs = await verify(audit_api, signed_in, partner)
    assert theirs["intact"] is True and theirs["checked"] == 3
    nobody = await verify(audit_api, signed_in, uuid.uuid4())
    assert nobody == {"intact": True, "checked": 0, "first_broken": None, "head_hash": "00" * 32}


async def test_an_altered_message_is_reported_at_that_record(audit_api, signed_in, history, audit_db):
    org, partner = uuid.uuid4(), uuid.uuid4()
    events = await history(org, 5, partner)
    victim = events[3]  # the 4th record of org, the 2nd of partner
    await audit_db.execute("UPDATE audit_events SET message = 'Nothing happened' WHERE event_id = $1", victim.event_id)

    report = await verify(audit_api, signed_in, org)
    assert report["intact"] is False
    assert report["first_broken"] == {
        "seq": 4, "event_id": str(victim.event_id), "occurred_at": "2026-04-01T00:03:00Z", "reason": "the record was altered",
    }
    assert report["checked"] == 4 and report["head_hash"] is None
    shared = await verify(audit_api, signed_in, partner)
    assert shared["first_broken"]["seq"] == 2 and shared["first_broken"]["event_id"] == str(victim.event_id)


@pytest.mark.parametrize("column_change", [
    "occurred_at = occurred_at - interval '1 second'",
    "actor_user_id = gen_random_uuid()",
    "payload = payload || '{\"name\": \"Other\"}'",
    "visible_to = visible_to || gen_random_uuid()",
])
async def test_any_stored_field_changed_breaks_the_chain(audit_api, signed_in, history, audit_db, column_change):
    org = uuid.uuid4()
    events = await history(org, 3)
    await audit_db.execute(f"UPDATE audit_events SET {column_change} WHERE event_id = $1", events[1].event_id)
    report = await verify(audit_api, signed_in, org)
    assert report["first_broken"]["seq"] == 2 and report["first_broken"]["reason"] == "the record was altered"


async def test_a_deleted_record_is_reported_at_its_place(audit_api, signed_in, history, audit_db):
    org = uuid.uuid4()
    events = await history(org, 4)
    await audit_db.execute("DELETE FROM audit_events WHERE event_id = $1", events[1].event_id)
    report = await verify(audit_api, signed_in, org)
    assert report["first_broken"] == {
        "seq": 2, "event_id": str(events[1].event_id), "occurred_at": "2026-04-01T00:01:00Z", "reason": "the record was deleted",
    }


async def test_a_record_deleted_with_its_link_leaves_a_gap_that_is_reported(audit_api, signed_in, history, audit_db):
    org = uuid.uuid4()
    events = await history(org, 4)
    await audit_db.execute("DELETE FROM audit_events WHERE event_id = $1", events[2].event_id)
    await audit_db.execute("DELETE FROM audit_chain WHERE event_id = $1", events[2].event_id)
    report = await verify(audit_api, signed_in, org)
    assert report["first_broken"]["seq"] == 3
    assert report["first_broken"]["reason"] == "a record is missing from the chain here"


async def test_the_newest_records_removed_with_their_links_are_reported(audit_api, signed_in, history, audit_db):
    org = uuid.uuid4()
    events = await history(org, 3)
    await audit_db.execute("DELETE FROM audit_chain WHERE org_id = $1 AND seq = 3", org)
    await audit_db.execute("DELETE FROM audit_events WHERE event_id = $1", events[2].event_id)
    report = await verify(audit_api, signed_in, org)
    assert report["first_broken"]["seq"] == 3
    assert report["first_broken"]["reason"] == "records are missing at the end of the chain"


async def test_a_record_slipped_in_behind_the_chain_is_reported(audit_api, signed_in, history, audit_db):
    org = uuid.uuid4()
    await history(org, 2)
    forged = uuid.uuid4()
    await audit_db.execute(
        "INSERT INTO audit_events (event_id, type, category, message, occurred_at, producer, visible_to, payload)"
        " VALUES ($1, 'identity.member.created', 'Members', 'eve joined as Admin', '2026-04-01T00:00:30Z', 'identity', $2, '{}')",
        forged, [org],
    )
    report = await verify(audit_api, signed_in, org)
    assert report["first_broken"] == {
        "seq": None, "event_id": str(forged), "occurred_at": "2026-04-01T00:00:30Z", "reason": "the record is not in the chain",
    }


async def test_tampering_in_one_org_leaves_the_others_chain_intact_and_unseen(audit_api, signed_in, history, audit_db):
    victim_org, other_org = uuid.uuid4(), uuid.uuid4()
    victim_events = await history(victim_org, 2)
    await history(other_org, 2)
    await audit_db.execute("UPDATE audit_events SET message = 'x' WHERE event_id = $1", victim_events[0].event_id)
    other = await verify(audit_api, signed_in, other_org)
    assert other["intact"] is True and other["checked"] == 2
    assert (await verify(audit_api, signed_in, victim_org))["intact"] is False


@pytest.mark.parametrize("role", ["viewer", "technician", "support"])
async def test_roles_without_audit_access_may_not_verify(audit_api, signed_in, role):
    response = await audit_api.get(VERIFY, headers=signed_in(uuid.uuid4(), role))
    assert response.status_code == 403


async def test_two_replicas_storing_at_once_keep_every_chain_whole(infrastructure, identity_keys_url, publish, signed_in, audit_db):
    """Two audit apps consume the same queue; records of three orgs (many shared) arrive at both."""
    orgs = [uuid.uuid4() for _ in range(3)]
    settings = infrastructure.settings(AuditSettings, identity_url=identity_keys_url, consumer_batch_size=16, consumer_prefetch=16)
    first, second = create_app(settings), create_app(settings)
    async with running(first), running(second):
        envelopes = await asyncio.gather(*(
            publish("entitlements.product.created", {"product_id": str(uuid.uuid4()), "name": f"P{i}", "license_type": "trial"},
                    org=orgs[i % 3], also_visible_to=tuple(orgs[(i + k) % 3] for k in range(1, 1 + i % 3)))
            for i in range(300)
        ))
        ids = [e.event_id for e in envelopes]

        async def all_stored():
            return await audit_db.fetchval("SELECT count(*) FROM audit_events WHERE event_id = ANY($1)", ids) == len(ids)

        await eventually(all_stored, timeout=60)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=first), base_url="http://audit") as client:
            for org in orgs:
                expected = sum(1 for e in envelopes if org in e.visible_to)
                report = (await client.get(VERIFY, headers=signed_in(org))).json()
                assert report == report | {"intact": True, "checked": expected, "first_broken": None}


async def test_records_loaded_in_bulk_verify_like_consumed_ones(audit_api, signed_in, audit_db):
    org, partner = uuid.uuid4(), uuid.uuid4()
    start = datetime(2024, 1, 1, tzinfo=UTC)
    records = [
        {"event_id": uuid.uuid4(), "type": "identity.session.started", "category": "Sign-in", "message": f"m{i} signed in",
         "occurred_at": start + timedelta(seconds=i), "producer": "identity", "actor_org_id": org, "actor_user_id": uuid.uuid4(),
         "visible_to": [org, partner] if i % 10 == 0 else [org], "subject_ids": [org], "correlation_id": f"c{i}",
         "payload": {"i": i, "nested": {"x": [1, 2.5, "é"]}}}
        for i in range(2000)
    ]
    await copy_records(audit_db, records)
    assert (await verify(audit_api, signed_in, org))["checked"] == 2000
    assert (await verify(audit_api, signed_in, partner)) | {"head_hash": None} == {
        "intact": True, "checked": 200, "first_broken": None, "head_hash": None}
