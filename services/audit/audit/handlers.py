"""Audit reacts to every event: it stores each one once, with who did it and who may see it."""

from sqlalchemy.dialects.postgresql import insert

from audit.db import audit_events
from audit.domain.records import describe
from shared.bus.consumer import BatchHandler
from shared.db import UnitOfWork
from shared.events.envelope import Envelope


_INSERT = insert(audit_events).on_conflict_do_nothing(index_elements=[audit_events.c.event_id])


async def record_events(uow: UnitOfWork, envelopes: list[Envelope]) -> None:
    """One insert for the whole batch: the audit log sees every event, so it must keep up."""
    await uow.session.execute(_INSERT, [_row(envelope) for envelope in envelopes])


def _row(envelope: Envelope) -> dict:
    record = describe(envelope.type, envelope.payload)
    actor = [envelope.actor_org_id] if envelope.actor_org_id else []
    return {
        "event_id": envelope.event_id,
        "type": envelope.type,
        "category": record.category,
        "message": record.message,
        "occurred_at": envelope.occurred_at,
        "producer": envelope.producer,
        "actor_org_id": envelope.actor_org_id,
        "actor_user_id": envelope.actor_user_id,
        "visible_to": list(dict.fromkeys([*envelope.visible_to, *actor])),
        "correlation_id": envelope.correlation_id,
        "payload": envelope.payload,
    }


EVENT_HANDLERS = {"#": BatchHandler(record_events)}
