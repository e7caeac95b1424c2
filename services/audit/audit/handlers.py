"""Audit reacts to every event: it stores each one once, with who did it and who may see it,
links it into the hash chain of every org that sees it, and remembers members' emails."""

import uuid

from sqlalchemy.dialects.postgresql import insert

from audit.chains import append_to_chains
from audit.db import audit_events, audit_members
from audit.domain.records import describe, org_ids_named
from audit.domain.subjects import stored_payload, subject_ids
from shared.auth.member_tokens import MEMBER_TOKEN_HANDLERS
from shared.bulk_insert import insert_rows
from shared.bus.consumer import BatchHandler
from shared.db import UnitOfWork
from shared.events.envelope import Envelope
from shared.events.identity import MemberCreated, MemberRemoved
from shared.org_directory import ORG_DIRECTORY_HANDLERS, find_orgs


async def record_events(uow: UnitOfWork, envelopes: list[Envelope]) -> None:
    """One insert for the whole batch: the audit log sees every event, so it must keep up."""
    # The orgs a transfer names, by name: the directory is fed by orgs' events, which come long before.
    ids = {uuid.UUID(org_id) for envelope in envelopes for org_id in org_ids_named(envelope.payload)}
    org_names = {str(org_id): org.name for org_id, org in (await find_orgs(uow, ids)).items()}
    rows = [_row(envelope, org_names) for envelope in envelopes]
    written = await insert_rows(uow, audit_events, rows, on_conflict="ON CONFLICT (event_id) DO NOTHING",
                                returning=["event_id"])
    stored = {row.event_id for row in written}
    await append_to_chains(uow, [row for row in rows if row["event_id"] in stored])


async def remember_members(uow: UnitOfWork, envelopes: list[Envelope]) -> None:
    rows = {}
    for envelope in envelopes:
        contract = MemberCreated if envelope.type == MemberCreated.routing_key else MemberRemoved
        member = envelope.payload_as(contract)
        rows[member.member_id] = {"member_id": member.member_id, "org_id": member.org_id, "email": member.email}
    statement = insert(audit_members)
    await uow.session.execute(
        statement.on_conflict_do_update(index_elements=[audit_members.c.member_id], set_={"email": statement.excluded.email}),
        list(rows.values()),
    )


def _row(envelope: Envelope, org_names: dict[str, str]) -> dict:
    record = describe(envelope.type, envelope.payload, org_names)
    actor = [envelope.actor_org_id] if envelope.actor_org_id else []
    payload = stored_payload(envelope.type, envelope.payload)
    return {
        "event_id": envelope.event_id,
        "type": envelope.type,
        "category": record.category,
        "message": record.message,
        "occurred_at": envelope.occurred_at,
        "producer": envelope.producer,
        "published_by": envelope.published_by,
        "actor_org_id": envelope.actor_org_id,
        "actor_user_id": envelope.actor_user_id,
        "visible_to": list(dict.fromkeys([*envelope.visible_to, *actor])),
        "subject_ids": subject_ids(payload, envelope.actor_org_id, envelope.actor_user_id),
        "correlation_id": envelope.correlation_id,
        "payload": payload,
    }


EVENT_HANDLERS = {
    **MEMBER_TOKEN_HANDLERS,
    **ORG_DIRECTORY_HANDLERS,
    "#": BatchHandler(record_events),
    MemberCreated.routing_key: BatchHandler(remember_members),
    MemberRemoved.routing_key: BatchHandler(remember_members),
}
