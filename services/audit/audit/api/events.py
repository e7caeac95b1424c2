"""GET /api/v1/audit-events: the events the caller's org may see, newest first."""

import uuid
from datetime import datetime

import sqlalchemy as sa
from fastapi import APIRouter, Request
from pydantic import BaseModel

from audit.db import audit_events
from shared.auth.dependencies import require
from shared.auth.permissions import Action
from shared.auth.tokens import Caller
from shared.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor
from shared.problems import Problem

router = APIRouter(prefix="/api/v1/audit-events", tags=["audit"])


class AuditEventPublic(BaseModel):
    event_id: uuid.UUID
    occurred_at: datetime
    type: str
    category: str
    message: str
    actor_org_id: uuid.UUID | None
    actor_user_id: uuid.UUID | None


@router.get("", response_model=Page[AuditEventPublic])
async def list_audit_events(
    request: Request, caller: Caller = require(Action.VIEW_AUDIT), limit: Limit = 50, cursor: Cursor = None
):
    query = (
        sa.select(audit_events)
        .where(audit_events.c.visible_to.contains([caller.org_id]))
        .order_by(audit_events.c.occurred_at.desc(), audit_events.c.event_id.desc())
        .limit(limit + 1)
    )
    if cursor:
        occurred_at, event_id = decode_cursor(cursor, 2)
        try:
            key = (datetime.fromisoformat(occurred_at), uuid.UUID(event_id))
        except (TypeError, ValueError) as error:
            raise Problem(400, "The cursor is not one this API gave out; start again without it.") from error
        query = query.where(sa.tuple_(audit_events.c.occurred_at, audit_events.c.event_id) < key)
    async with request.app.state.session_factory() as session:
        rows = (await session.execute(query)).mappings().all()
    items = [AuditEventPublic.model_validate(dict(row)) for row in rows[:limit]]
    next_cursor = encode_cursor(items[-1].occurred_at.isoformat(), str(items[-1].event_id)) if len(rows) > limit else None
    return Page[AuditEventPublic](items=items, next_cursor=next_cursor)
