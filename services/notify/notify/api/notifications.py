"""GET /api/v1/notifications: the emails sent (or owed) to the caller's org, with their delivery
state, newest first, so an Admin sees what failed for good (the dead letter);
POST /api/v1/notifications/{id}/retry: sends a failed one again.

Delivery records name people and their addresses, so only Admins see and retry them (the
permission table's `notifications:manage`).
"""

import uuid
from datetime import datetime
from typing import Literal

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from notify import handlers
from notify.db import notifications, of_org
from shared.auth.dependencies import require
from shared.auth.permissions import Action
from shared.auth.tokens import Caller
from shared.pagination import Cursor, Limit, Page, newest_first_page, older_than_cursor

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])

State = Literal["queued", "sent", "failed"]


class NotificationPublic(BaseModel):
    id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    recipient: str
    cc: list[str]
    subject: str
    state: State
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None  # when a queued one is tried next
    created_at: datetime
    sent_at: datetime | None


_COLUMNS = (
    notifications.c.id, notifications.c.event_id, notifications.c.event_type, notifications.c.recipient,
    notifications.c.cc, notifications.c.subject, notifications.c.state, notifications.c.attempts,
    notifications.c.last_error,
    sa.case((notifications.c.state == "queued", notifications.c.next_attempt_at)).label("next_attempt_at"),
    notifications.c.created_at, notifications.c.sent_at,
)


@router.get("", response_model=Page[NotificationPublic])
async def list_notifications(
    request: Request,
    caller: Caller = require(Action.MANAGE_NOTIFICATIONS),
    state: State | None = Query(default=None, description="Only the notifications in this state"),
    limit: Limit = 50,
    cursor: Cursor = None,
):
    statement = (
        sa.select(*_COLUMNS)
        .where(of_org(caller.org_id))
        .order_by(notifications.c.created_at.desc(), notifications.c.id.desc())
        .limit(limit + 1)
    )
    if state is not None:
        statement = statement.where(notifications.c.state == state)
    statement = older_than_cursor(statement, cursor, notifications.c.created_at, notifications.c.id)
    async with request.app.state.session_factory() as session:
        rows = (await session.execute(statement)).mappings().all()
    return newest_first_page(rows, limit, NotificationPublic, "created_at", "id")


@router.post("/{notification_id}/retry", response_model=NotificationPublic)
async def retry_notification(
    notification_id: uuid.UUID, request: Request, caller: Caller = require(Action.MANAGE_NOTIFICATIONS)
):
    """A failed notification is queued again with a fresh budget of attempts (e.g. after a long outage)."""
    await handlers.retry_notification(request.app.state.session_factory, notification_id, caller.org_id)
    async with request.app.state.session_factory() as session:
        row = (await session.execute(sa.select(*_COLUMNS).where(notifications.c.id == notification_id))).mappings().one()
    return NotificationPublic.model_validate(dict(row))
