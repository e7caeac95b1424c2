"""The audit log's pure rules: how times read, what an event is about, what is kept, the chain."""

import uuid
from datetime import UTC, datetime

import pytest

from audit.domain.chain import GENESIS, ChainCheck, ChainLink, link_hash, record_digest
from audit.domain.display import UnknownTimeZone, display_moment, in_zone, time_zone
from audit.domain.subjects import stored_payload, subject_ids
from shared.events.catalog import CONTRACTS
from shared.events.identity import InviteCreated


def test_a_moment_reads_day_month_year_and_time_in_the_zone():
    moment = datetime(2026, 3, 29, 0, 59, 59, 999999, tzinfo=UTC)
    assert display_moment(moment, time_zone("UTC")) == "29 Mar 2026, 00:59:59"
    assert display_moment(moment, time_zone("Europe/Paris")) == "29 Mar 2026, 01:59:59"  # just before DST
    assert display_moment(moment.replace(hour=1), time_zone("Europe/Paris")) == "29 Mar 2026, 03:59:59"
    assert display_moment(moment, time_zone("America/Los_Angeles")) == "28 Mar 2026, 17:59:59"


def test_a_moment_without_zone_is_read_in_the_readers_zone():
    assert in_zone(datetime(2026, 1, 1), time_zone("Asia/Tokyo")).utcoffset().total_seconds() == 9 * 3600
    aware = datetime(2026, 1, 1, tzinfo=UTC)
    assert in_zone(aware, time_zone("Asia/Tokyo")) is aware


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "/etc/passwd", "Europe/../UTC"])
def test_unknown_zones_are_refused(name):
    with pytest.raises(UnknownTimeZone):
        time_zone(name)


def test_an_event_is_about_every_id_it_names_and_its_actors():
    org, to_org, holder, member, actor = (uuid.uuid4() for _ in range(5))
    payload = {"org_id": str(org), "to_org_id": str(to_org), "holder_org_ids": [str(holder)], "entitlement_id": "ENT-1",
               "requested_by": str(member), "name": str(uuid.uuid4())}
    assert subject_ids(payload, actor, None) == [org, to_org, holder, member, actor]


def test_secrets_an_event_carries_are_not_kept():
    invite = {"email": "a@b.test", "token": "sealed:s3cret", "role": "admin"}
    assert stored_payload(InviteCreated.routing_key, invite) == {"email": "a@b.test", "role": "admin"}


def test_every_field_a_contract_marks_secret_is_left_out_and_nothing_else():
    # Generated from the contracts: a secret field added to any event is never stored, with no list of audit's own.
    with_secrets = {key: contract for key, contract in CONTRACTS.items() if contract.secret_fields}
    assert with_secrets  # the invites' tokens at least
    for routing_key, contract in CONTRACTS.items():
        payload = {name: f"value of {name}" for name in contract.model_fields}
        kept = stored_payload(routing_key, payload)
        assert set(kept) == set(contract.model_fields) - contract.secret_fields, routing_key


def _record(message: str = "Product P created") -> dict:
    return {"event_id": uuid.uuid4(), "type": "t", "category": "Licenses", "message": message,
            "occurred_at": datetime(2026, 1, 1, tzinfo=UTC), "producer": "p", "actor_org_id": None, "actor_user_id": None,
            "visible_to": [uuid.uuid4()], "subject_ids": [], "correlation_id": None, "payload": {"b": 1, "a": [1, "x"]}}


def test_the_digest_covers_the_content_not_the_key_order():
    record = _record()
    reordered = dict(reversed(list(record.items())), payload={"a": [1, "x"], "b": 1})
    assert record_digest(record) == record_digest(reordered)
    assert record_digest(record) != record_digest(record | {"message": "Product Q created"})


def _chain(org: uuid.UUID, records: list[dict]) -> list[ChainLink]:
    links, prev = [], GENESIS
    for seq, record in enumerate(records, start=1):
        digest = link_hash(prev, org, seq, record_digest(record))
        links.append(ChainLink(seq, record["event_id"], record["occurred_at"], prev, digest, record))
        prev = digest
    return links


def test_a_chain_checks_link_by_link_and_stops_at_the_first_break():
    org = uuid.uuid4()
    records = [_record(f"m{i}") for i in range(4)]
    links = _chain(org, records)
    check = ChainCheck(org)
    assert all(check.add(link) for link in links)
    check.finish(4, links[-1].hash)
    assert check.intact and check.checked == 4

    tampered = ChainCheck(org)
    links[1] = ChainLink(**{**links[1].__dict__, "record": records[1] | {"message": "changed"}})
    assert [tampered.add(link) for link in links] == [True, False, False, False]
    assert (tampered.first_broken.seq, tampered.first_broken.reason) == (2, "the record was altered")


def test_a_chain_moved_to_another_org_does_not_verify():
    org, other = uuid.uuid4(), uuid.uuid4()
    check = ChainCheck(other)
    assert check.add(_chain(org, [_record()])[0]) is False
