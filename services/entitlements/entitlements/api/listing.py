"""Lists sorted by any allowed column, paged with a keyset cursor over (sort value, id).

Each sortable column is a non-null expression of a subquery (nulls are coalesced to a value that
sorts last ascending), so the cursor comparison `(value, id) > (last value, last id)` is exact.
The cursor carries the sort and order it was made for: reusing it with another sort is a 400.
"""

import uuid
from collections.abc import Callable, Mapping
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
    columns are in `columns`)."""
    value_column, value_type = columns[sort]
    if cursor:
        saved_sort, saved_order, value, last_id = decode_cursor(cursor, 4)
        if (saved_sort, saved_order) != (sort, order):
            raise Problem(400, _BAD_CURSOR)
        try:
            key = (_READERS[value_type](value), _READERS[id_type](last_id))
        except (TypeError, ValueError) as error:
            raise Problem(400, _BAD_CURSOR) from error
        position = sa.tuple_(value_column, id_column)
        query = query.where(position > key if order == "asc" else position < key)
    if order == "asc":
        query = query.order_by(value_column.asc(), id_column.asc())
    else:
        query = query.order_by(value_column.desc(), id_column.desc())
    return query.limit(limit + 1)


def next_cursor(rows, *, columns: Mapping[str, tuple[sa.ColumnElement, type]], sort: str, order: str,
                limit: int, id_key: str) -> str | None:
    """The cursor after the last row of this page, when there is a next page (limit + 1 fetched).
    The rows must include the sort column under its own name."""
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    value = last[columns[sort][0].key]
    return encode_cursor(sort, order, value.isoformat() if isinstance(value, date | datetime) else value,
                         str(last[id_key]))
