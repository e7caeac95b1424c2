"""Which licenses a member's org may see: an end customer its own; an integrator its customers';
a distributor its integrators' customers' (the org directory copy knows the parents)."""

from collections.abc import Callable, Sequence
from typing import Annotated

import sqlalchemy as sa
from fastapi import Query, Request
from pydantic import BaseModel, Field

from devices.db import licenses, org_directory
from shared.auth.permissions import Role, Tier
from shared.auth.tokens import Caller
from shared.pagination import Page, newest_first_page, older_than_cursor
from shared.search import contains_pattern
from shared.validation import Text

SearchText = Annotated[
    Annotated[Text, Field(max_length=200)] | None, Query(description="Text search (contains, case-insensitive)")
]


def _children(parent_ids) -> sa.Select:
    return sa.select(org_directory.c.id).where(org_directory.c.parent_id.in_(parent_ids))


def visible_licenses(caller: Caller) -> sa.ColumnElement[bool]:
    if caller.tier == Tier.CUSTOMER:
        return licenses.c.org_id == caller.org_id
    if caller.tier == Tier.INTEGRATOR:
        return licenses.c.org_id.in_(_children([caller.org_id]))
    if caller.tier == Tier.DISTRIBUTOR:
        return licenses.c.org_id.in_(_children(_children([caller.org_id])))
    return sa.false()


def sees_keys(caller: Caller) -> bool:
    """The key is shown to the owning customer's Admin only (the scope already is its own org)."""
    return caller.tier == Tier.CUSTOMER and caller.role == Role.ADMIN


async def newest_first(request: Request, query: sa.Select, *, moment: sa.Column, model: type[BaseModel], limit: int,
                       cursor: str | None, search: str | None = None, search_columns: Sequence[sa.Column] = (),
                       shape: Callable[[dict], dict] = dict) -> Page:
    """One page of `query` newest first by (`moment`, id), matching `search` in any of
    `search_columns`; each row shaped by `shape` before it becomes a `model`."""
    id_column = moment.table.c.id
    query = query.order_by(moment.desc(), id_column.desc()).limit(limit + 1)
    if search and search.strip():
        pattern = contains_pattern(search)
        query = query.where(sa.or_(*(column.ilike(pattern, escape="\\") for column in search_columns)))
    query = older_than_cursor(query, cursor, moment, id_column)
    async with request.app.state.session_factory() as session:
        rows = (await session.execute(query)).mappings().all()
    return newest_first_page([shape(row) for row in rows], limit, model, moment.key, "id")
