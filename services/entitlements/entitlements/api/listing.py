"""Lists sorted by any allowed column, paged with a keyset cursor over (sort value, id).

Each sortable column is a non-null expression of a subquery (nulls are coalesced to a value that
sorts last ascending), so the cursor comparison `(value, id) > (last value, last id)` is exact.
The cursor carries the sort and order it was made for: reusing it with another sort is a 400.

A list the dashboard asks for on every load keeps its page statements by shape (`Window.shape`
and its filters set or not), with the cursor's values and the limit as bind parameters
(`Window.params`, shared/keyset.py): building a statement costs more CPU than running it.
"""

import uuid
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Query
from pydantic import Field

from shared.keyset import Window
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


def window_of(*, sort: str, order: str, cursor: str | None, limit: int, value_type: type, id_type: type) -> Window:
    """The page a request asks for, the cursor's value and id read back by their types."""
    return Window.of(sort=sort, order=order, cursor=cursor, limit=limit, read_key=_READERS[value_type],
                     read_id=_READERS[id_type])


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
    page = window_of(sort=sort, order=order, cursor=cursor, limit=limit, value_type=value_type, id_type=id_type)
    return page.cut(query, value_column, id_column, with_values=True)


def next_cursor(rows, *, columns: Mapping[str, tuple[sa.ColumnElement, type]], sort: str, order: str,
                limit: int, id_key: str) -> str | None:
    """The cursor after the last row of this page, when there is a next page (limit + 1 fetched).
    The rows must include the sort column under its own name."""
    return Window(sort, order, None, limit).next_cursor(rows, key_field=columns[sort][0].key, id_field=id_key)
