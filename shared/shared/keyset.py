"""One keyset page of a list: sorted by a key then id, after a cursor's (key, id), limit + 1 rows
(the extra row tells whether there is a next page).

The statement depends only on the window's `shape`; the cursor's values and the row count are bind
parameters (`params()`), so a list can build its statement once per shape: building one and working
out its cache key cost more CPU than running it. The cursor carries the sort and order it was made
for: reusing it with another sort or order is a 400.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from shared.pagination import decode_cursor, encode_cursor
from shared.problems import Problem

BAD_CURSOR = "The cursor is not one this API gave out for this sort; start again without it."


def text(value: Any) -> str:
    """A cursor's text key, read back as it was given out (no other JSON value stands for it)."""
    if not isinstance(value, str):
        raise ValueError(value)
    return value


@dataclass(frozen=True)
class Window:
    """One page: sorted by `sort` in `order` ("asc" or "desc") then by id, after a cursor's
    (key, id), `limit` rows plus one."""

    sort: str
    order: str
    after: tuple | None
    limit: int

    @classmethod
    def of(cls, *, sort: str, order: str, cursor: str | None, limit: int, read_key: Callable[[Any], Any],
           read_id: Callable[[Any], Any] = uuid.UUID) -> "Window":
        """The page a request asks for; a cursor made for another sort or order, or whose key or id
        `read_key` / `read_id` cannot read back, is a 400."""
        if not cursor:
            return cls(sort, order, None, limit)
        saved_sort, saved_order, key, last_id = decode_cursor(cursor, 4)
        if (saved_sort, saved_order) != (sort, order):
            raise Problem(400, BAD_CURSOR)
        try:
            return cls(sort, order, (read_key(key), read_id(last_id)), limit)
        except (TypeError, ValueError, AttributeError) as error:
            raise Problem(400, BAD_CURSOR) from error

    @property
    def shape(self) -> tuple:
        """What the statement depends on; the cursor's values and the limit are parameters."""
        return self.sort, self.order, self.after is not None

    def params(self) -> dict:
        after = {} if self.after is None else {"after_key": self.after[0], "after_id": self.after[1]}
        return {**after, "rows": self.limit + 1}

    def cut(self, query: sa.Select, key: sa.ColumnElement, id_column: sa.ColumnElement, *,
            with_values: bool = False) -> sa.Select:
        """Adds the cursor condition, ordering and limit + 1 to `query`, as bind parameters given by
        `params()` at execution, or carrying this window's values (`with_values`, for a statement
        built per request). `key` must never be NULL, so the (key, id) comparison holds for every row."""
        values = self.params() if with_values else {}

        def bind(name: str, type_) -> sa.BindParameter:
            # Required when it carries no value: a statement run without it fails, never pages wrong.
            return sa.bindparam(name, values.get(name), type_=type_, required=name not in values)

        descending = self.order == "desc"
        if self.after is not None:
            position = sa.tuple_(key, id_column)
            after = sa.tuple_(bind("after_key", key.type), bind("after_id", id_column.type))
            query = query.where(position < after if descending else position > after)
        ordering = (key.desc(), id_column.desc()) if descending else (key.asc(), id_column.asc())
        return query.order_by(*ordering).limit(bind("rows", sa.Integer))

    def next_cursor(self, rows, *, key_field: str, id_field: str) -> str | None:
        """The cursor after the last row of this page when there is a next page (limit + 1 rows
        fetched); the rows carry the sort key under `key_field`."""
        if len(rows) <= self.limit:
            return None
        last = rows[self.limit - 1]
        key = last[key_field]
        return encode_cursor(self.sort, self.order, key.isoformat() if isinstance(key, date | datetime) else key,
                             str(last[id_field]))
