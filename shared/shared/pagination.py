"""Cursor pagination shared by every list: `?limit=&cursor=` -> `{"items": [...], "next_cursor": ...}`.

The cursor is an opaque token holding the sort key of the last row returned; a tampered or
foreign cursor is a 400, never a 500.
"""

import base64
import json
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from shared.problems import Problem

T = TypeVar("T")

MAX_PAGE_SIZE = 200


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="How many items per page")]
Cursor = Annotated[str | None, Query(max_length=512, description="next_cursor of the previous page")]


def encode_cursor(*key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, default=str).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError as error:
        raise Problem(400, "The cursor is not one this API gave out; start again without it.") from error
    if not isinstance(key, list) or len(key) != arity:
        raise Problem(400, "The cursor is not one this API gave out; start again without it.")
    return key
