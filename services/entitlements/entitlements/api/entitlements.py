"""Entitlements: the vendor issues them to distributors; every tier lists and inspects the ones
it holds any part of (the licensing overview's entitlements tab and detail panel)."""

import uuid
from datetime import date
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.dialects.postgresql import JSONB, aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from entitlements import handlers
from entitlements.api.listing import Order, SearchText, keyset_page, next_cursor
from entitlements.api.scope import held_by, held_lines
from entitlements.db import entitlement_lines, entitlements, products
from entitlements.domain.commands import IssueEntitlement, OrderLine
from entitlements.domain.entitlements import STATUSES, repeated
from entitlements.ledger import today
from shared.auth.dependencies import require
from shared.auth.permissions import Action, Tier
from shared.auth.tokens import Caller
from shared.db import UnitOfWork
from shared.idempotency import IdempotencyKey, idempotency_scope, idempotent
from shared.pagination import Cursor, Limit, Page
from shared.problems import Problem
from shared.search import contains_pattern
from shared.sorting import SortBy
from shared.strict_json import StrictJsonRoute
from shared.validation import FilledLine, Text, whole_number

router = APIRouter(prefix="/api/v1/entitlements", tags=["entitlements"], route_class=StrictJsonRoute)

MAX_QUANTITY = 1_000_000_000
EARLIEST, LATEST = date(1990, 1, 1), date(2999, 12, 31)
NEVER = date(9999, 12, 31)  # sorts an entitlement without expiration after every dated one
# The document cannot bound a date, but a pattern on its year tells the same.
OrderDate = Annotated[date, Field(ge=EARLIEST, le=LATEST, json_schema_extra={"pattern": r"^(199[0-9]|2[0-9]{3})-"})]
EntitlementId = Annotated[Text, Field(min_length=1, max_length=40)]
Reference = Annotated[FilledLine, Field(max_length=100)]


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: uuid.UUID
    quantity: whole_number(ge=1, le=MAX_QUANTITY)


class EntitlementIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    distributor_id: uuid.UUID
    sales_order: Reference
    po_number: Reference | None = None
    order_date: OrderDate
    expiration_date: OrderDate | None = None
    lines: Annotated[list[LineIn], Field(min_length=1, max_length=200)]

    @model_validator(mode="after")
    def _consistent(self) -> "EntitlementIn":
        if self.expiration_date is not None and self.expiration_date < self.order_date:
            raise ValueError("expiration_date must be on or after order_date")
        twice = repeated(line.product_id for line in self.lines)
        if twice:
            raise ValueError(f"one line per product: product {twice[0]} appears more than once")
        return self


class LineOut(BaseModel):
    product_id: uuid.UUID
    product_name: str
    description: str | None
    license_type: str
    deployment_type: str | None
    received: int  # the vendor: the line's quantity
    available: int  # the vendor: not yet activated anywhere
    transferred: int  # with the subscription licences that became a customer's
    activated: int
    reserved: int  # in subscription licences not yet a customer's


class EntitlementDetail(BaseModel):
    entitlement_id: str
    distributor_id: uuid.UUID | None  # shown to the vendor and the distributor only, not further down
    sales_order: str
    po_number: str | None
    order_date: date
    expiration_date: date | None
    status: str
    total_available: int
    lines: list[LineOut]


class ProductInEntitlement(BaseModel):
    product_id: uuid.UUID
    name: str
    description: str | None
    available: int


class EntitlementSummary(BaseModel):
    entitlement_id: str
    sales_order: str
    status: str
    products: list[ProductInEntitlement]
    order_date: date
    expiration_date: date | None
    po_number: str | None
    total_available: int


def effective_status(on: date | sa.BindParameter) -> sa.ColumnElement:
    """The status users see (the SQL twin of domain.entitlements.effective_status). A statement
    kept for reuse takes the day as a bind parameter: the date changes under it."""
    return sa.case(
        (sa.and_(entitlements.c.expiration_date.is_not(None), entitlements.c.expiration_date < on), "expired"),
        else_=entitlements.c.status,
    )


@router.post("", status_code=201, response_model=EntitlementDetail)
async def issue_entitlement(
    request: Request, body: EntitlementIn, idempotency_key: IdempotencyKey = None,
    caller: Caller = require(Action.ISSUE_ENTITLEMENTS),
):
    if caller.tier != Tier.VENDOR:
        raise Problem(403, "Only the vendor issues entitlements.")
    command = IssueEntitlement(
        vendor_id=caller.org_id, issued_by=caller.user_id, distributor_id=body.distributor_id,
        sales_order=body.sales_order, po_number=body.po_number, order_date=body.order_date,
        expiration_date=body.expiration_date,
        lines=tuple(OrderLine(line.product_id, line.quantity) for line in body.lines),
    )
    async with UnitOfWork(request.app.state.session_factory, producer="entitlements") as uow:
        async def issue() -> EntitlementDetail:
            return await _detail(uow.session, caller, await handlers.issue_entitlement(uow, command))

        answer = await idempotent(uow.session, idempotency_key,
                                  scope=idempotency_scope(caller, "POST /api/v1/entitlements"),
                                  request_body=body.model_dump(), status=201, work=issue)
        await uow.commit()
    return answer


@router.get("/{entitlement_id}", response_model=EntitlementDetail)
async def entitlement_detail(
    request: Request, entitlement_id: EntitlementId, caller: Caller = require(Action.VIEW_LICENSES)
):
    async with request.app.state.session_factory() as session:
        detail = await _detail(session, caller, entitlement_id)
    if detail is None:
        raise Problem(404, f"No entitlement {entitlement_id} among yours.")
    return detail


async def _detail(session: AsyncSession, caller: Caller, entitlement_id: str) -> EntitlementDetail | None:
    held = held_lines(caller.tier)
    rows = (
        await session.execute(
            sa.select(
                entitlements.c.id, entitlements.c.distributor_id, entitlements.c.sales_order,
                entitlements.c.po_number, entitlements.c.order_date, entitlements.c.expiration_date,
                effective_status(today()).label("status"),
                products.c.id.label("product_id"), products.c.name.label("product_name"), products.c.description,
                products.c.license_type, products.c.deployment_type,
                held.c.received, held.c.available, held.c.transferred, held.c.activated, held.c.reserved,
            )
            .select_from(
                held.join(entitlement_lines, entitlement_lines.c.id == held.c.line_id)
                .join(entitlements, entitlements.c.id == entitlement_lines.c.entitlement_id)
                .join(products, products.c.id == entitlement_lines.c.product_id)
            )
            .where(entitlements.c.id == entitlement_id)
            .order_by(products.c.name, products.c.id),
            held_by(caller),
        )
    ).mappings().all()
    if not rows:
        return None
    first = rows[0]
    upstream = caller.tier == Tier.VENDOR or caller.org_id == first["distributor_id"]
    return EntitlementDetail(
        entitlement_id=first["id"], distributor_id=first["distributor_id"] if upstream else None, sales_order=first["sales_order"],
        po_number=first["po_number"], order_date=first["order_date"], expiration_date=first["expiration_date"],
        status=first["status"], total_available=sum(r["available"] for r in rows),
        lines=[LineOut.model_validate(dict(r)) for r in rows],
    )


SEARCH_FIELDS = ("entitlement_id", "sales_order", "po_number", "product")
SORTS = ("entitlement_id", "sales_order", "status", "product", "description", "order_date", "expiration_date",
         "po_number", "total_available")


def _summaries(caller: Caller, product_pattern: str | None) -> sa.Subquery:
    """One row per entitlement the caller holds part of, with the sort keys of every column."""
    held = held_lines(caller.tier)
    by_name = (products.c.name, products.c.id)
    query = (
        sa.select(
            entitlements.c.id.label("entitlement_id"), entitlements.c.sales_order, entitlements.c.po_number,
            entitlements.c.order_date, entitlements.c.expiration_date,
            effective_status(today()).label("status"),
            sa.func.jsonb_agg(
                aggregate_order_by(
                    sa.func.jsonb_build_object("product_id", products.c.id, "name", products.c.name,
                                               "description", products.c.description, "available", held.c.available),
                    *by_name,
                ),
                type_=JSONB,
            ).label("products"),
            sa.cast(sa.func.sum(held.c.available), sa.BigInteger).label("total_available"),
            sa.func.string_agg(products.c.name, aggregate_order_by(sa.literal(", "), *by_name)).label("product_key"),
            sa.func.string_agg(sa.func.coalesce(products.c.description, ""),
                               aggregate_order_by(sa.literal(" | "), *by_name)).label("description_key"),
            sa.func.coalesce(entitlements.c.po_number, "").label("po_key"),
            sa.func.coalesce(entitlements.c.expiration_date, NEVER).label("expiration_key"),
        )
        .select_from(
            held.join(entitlement_lines, entitlement_lines.c.id == held.c.line_id)
            .join(entitlements, entitlements.c.id == entitlement_lines.c.entitlement_id)
            .join(products, products.c.id == entitlement_lines.c.product_id)
        )
        .group_by(entitlements.c.id)
    )
    if product_pattern is not None:
        query = query.having(sa.func.bool_or(products.c.name.ilike(product_pattern, escape="\\")))
    return query.subquery("summaries")


@router.get("", response_model=Page[EntitlementSummary])
async def list_entitlements(
    request: Request,
    caller: Caller = require(Action.VIEW_LICENSES),
    order_date_from: date | None = None,
    order_date_to: date | None = None,
    expiration_date_from: date | None = None,
    expiration_date_to: date | None = None,
    entitlement_id: Annotated[Annotated[Text, Field(max_length=40)] | None, Query()] = None,
    sales_order: Annotated[Annotated[Text, Field(max_length=100)] | None, Query()] = None,
    po_number: Annotated[Annotated[Text, Field(max_length=100)] | None, Query()] = None,
    status: Literal[STATUSES] | None = None,  # type: ignore[valid-type]
    search: SearchText = None,
    search_field: Literal[SEARCH_FIELDS] | None = Query(  # type: ignore[valid-type]
        None, description="The column `search` looks in; all four when absent"),
    sort: SortBy(SORTS) = "order_date",
    order: Order = "desc",
    limit: Limit = 50,
    cursor: Cursor = None,
):
    text = search.strip() if search and search.strip() else None
    pattern = contains_pattern(text) if text else None
    rows_of = _summaries(caller, pattern if search_field == "product" else None)
    s = rows_of.c
    query = sa.select(rows_of)
    for column, bound, compare in (
        (s.order_date, order_date_from, "ge"), (s.order_date, order_date_to, "le"),
        (s.expiration_date, expiration_date_from, "ge"), (s.expiration_date, expiration_date_to, "le"),
    ):
        if bound is not None:
            query = query.where(column >= bound if compare == "ge" else column <= bound)
    for column, value in ((s.entitlement_id, entitlement_id), (s.sales_order, sales_order),
                          (s.po_number, po_number), (s.status, status)):
        if value:
            query = query.where(column == value.strip())
    if pattern is not None and search_field != "product":
        looked_in = [s.entitlement_id, s.sales_order, s.po_number, s.product_key]
        if search_field is not None:
            looked_in = [{"entitlement_id": s.entitlement_id, "sales_order": s.sales_order,
                          "po_number": s.po_number}[search_field]]
        query = query.where(sa.or_(*(c.ilike(pattern, escape="\\") for c in looked_in)))
    columns = {
        "entitlement_id": (s.entitlement_id, str), "sales_order": (s.sales_order, str), "status": (s.status, str),
        "product": (s.product_key, str), "description": (s.description_key, str), "order_date": (s.order_date, date),
        "expiration_date": (s.expiration_key, date), "po_number": (s.po_key, str),
        "total_available": (s.total_available, int),
    }
    query = keyset_page(query, columns=columns, sort=sort, order=order, id_column=s.entitlement_id, id_type=str,
                        cursor=cursor, limit=limit)
    async with request.app.state.session_factory() as session:
        rows = (await session.execute(query, held_by(caller))).mappings().all()
    return Page[EntitlementSummary](
        items=[EntitlementSummary.model_validate(dict(r)) for r in rows[:limit]],
        next_cursor=next_cursor(rows, columns=columns, sort=sort, order=order, limit=limit, id_key="entitlement_id"),
    )
