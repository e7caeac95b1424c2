"""GET /api/v1/audit-events: the events the caller's org may see, filtered, newest first;
and GET /api/v1/audit-events/export.csv: the same list as a streamed CSV file."""

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from audit.api.filters import AuditQueryParams
from audit.db import audit_events
from audit.domain.display import display_moment
from audit.queries import AuditFilter, newest_page, resolve_members, select_events
from shared.auth.dependencies import require
from shared.auth.permissions import Action
from shared.auth.tokens import Caller
from shared.csv_export import CsvFile, csv_response
from shared.pagination import Cursor, Limit, Page, encode_cursor, moment_and_id, older_than_cursor

router = APIRouter(prefix="/api/v1/audit-events", tags=["audit"])


class AuditEventPublic(BaseModel):
    event_id: uuid.UUID
    occurred_at: datetime  # UTC
    occurred_at_display: str  # DD MMM YYYY, HH:MM:SS in the `tz` asked for
    type: str  # Members, Licenses, Activations, Transfers, Sign-in...
    event_type: str  # the event's routing key, e.g. identity.member.created
    message: str
    user: str | None  # the actor's email; None for the system or a member not known yet
    actor_user_id: uuid.UUID | None
    actor_org_id: uuid.UUID | None
    # The service that published the event, as the broker authenticated it (its broker user).
    published_by: str | None


def _public(row, zone: ZoneInfo) -> AuditEventPublic:
    return AuditEventPublic(
        event_id=row.event_id, occurred_at=row.occurred_at, occurred_at_display=display_moment(row.occurred_at, zone),
        type=row.category, event_type=row.type, message=row.message, user=row.user,
        actor_user_id=row.actor_user_id, actor_org_id=row.actor_org_id, published_by=row.published_by,
    )


@router.get("", response_model=Page[AuditEventPublic])
async def list_audit_events(
    request: Request,
    query: AuditQueryParams,
    caller: Caller = require(Action.VIEW_AUDIT),
    limit: Limit = 50,
    cursor: Cursor = None,
):
    """Newest first; `?limit=20` is the dashboards' recent list, `?subject_id=` a record's activity."""
    wanted, after = query.for_org(caller), moment_and_id(cursor)
    async with request.app.state.session_factory() as session:
        newest = newest_page(wanted, after, limit + 1)
        if newest is not None:
            rows = (await session.execute(*newest)).all()
        else:
            wanted = await resolve_members(session, wanted)
            statement = older_than_cursor(
                select_events(wanted).limit(limit + 1), cursor, audit_events.c.occurred_at, audit_events.c.event_id
            )
            rows = (await session.execute(statement)).all()
    items = [_public(row, query.zone) for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(last.occurred_at.isoformat(), str(last.event_id))
    return Page[AuditEventPublic](items=items, next_cursor=next_cursor)


EXPORT_HEADER = ("Date & Time", "Date & Time (UTC)", "Message", "Type", "User", "Event", "Event ID")


@router.get("/export.csv", response_class=CsvFile)
async def export_audit_events(request: Request, query: AuditQueryParams, caller: Caller = require(Action.EXPORT_AUDIT)):
    """The filtered list, every page of it, streamed from a server-side cursor (flat memory)."""
    async with request.app.state.session_factory() as session:
        wanted = await resolve_members(session, query.for_org(caller))
    return csv_response("audit-events", EXPORT_HEADER, _export_rows(request.app.state.engine, wanted, query.zone))


async def _export_rows(engine: AsyncEngine, wanted: AuditFilter, zone: ZoneInfo) -> AsyncIterator[tuple]:
    # The connection lives inside the generator: it is opened when the response starts streaming
    # and closed when it ends or the client goes away.
    async with engine.connect() as connection:
        rows = await connection.stream(select_events(wanted).execution_options(yield_per=2000))
        async for row in rows:
            yield (display_moment(row.occurred_at, zone), row.occurred_at, row.message, row.category,
                   row.user or "", row.type, row.event_id)
