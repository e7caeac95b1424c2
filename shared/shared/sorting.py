"""Lists sorted by any column of an explicit allow-list: `?sort=<column>&order=asc|desc`, paged by
a keyset cursor over (sort value, id).

Text columns sort case-insensitively and a missing value (NULL) sorts as the empty text, so the
sort value is never NULL and the keyset comparison holds across NULLs in both directions; other
columns must be NOT NULL. The cursor names its sort and order: a cursor from another sort is a 400.

    sorts = {"name": orgs.c.name, "created_at": orgs.c.created_at}
    async def list_orgs(..., sort: SortBy(sorts) = "created_at", order: SortOrder = None, ...):
        return await fetch_sorted_page(session, query, sorts, sort, order, orgs.c.id, cursor, limit, PartnerOut)
"""

import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import Query
from pydantic import AfterValidator, BaseModel

from shared.pagination import Page, count_matching, decode_cursor, encode_cursor
from shared.problems import Problem


def SortBy(columns: Iterable[str]) -> Any:  # noqa: N802 (used as a type: `sort: SortBy(SORTS) = "name"`)
    """`?sort=`: one of the list's allow-list, which the OpenAPI document shows as an enum."""
    allowed = tuple(columns)

    def one_of(value: str) -> str:
        if value not in allowed:
            # A Problem rather than a ValueError: the answer's detail is this sentence alone.
            raise Problem(422, f"sort must be one of: {', '.join(allowed)} (got '{value}').")
        return value

    return Annotated[str, AfterValidator(one_of),
                     Query(description="The column to sort by", json_schema_extra={"enum": list(allowed)})]


Direction = Annotated[Literal["asc", "desc"], Query(description="asc or desc")]
SortOrder = Annotated[
    Literal["asc", "desc"] | None,
    Query(description="asc or desc; by default text sorts ascending and dates newest first"),
]

_SORT_VALUE = "_sort_value"
_BAD_CURSOR = "The cursor is not one this API gave out for this sort; start again without it."


def _is_text(expression) -> bool:
    return isinstance(expression.type, sa.String)


def _sort_key(expression):
    return sa.func.lower(sa.func.coalesce(expression, "")) if _is_text(expression) else expression


def resolve_order(sorts: Mapping[str, Any], sort: str, order: str | None) -> str:
    """The order to use: the one asked for, else ascending for text and descending for the rest."""
    if sort not in sorts:
        raise Problem(422, f"sort must be one of: {', '.join(sorts)} (got '{sort}').")
    if order is not None:
        return order
    return "asc" if _is_text(sorts[sort]) else "desc"


def sorted_page_query(
    query: sa.Select, sorts: Mapping[str, Any], sort: str, order: str | None, id_column, cursor: str | None, limit: int
) -> sa.Select:
    """`query` ordered by the sort column (then id), after the cursor, limit + 1 rows; each row
    carries its sort value for the next cursor."""
    order = resolve_order(sorts, sort, order)
    key = _sort_key(sorts[sort])
    descending = order == "desc"
    query = query.add_columns(key.label(_SORT_VALUE))
    if cursor:
        after = _cursor_position(cursor, sort, order, sorts[sort])
        position = sa.tuple_(key, id_column)
        query = query.where(position < after if descending else position > after)
    ordering = (key.desc(), id_column.desc()) if descending else (key.asc(), id_column.asc())
    return query.order_by(*ordering).limit(limit + 1)


def sorted_page(rows, limit: int, model: type[BaseModel], sort: str, order: str | None, sorts: Mapping[str, Any],
                id_field: str = "id") -> Page:
    """The page of `limit` rows (fetched limit + 1) and the cursor to the next one, if any."""
    order = resolve_order(sorts, sort, order)
    items = [model.model_validate(dict(row)) for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        value = last[_SORT_VALUE]
        next_cursor = encode_cursor(
            sort, order, value.isoformat() if isinstance(value, datetime) else value, str(last[id_field])
        )
    return Page[model](items=items, next_cursor=next_cursor)


async def fetch_sorted_page(
    session, query: sa.Select, sorts: Mapping[str, Any], sort: str, order: str | None, id_column, cursor: str | None,
    limit: int, model: type[BaseModel], include_total: bool = False,
) -> Page:
    """One page of `query` (filtered, not yet ordered) and, when asked, how many rows it matches."""
    page_query = sorted_page_query(query, sorts, sort, order, id_column, cursor, limit)
    rows = (await session.execute(page_query)).mappings().all()
    page = sorted_page(rows, limit, model, sort, order, sorts)
    if include_total:
        page.total = await count_matching(session, query)
    return page


class SortedList:
    """One list's page and count statements, built once per shape and reused with bind parameters:
    building a statement and working out its cache key cost more than running it (a third of a
    small list's CPU). `filtered(present)` builds the filtered query for the optional filters
    `present` names, with bind parameters for every value (the caller's org too)."""

    def __init__(self, filtered: Callable[[frozenset[str]], sa.Select], sorts: Mapping[str, Any], id_column):
        self.filtered, self.sorts, self.id_column = filtered, sorts, id_column
        self._pages: dict[tuple, sa.Select] = {}
        self._counts: dict[frozenset[str], sa.Select] = {}

    async def fetch(self, session, values: Mapping[str, Any], sort: str, order: str | None, cursor: str | None,
                    limit: int, model: type[BaseModel], include_total: bool = False) -> Page:
        """`values`: the filters' values by bind parameter name; an optional filter left out is None."""
        present = frozenset(name for name, value in values.items() if value is not None)
        params = {name: value for name, value in values.items() if value is not None}
        order = resolve_order(self.sorts, sort, order)
        shape = (present, sort, order, bool(cursor))
        page_query = self._pages.get(shape)
        if page_query is None:
            page_query = self._pages[shape] = _bound_page_query(
                self.filtered(present), self.sorts[sort], order, self.id_column, bool(cursor))
        page_params = {**params, "rows": limit + 1}
        if cursor:
            page_params["after_key"], page_params["after_id"] = _cursor_position(cursor, sort, order, self.sorts[sort])
        rows = (await session.execute(page_query, page_params)).mappings().all()
        page = sorted_page(rows, limit, model, sort, order, self.sorts)
        if include_total:
            count = self._counts.get(present)
            if count is None:
                count = self._counts[present] = sa.select(sa.func.count()).select_from(self.filtered(present).subquery())
            page.total = (await session.execute(count, params)).scalar_one()
        return page


def _bound_page_query(query: sa.Select, column, order: str, id_column, after: bool) -> sa.Select:
    """sorted_page_query's statement with the cursor's position and the row count as bind parameters."""
    key = _sort_key(column)
    descending = order == "desc"
    query = query.add_columns(key.label(_SORT_VALUE))
    if after:
        position = sa.tuple_(key, id_column)
        bound = sa.tuple_(sa.bindparam("after_key", type_=column.type), sa.bindparam("after_id", type_=id_column.type))
        query = query.where(position < bound if descending else position > bound)
    ordering = (key.desc(), id_column.desc()) if descending else (key.asc(), id_column.asc())
    return query.order_by(*ordering).limit(sa.bindparam("rows", type_=sa.Integer))


def _cursor_position(cursor: str, sort: str, order: str, expression) -> tuple[Any, uuid.UUID]:
    """The (sort value, id) of the last row of the previous page; a 400 for any other cursor."""
    cursor_sort, cursor_order, value, last_id = decode_cursor(cursor, 4)
    if (cursor_sort, cursor_order) != (sort, order):
        raise Problem(400, _BAD_CURSOR)
    try:
        if isinstance(expression.type, sa.DateTime):
            value = datetime.fromisoformat(value)
        elif _is_text(expression) and not isinstance(value, str):
            raise ValueError(value)
        return value, uuid.UUID(last_id)
    except (TypeError, ValueError, AttributeError) as error:
        raise Problem(400, _BAD_CURSOR) from error
