"""Cursor pagination shared by every list: `?limit=&cursor=` -> `{"items": [...], "next_cursor": ...}`.

The cursor is an opaque token holding the sort key of the last row returned, in unpadded base64url
(the pattern the OpenAPI document gives it; any other text is a 422); a tampered or foreign cursor
is a 400, never a 500.
"""

import base64
import json
import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

import sqlalchemy as sa
from fastapi import Query
from pydantic import AfterValidator, BaseModel, Field

from shared.problems import Problem

T = TypeVar("T")

MAX_PAGE_SIZE = 200


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None
    total: int | None = None  # every matching item, on lists asked with include_total=true


Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="How many items per page")]
# What encode_cursor gives out: unpadded base64url. One that matches but was not given out is a 400.
CURSOR = re.compile(r"^[A-Za-z0-9_-]*$")


def check_cursor(value: str) -> str:
    if not CURSOR.fullmatch(value):
        raise ValueError("not a cursor this API gave out (base64url); start again without it")
    return value


Cursor = Annotated[
    Annotated[str, Field(max_length=512, json_schema_extra={"pattern": CURSOR.pattern}), AfterValidator(check_cursor)]
    | None,
    Query(description="next_cursor of the previous page"),
]
IncludeTotal = Annotated[bool, Query(description="Also count every matching item (the page's total)")]


async def count_matching(session, filtered: sa.Select) -> int:
    """How many rows the list's filters match, whatever the page (dashboards' totals)."""
    return (await session.execute(sa.select(sa.func.count()).select_from(filtered.order_by(None).subquery()))).scalar_one()


def encode_cursor(*key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, default=str).encode()).decode().rstrip("=")


def older_than_cursor(query: sa.Select, cursor: str | None, moment_column, id_column) -> sa.Select:
    """Newest-first keyset paging: the rows strictly after the cursor's (moment, id) in that order.
    The query must order by (moment desc, id desc) and ask for limit + 1 rows."""
    key = moment_and_id(cursor)
    if key is None:
        return query
    return query.where(sa.tuple_(moment_column, id_column) < key)


def moment_and_id(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    """The (moment, id) a newest-first cursor holds; None without a cursor."""
    if not cursor:
        return None
    moment, last_id = decode_cursor(cursor, 2)
    try:
        return datetime.fromisoformat(moment), uuid.UUID(last_id)
    except (TypeError, ValueError) as error:
        raise Problem(400, "The cursor is not one this API gave out; start again without it.") from error


def newest_first_page(rows, limit: int, model: type[BaseModel], moment_field: str, id_field: str) -> Page:
    """The page of `limit` rows (fetched limit + 1) and the cursor to the next one, if any."""
    items = [model.model_validate(dict(row)) for row in rows[:limit]]
    last = items[-1] if len(rows) > limit else None
    next_cursor = encode_cursor(getattr(last, moment_field).isoformat(), str(getattr(last, id_field))) if last else None
    return Page[model](items=items, next_cursor=next_cursor)


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError as error:
        raise Problem(400, "The cursor is not one this API gave out; start again without it.") from error
    if not isinstance(key, list) or len(key) != arity:
        raise Problem(400, "The cursor is not one this API gave out; start again without it.")
    return key
