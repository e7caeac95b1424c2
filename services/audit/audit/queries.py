"""The audit log's filters as SQL, shared by the list, the CSV export and the benchmark.

Every query is scoped to the reader's org (`visible_to` contains it). Text matches use ILIKE
'%term%', which the trigram indexes serve. Matching "the user" goes through the members read
model first (a small table): its ids then join the events' indexed `actor_user_id`.
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from audit.db import audit_events, audit_members
from audit.domain.records import CATEGORIES, CATEGORIES_BY_TIER
from shared.search import contains_pattern

KNOWN_TYPES = sorted({*CATEGORIES.values(), *CATEGORIES_BY_TIER.values()})


@dataclass(frozen=True)
class AuditFilter:
    org_id: uuid.UUID
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None
    types: tuple[str, ...] = ()
    user: str | None = None
    search: str | None = None
    subject_id: uuid.UUID | None = None
    # members whose email matches `user` / `search`, found by `resolve_members`
    user_ids: tuple[uuid.UUID, ...] | None = field(default=None)
    search_user_ids: tuple[uuid.UUID, ...] = field(default=())


async def resolve_members(db: AsyncSession | AsyncConnection, wanted: AuditFilter) -> AuditFilter:
    """Looks up the members the user and search texts name (by email), once per request."""
    user_ids, search_user_ids = wanted.user_ids, wanted.search_user_ids
    if wanted.user is not None and _as_uuid(wanted.user) is None:
        user_ids = await _members_matching(db, wanted.user)
    if wanted.search:
        search_user_ids = await _members_matching(db, wanted.search)
    return AuditFilter(**{**wanted.__dict__, "user_ids": user_ids, "search_user_ids": search_user_ids})


def select_events(wanted: AuditFilter) -> sa.Select:
    """The events the filter selects, newest first, with the actor's email as `user`."""
    events = audit_events.c
    query = (
        sa.select(
            events.event_id, events.occurred_at, events.type, events.category, events.message,
            events.actor_org_id, events.actor_user_id, audit_members.c.email.label("user"),
        )
        .select_from(audit_events.outerjoin(audit_members, audit_members.c.member_id == events.actor_user_id))
        .where(events.visible_to.contains([wanted.org_id]))
        .order_by(events.occurred_at.desc(), events.event_id.desc())
    )
    if wanted.occurred_from is not None:
        query = query.where(events.occurred_at >= wanted.occurred_from)
    if wanted.occurred_to is not None:
        query = query.where(events.occurred_at <= wanted.occurred_to)
    if wanted.types:
        query = query.where(events.category.in_(wanted.types))
    if wanted.subject_id is not None:
        query = query.where(events.subject_ids.contains([wanted.subject_id]))
    if wanted.user is not None:
        user_id = _as_uuid(wanted.user)
        ids = [user_id] if user_id is not None else list(wanted.user_ids or ())
        query = query.where(events.actor_user_id.in_(ids) if ids else sa.false())
    if wanted.search:
        text = events.message.ilike(contains_pattern(wanted.search), escape="\\")
        if wanted.search_user_ids:
            text = sa.or_(text, events.actor_user_id.in_(wanted.search_user_ids))
        query = query.where(text)
    return query


async def _members_matching(db: AsyncSession | AsyncConnection, text: str) -> tuple[uuid.UUID, ...]:
    query = sa.select(audit_members.c.member_id).where(audit_members.c.email.ilike(contains_pattern(text), escape="\\"))
    return tuple((await db.execute(query.limit(1000))).scalars().all())


def _as_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None
