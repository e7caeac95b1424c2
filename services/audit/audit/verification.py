"""Recomputes one org's hash chain from the database, streaming it link by link."""

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from audit.db import audit_chain, audit_chain_heads, audit_events
from audit.domain.chain import GENESIS, ChainCheck, ChainLink

_RECORD_COLUMNS = [
    audit_events.c.type, audit_events.c.category, audit_events.c.message, audit_events.c.occurred_at.label("record_occurred_at"),
    audit_events.c.producer, audit_events.c.actor_org_id, audit_events.c.actor_user_id, audit_events.c.visible_to,
    audit_events.c.subject_ids, audit_events.c.correlation_id, audit_events.c.payload,
    audit_events.c.event_id.label("record_event_id"),
]


async def verify_chain(engine: AsyncEngine, org_id: uuid.UUID) -> ChainCheck:
    check = ChainCheck(org_id)
    links = (
        sa.select(audit_chain, *_RECORD_COLUMNS)
        .select_from(audit_chain.outerjoin(audit_events, audit_events.c.event_id == audit_chain.c.event_id))
        .where(audit_chain.c.org_id == org_id)
        .order_by(audit_chain.c.seq)
        .execution_options(yield_per=2000)
    )
    async with engine.connect() as connection:
        head = (await connection.execute(
            sa.select(audit_chain_heads.c.last_seq, audit_chain_heads.c.last_hash)
            .where(audit_chain_heads.c.org_id == org_id)
        )).first()
        rows = await connection.stream(links)
        try:
            async for row in rows:
                if not check.add(_link(row)):
                    break  # what follows a break proves nothing
        finally:
            await rows.close()
        check.finish(*(head or (0, GENESIS)))
        if check.intact:
            unchained = (await connection.execute(_unchained(org_id))).first()
            if unchained is not None:
                check.unchained(unchained.event_id, unchained.occurred_at)
    return check


def _link(row) -> ChainLink:
    record = None
    if row.record_event_id is not None:
        record = {
            "event_id": row.record_event_id, "type": row.type, "category": row.category, "message": row.message,
            "occurred_at": row.record_occurred_at, "producer": row.producer, "actor_org_id": row.actor_org_id,
            "actor_user_id": row.actor_user_id, "visible_to": row.visible_to, "subject_ids": row.subject_ids,
            "correlation_id": row.correlation_id, "payload": row.payload,
        }
    return ChainLink(row.seq, row.event_id, row.occurred_at, row.prev_hash, row.hash, record)


def _unchained(org_id: uuid.UUID) -> sa.Select:
    """The oldest record the org can see that its chain does not cover."""
    in_chain = sa.select(audit_chain.c.event_id).where(
        audit_chain.c.org_id == org_id, audit_chain.c.event_id == audit_events.c.event_id
    )
    return (
        sa.select(audit_events.c.event_id, audit_events.c.occurred_at)
        .where(audit_events.c.visible_to.contains([org_id]), ~in_chain.exists())
        .order_by(audit_events.c.occurred_at, audit_events.c.event_id)
        .limit(1)
    )
