"""The audit log's filters as SQL, shared by the list, the CSV export and the benchmark.

Every query is scoped to the reader's org (`visible_to` contains it). Text matches use ILIKE
'%term%', which the trigram indexes serve. Matching "the user" goes through the members read
model first (a small table): its ids then join the events' indexed `actor_user_id`.

The plain newest-first list (the dashboards' recent events, paging, a date range) reads the org's
chain instead, which holds one link per record the org sees, by its `audit_chain_newest` index:
a page reads a page's worth of links. Through `visible_to` the planner must choose between the
GIN index (every record of the org, then a sort: 6,000 rows for a page of 20) and walking all
records newest first (good only for an org that sees most of them), and without fresh statistics
it chose the first.
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from audit.db import audit_chain, audit_events, audit_members
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


# What a listed event shows, the actor's email as `user`.
_LISTED = (
    audit_events.c.event_id, audit_events.c.occurred_at, audit_events.c.type, audit_events.c.category,
    audit_events.c.message, audit_events.c.actor_org_id, audit_events.c.actor_user_id, audit_events.c.published_by,
    audit_members.c.email.label("user"),
)
_ACTOR = audit_members.c.member_id == audit_events.c.actor_user_id


def select_events(wanted: AuditFilter) -> sa.Select:
    """The events the filter selects, newest first, with the actor's email as `user`."""
    events = audit_events.c
    query = (
        sa.select(*_LISTED)
        .select_from(audit_events.outerjoin(audit_members, _ACTOR))
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


def newest_page(wanted: AuditFilter, after: tuple[datetime, uuid.UUID] | None, rows: int) -> tuple[sa.Select, dict] | None:
    """The `rows` newest records the org sees, in the filter's date range and older than `after`
    (a cursor's (occurred_at, event_id)), as select_events orders them, and the statement's
    parameters. None when the filter reads the records themselves (type, user, text, subject):
    select_events serves those."""
    if wanted.types or wanted.user is not None or wanted.search or wanted.subject_id is not None:
        return None
    shape = (wanted.occurred_from is not None, wanted.occurred_to is not None, after is not None)
    statement = _newest_pages.get(shape)
    if statement is None:
        statement = _newest_pages[shape] = _newest_page(*shape)
    values = {"org_id": wanted.org_id, "rows": rows, "occurred_from": wanted.occurred_from,
              "occurred_to": wanted.occurred_to}
    if after is not None:
        values["after_moment"], values["after_id"] = after
    return statement, {name: value for name, value in values.items() if value is not None}


# Newest-page statements by shape (a date bound or not, a cursor or not): the org and the values
# are bind parameters, so building one and working out its cache key happens once, not per request.
_newest_pages: dict[tuple[bool, bool, bool], sa.Select] = {}


def _newest_page(since: bool, until: bool, after: bool) -> sa.Select:
    chain = audit_chain.c
    query = (
        sa.select(*_LISTED)
        .select_from(
            audit_chain.join(audit_events, audit_events.c.event_id == chain.event_id).outerjoin(audit_members, _ACTOR)
        )
        .where(chain.org_id == sa.bindparam("org_id", type_=chain.org_id.type))
    )
    moment = chain.occurred_at.type
    if since:
        query = query.where(chain.occurred_at >= sa.bindparam("occurred_from", type_=moment))
    if until:
        query = query.where(chain.occurred_at <= sa.bindparam("occurred_to", type_=moment))
    if after:
        cursor = sa.tuple_(sa.bindparam("after_moment", type_=moment), sa.bindparam("after_id", type_=chain.event_id.type))
        query = query.where(sa.tuple_(chain.occurred_at, chain.event_id) < cursor)
    return query.order_by(chain.occurred_at.desc(), chain.event_id.desc()).limit(sa.bindparam("rows", type_=sa.Integer))


async def _members_matching(db: AsyncSession | AsyncConnection, text: str) -> tuple[uuid.UUID, ...]:
    query = sa.select(audit_members.c.member_id).where(audit_members.c.email.ilike(contains_pattern(text), escape="\\"))
    return tuple((await db.execute(query.limit(1000))).scalars().all())


def _as_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None
