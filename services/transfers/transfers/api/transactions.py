"""The transactions log: the caller's completed transfers, sent and received, with filters, sort
by every column, keyset pages, and the CSV export (Admin only) streamed from a server-side cursor."""

import re
import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AfterValidator, BaseModel, Field, WithJsonSchema

from shared.auth.dependencies import require
from shared.auth.permissions import Action
from shared.auth.tokens import Caller
from shared.csv_export import CsvFile, csv_response
from shared.keyset import Window, text
from shared.pagination import Cursor, Limit, Page
from shared.problems import Problem
from shared.sorting import Direction, SortBy
from shared.validation import Text, documented
from transfers.domain.log_filters import (
    EXPORT_COLUMNS,
    SORTABLE,
    InvalidQuery,
    export_columns,
    range_end,
    range_start,
)
from transfers.api.transfers import SENDERS_OWN, RepresentativeAtRequest
from transfers.log_queries import TransactionFilters, export_query, page_query, representatives_of

router = APIRouter(prefix="/api/v1/transactions", tags=["transactions"])

class Counterparty(BaseModel):
    id: uuid.UUID
    name: str | None  # None until the org directory knows the org


class RepresentativeOut(BaseModel):
    email: str
    first_name: str | None
    last_name: str | None
    is_default: bool


class TransactionOut(BaseModel):
    id: uuid.UUID
    occurred_at: datetime
    product_id: uuid.UUID
    product_name: str | None
    product_description: str | None
    action_type: str
    quantity: int
    entitlement_id: str
    po_number: str | None
    sales_order: str | None
    direction: Literal["sent", "received"]
    counterparty: Counterparty
    # Today's representatives of the counterparty, from the org directory.
    counterparty_representatives: list[RepresentativeOut]
    # As the transfer was asked for: the destination's representatives (and which one was told),
    # the CCs and the sender's note; the receiver sees neither CCs nor note.
    representatives: list[RepresentativeAtRequest]
    cc_emails: list[str]
    note: str | None


# A day (2026-11-01) or a moment (2026-11-01T09:30:00Z, RFC 3339 in the spelling Python reads:
# upper-case T and Z, no leap second; without a zone it is UTC): what range_start and range_end take.
DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
MOMENT = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-5][0-9](\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})?$")


def check_day_or_moment(value: str) -> str:
    if not (DAY.fullmatch(value) or MOMENT.fullmatch(value)):
        raise ValueError("must be a date (2026-11-01) or a date and time (2026-11-01T09:30:00Z)")
    return value


DayOrMoment = Annotated[Annotated[str, AfterValidator(check_day_or_moment)] | None, WithJsonSchema({"anyOf": [
    {"type": "string", "format": "date"},
    {"type": "string", "format": "date-time", "pattern": MOMENT.pattern, "maxLength": 40},
    {"type": "null"},
]})]
# columns=: names of EXPORT_COLUMNS separated by commas (spaces around them allowed).
_COLUMN = "(" + "|".join(EXPORT_COLUMNS) + ")"
COLUMN_LIST = re.compile(rf"^ *{_COLUMN} *(, *{_COLUMN} *)*$")


def check_columns(value: str) -> str:
    if not COLUMN_LIST.fullmatch(value):
        unknown = [name.strip() for name in value.split(",") if name.strip() not in EXPORT_COLUMNS]
        raise ValueError(f"unknown column(s): {', '.join(unknown) or '(none)'}; choose from "
                         f"{', '.join(EXPORT_COLUMNS)}, separated by commas")
    return value


ColumnList = Annotated[str, Field(max_length=500), documented(COLUMN_LIST), AfterValidator(check_columns)]


async def transaction_filters(
    start: Annotated[DayOrMoment, Query(alias="from", max_length=40, description="a day (UTC) or a moment")] = None,
    end: Annotated[DayOrMoment, Query(alias="to", max_length=40, description="inclusive: a day or a moment")] = None,
    product_id: uuid.UUID | None = None,
    action_type: Literal["transfer", "split"] | None = None,
    counterparty_id: uuid.UUID | None = None,
    search: Annotated[Annotated[Text, Field(max_length=100)] | None, Query(description="part of a PO number")] = None,
) -> TransactionFilters:
    try:
        return TransactionFilters(
            start=range_start(start) if start is not None else None,  # "" is no date: a 422
            end=range_end(end) if end is not None else None,
            product_id=product_id,
            action_type=action_type,
            counterparty_id=counterparty_id,
            po_number_contains=search.strip() if search and search.strip() else None,
        )
    except InvalidQuery as error:
        raise Problem(422, str(error)) from error


# What only the sender sees of a transaction (its requester is not part of the log).
SENDERS_OWN_RECORD = {name: value for name, value in SENDERS_OWN.items() if name in TransactionOut.model_fields}
Filters = Annotated[TransactionFilters, Depends(transaction_filters)]
Sort = SortBy(SORTABLE)


def _read_key(sort: str):
    """How a cursor's sort key is read back: a moment, a quantity, or text."""
    if sort == "occurred_at":
        return datetime.fromisoformat
    return _quantity if sort == "quantity" else text


def _quantity(value) -> int:
    if not isinstance(value, int):
        raise ValueError(value)
    return value


@router.get("", response_model=Page[TransactionOut])
async def list_transactions(
    request: Request,
    filters: Filters,
    caller: Caller = require(Action.VIEW_TRANSACTIONS),
    sort: Sort = "occurred_at",
    order: Direction = "desc",
    limit: Limit = 50,
    cursor: Cursor = None,
):
    window = Window.of(sort=sort, order=order, cursor=cursor, limit=limit, read_key=_read_key(sort))
    query, params = page_query(caller.org_id, filters, window)
    async with request.app.state.session_factory() as session:
        rows = (await session.execute(query, params)).mappings().all()
        page = rows[:limit]
        representatives = await representatives_of(session, {row["counterparty_id"] for row in page})
    items = [
        TransactionOut(
            **{k: row[k] for k in TransactionOut.model_fields if k in row}
            | (SENDERS_OWN_RECORD if row["direction"] == "received" else {}),
            counterparty=Counterparty(id=row["counterparty_id"], name=row["counterparty_name"]),
            counterparty_representatives=representatives.get(row["counterparty_id"], []),
        )
        for row in page
    ]
    return Page[TransactionOut](items=items, next_cursor=window.next_cursor(rows, key_field="sort_key", id_field="id"))


@router.get("/export.csv", response_class=CsvFile)
async def export_transactions(
    request: Request,
    filters: Filters,
    caller: Caller = require(Action.EXPORT_TRANSACTIONS),
    sort: Sort = "occurred_at",
    order: Direction = "desc",
    columns: Annotated[ColumnList | None, Query(description=f"comma-separated, from: {', '.join(EXPORT_COLUMNS)}")] = None,
):
    try:
        chosen = export_columns(columns)
    except InvalidQuery as error:
        raise Problem(422, str(error)) from error
    query, params = export_query(caller.org_id, filters, chosen, sort, order == "desc")
    engine = request.app.state.engine

    async def rows():
        # Its own connection, held while the response streams (the request's scope ends earlier).
        async with engine.connect() as conn:
            result = await conn.stream(query, params)
            async for row in result:
                yield tuple(row)

    return csv_response("transactions", [EXPORT_COLUMNS[name] for name in chosen], rows())
