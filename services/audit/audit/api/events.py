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
from shared.pagination import Cursor, Limit, Page, newest_first_page, older_than_cursor

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
    query = older_than_cursor(query, cursor, audit_events.c.occurred_at, audit_events.c.event_id)
    async with request.app.state.session_factory() as session:
        rows = (await session.execute(query)).mappings().all()
    return newest_first_page(rows, limit, AuditEventPublic, "occurred_at", "event_id")
