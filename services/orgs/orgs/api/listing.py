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
from shared.sorting import SortBy, SortOrder, fetch_sorted_page
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


async def list_children(request: Request, parent_id: uuid.UUID, tier: str, params: ListQuery) -> Page[PartnerOut]:
    query = sa.select(organizations).where(
        organizations.c.parent_id == parent_id, organizations.c.tier == tier, organizations.c.status == params.status
    )
    if params.country:
        query = query.where(organizations.c.country == params.country.upper())
    if params.q and params.q.strip():
        pattern = contains_pattern(params.q)
        query = query.where(sa.or_(*(organizations.c[c].ilike(pattern, escape="\\") for c in SEARCHED)))
    async with request.app.state.session_factory() as session:
        return await fetch_sorted_page(session, query, SORTS, params.sort, params.order, organizations.c.id,
                                       params.cursor, params.limit, PartnerOut, params.include_total)
