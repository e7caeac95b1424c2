"""Audit reacts to every event: it stores each one once, with who did it and who may see it."""

from sqlalchemy.dialects.postgresql import insert

from audit.db import audit_events
from audit.domain.records import describe
from shared.db import UnitOfWork
from shared.events.envelope import Envelope


async def record_event(uow: UnitOfWork, envelope: Envelope) -> None:
    record = describe(envelope.type, envelope.payload)
    visible_to = list(dict.fromkeys([*envelope.visible_to, *([envelope.actor_org_id] if envelope.actor_org_id else [])]))
    await uow.session.execute(
        insert(audit_events)
        .values(
            event_id=envelope.event_id,
            type=envelope.type,
            category=record.category,
            message=record.message,
            occurred_at=envelope.occurred_at,
            producer=envelope.producer,
            actor_org_id=envelope.actor_org_id,
            actor_user_id=envelope.actor_user_id,
            visible_to=visible_to,
            correlation_id=envelope.correlation_id,
            payload=envelope.payload,
        )
        .on_conflict_do_nothing(index_elements=[audit_events.c.event_id])
    )


EVENT_HANDLERS = {"#": record_event}
