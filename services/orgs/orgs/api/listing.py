"""The list of an organization's children of one tier (distributors, integrators, customers):
filter by status and country, search the visible columns, sort by any of them, keyset pages."""

import uuid
from dataclasses import dataclass
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import Depends, Query, Request
from pydantic import Field

from orgs.api.company import PartnerOut
from orgs.db import organizations
from shared.pagination import Cursor, IncludeTotal, Limit, Page
from shared.query_params import on_the_loop
from shared.search import contains_pattern
from shared.sorting import SortBy, SortedList, SortOrder
from shared.validation import Text

SEARCHED = ("name", "email_domain", "country", "contact_name", "contact_email")
SORTS = {
    name: organizations.c[name]
    for name in ("name", "email_domain", "country", "status", "contact_name", "contact_email", "phone", "address",
                 "tax_id", "note", "created_at")
}

Status = Literal["active", "archived"]


@dataclass
class ListQuery:
    """The query parameters every list of organizations takes (a FastAPI dependency)."""

    status: Status = "active"
    country: Annotated[Annotated[Text, Field(max_length=2)] | None, Query()] = None
    q: Annotated[Annotated[Text, Field(max_length=200)] | None, Query()] = None
    sort: SortBy(SORTS) = "created_at"
    order: SortOrder = None
    limit: Limit = 50
    cursor: Cursor = None
    include_total: IncludeTotal = False


ListParameters = Annotated[ListQuery, Depends(on_the_loop(ListQuery))]


def _children(present: frozenset[str]) -> sa.Select:
    """A parent's children of one tier and status; the values are bind parameters (SortedList)."""
    org = organizations.c
    query = sa.select(organizations).where(
        org.parent_id == sa.bindparam("parent_id", type_=org.parent_id.type),
        org.tier == sa.bindparam("tier", type_=org.tier.type),
        org.status == sa.bindparam("status", type_=org.status.type),
    )
    if "country" in present:
        query = query.where(org.country == sa.bindparam("country", type_=org.country.type))
    if "pattern" in present:
        pattern = sa.bindparam("pattern", type_=sa.Text)
        query = query.where(sa.or_(*(org[c].ilike(pattern, escape="\\") for c in SEARCHED)))
    return query


CHILDREN = SortedList(_children, SORTS, organizations.c.id)


async def list_children(request: Request, parent_id: uuid.UUID, tier: str, params: ListQuery) -> Page[PartnerOut]:
    values = {
        "parent_id": parent_id, "tier": tier, "status": params.status,
        "country": params.country.upper() if params.country else None,
        "pattern": contains_pattern(params.q) if params.q and params.q.strip() else None,
    }
    async with request.app.state.session_factory() as session:
        return await CHILDREN.fetch(session, values, params.sort, params.order, params.cursor, params.limit,
                                    PartnerOut, params.include_total)
