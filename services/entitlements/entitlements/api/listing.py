"""Lists sorted by any allowed column, paged with a keyset cursor over (sort value, id).

Each sortable column is a non-null expression of a subquery (nulls are coalesced to a value that
sorts last ascending), so the cursor comparison `(value, id) > (last value, last id)` is exact.
The cursor carries the sort and order it was made for: reusing it with another sort is a 400.

A list the dashboard asks for on every load keeps its page statements by shape (`Window.shape`
and its filters set or not), with the cursor's values and the limit as bind parameters
(`Window.params`): building a statement costs more CPU than running it.
"""

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Query
from pydantic import Field

from shared.pagination import decode_cursor, encode_cursor
from shared.problems import Problem
from shared.sorting import Direction
from shared.validation import Text

Order = Direction  # shared/sorting.py's; the name the routers here use
SearchText = Annotated[
    Annotated[Text, Field(max_length=200)] | None, Query(description="Text search (contains, case-insensitive)")
]

# How a cursor's stored value is read back, per type of sort column.
_READERS: dict[type, Callable[[Any], Any]] = {
    str: str, int: int, date: date.fromisoformat, datetime: datetime.fromisoformat, uuid.UUID: uuid.UUID,
}
_BAD_CURSOR = "The cursor is not one this API gave out for this sort; start again without it."


@dataclass(frozen=True)
class Window:
    """One page: sorted by `sort` in `order` then by id, after a cursor's (value, id), `limit` rows
    plus one (which tells whether there is a next page)."""

    sort: str
    order: str
    after: tuple | None
    limit: int

    @classmethod
    def of(cls, *, sort: str, order: str, cursor: str | None, limit: int, value_type: type,
           id_type: type) -> "Window":
        """The page a request asks for; a cursor made for another sort or order is a 400."""
        if not cursor:
            return cls(sort, order, None, limit)
        saved_sort, saved_order, value, last_id = decode_cursor(cursor, 4)
        if (saved_sort, saved_order) != (sort, order):
            raise Problem(400, _BAD_CURSOR)
        try:
            return cls(sort, order, (_READERS[value_type](value), _READERS[id_type](last_id)), limit)
        except (TypeError, ValueError) as error:
            raise Problem(400, _BAD_CURSOR) from error

    @property
    def shape(self) -> tuple:
        """What the statement depends on; the cursor's values and the limit are parameters."""
        return self.sort, self.order, self.after is not None

    def params(self) -> dict:
        after = {} if self.after is None else {"after_value": self.after[0], "after_id": self.after[1]}
        return {**after, "rows": self.limit + 1}

    def cut(self, query: sa.Select, value_column: sa.ColumnElement, id_column: sa.ColumnElement, *,
            with_values: bool = False) -> sa.Select:
        """Adds ordering, the cursor condition and limit + 1 to `query`, as bind parameters given
        by `params()` at execution, or carrying this window's values (`with_values`)."""
        values = self.params() if with_values else {}

        def bind(name: str, type_) -> sa.BindParameter:
            # Required when it carries no value: a statement run without it fails, never pages wrong.
            return sa.bindparam(name, values.get(name), type_=type_, required=name not in values)

        if self.after is not None:
            position = sa.tuple_(value_column, id_column)
            after = sa.tuple_(bind("after_value", value_column.type), bind("after_id", id_column.type))
            query = query.where(position > after if self.order == "asc" else position < after)
        if self.order == "asc":
            query = query.order_by(value_column.asc(), id_column.asc())
        else:
            query = query.order_by(value_column.desc(), id_column.desc())
        return query.limit(bind("rows", sa.Integer))

    def next_cursor(self, rows, *, value_key: str, id_key: str) -> str | None:
        """The cursor after the last row of this page, when there is a next page (limit + 1
        fetched). The rows must include the sort column under `value_key`."""
        if len(rows) <= self.limit:
            return None
        last = rows[self.limit - 1]
        value = last[value_key]
        return encode_cursor(self.sort, self.order, value.isoformat() if isinstance(value, date | datetime) else value,
                             str(last[id_key]))


def keyset_page(
    query: sa.Select,
    *,
    columns: Mapping[str, tuple[sa.ColumnElement, type]],
    sort: str,
    order: str,
    id_column: sa.ColumnElement,
    id_type: type,
    cursor: str | None,
    limit: int,
) -> sa.Select:
    """Adds ordering, the cursor condition and limit + 1 to `query` (built over a subquery whose
    columns are in `columns`), for a list that builds its statement per request."""
    value_column, value_type = columns[sort]
    window = Window.of(sort=sort, order=order, cursor=cursor, limit=limit, value_type=value_type, id_type=id_type)
    return window.cut(query, value_column, id_column, with_values=True)


def next_cursor(rows, *, columns: Mapping[str, tuple[sa.ColumnElement, type]], sort: str, order: str,
                limit: int, id_key: str) -> str | None:
    """The cursor after the last row of this page, when there is a next page (limit + 1 fetched).
    The rows must include the sort column under its own name."""
    return Window(sort, order, None, limit).next_cursor(rows, value_key=columns[sort][0].key, id_key=id_key)
