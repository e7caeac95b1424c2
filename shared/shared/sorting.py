"""Lists sorted by any column of an explicit allow-list: `?sort=<column>&order=asc|desc`, paged by
a keyset cursor over (sort value, id).

Text columns sort case-insensitively and a missing value (NULL) sorts as the empty text, so the
sort value is never NULL and the keyset comparison holds across NULLs in both directions; other
columns must be NOT NULL. The cursor names its sort and order: a cursor from another sort is a 400.

    sorts = {"name": orgs.c.name, "created_at": orgs.c.created_at}
    async def list_orgs(..., sort: SortBy(sorts) = "created_at", order: SortOrder = None, ...):
        return await fetch_sorted_page(session, query, sorts, sort, order, orgs.c.id, cursor, limit, PartnerOut)
"""

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import Query
from pydantic import AfterValidator, BaseModel

from shared.keyset import Window, text
from shared.pagination import Page, count_matching
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


def _is_text(expression) -> bool:
    return isinstance(expression.type, sa.String)


def _sort_key(expression):
    if not _is_text(expression):
        return expression
    # Typed as the column, so the cursor's key is bound as text.
    return sa.func.lower(sa.func.coalesce(expression, ""), type_=expression.type)


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
    window = _window(sorts, sort, order, cursor, limit)
    return _page_query(query, sorts[sort], window, id_column, with_values=True)


def sorted_page(rows, limit: int, model: type[BaseModel], sort: str, order: str | None, sorts: Mapping[str, Any],
                id_field: str = "id") -> Page:
    """The page of `limit` rows (fetched limit + 1) and the cursor to the next one, if any."""
    window = Window(sort, resolve_order(sorts, sort, order), None, limit)
    return Page[model](items=[model.model_validate(dict(row)) for row in rows[:limit]],
                       next_cursor=window.next_cursor(rows, key_field=_SORT_VALUE, id_field=id_field))


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
    building a statement and working out its cache key costs more than running it on a small list.
    `filtered(present)` builds the filtered query for the optional filters
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
        window = _window(self.sorts, sort, order, cursor, limit)
        shape = (present, window.shape)
        page_query = self._pages.get(shape)
        if page_query is None:
            page_query = self._pages[shape] = _page_query(self.filtered(present), self.sorts[sort], window,
                                                          self.id_column)
        rows = (await session.execute(page_query, {**params, **window.params()})).mappings().all()
        page = sorted_page(rows, limit, model, sort, window.order, self.sorts)
        if include_total:
            count = self._counts.get(present)
            if count is None:
                count = self._counts[present] = sa.select(sa.func.count()).select_from(self.filtered(present).subquery())
            page.total = (await session.execute(count, params)).scalar_one()
        return page


def _window(sorts: Mapping[str, Any], sort: str, order: str | None, cursor: str | None, limit: int) -> Window:
    """The page asked for; the cursor's sort value is read back as the column's type (a 400 if not)."""
    order = resolve_order(sorts, sort, order)
    column = sorts[sort]
    if isinstance(column.type, sa.DateTime):
        read_key = datetime.fromisoformat
    else:
        read_key = text if _is_text(column) else _as_given
    return Window.of(sort=sort, order=order, cursor=cursor, limit=limit, read_key=read_key)


def _as_given(value: Any) -> Any:
    return value


def _page_query(query: sa.Select, column, window: Window, id_column, with_values: bool = False) -> sa.Select:
    """The window's page of `query`; each row carries its sort value for the next cursor."""
    key = _sort_key(column)
    return window.cut(query.add_columns(key.label(_SORT_VALUE)), key, id_column, with_values=with_values)
