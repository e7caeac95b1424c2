"""The licensing overview's products tab: per product, what the caller's org has available,
has transferred, has activated and has reserved for subscription licences not yet a customer's,
and the entitlements those licenses come from. What it received is the sum of the four
(api/scope.py)."""

import uuid
from datetime import date
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy.dialects.postgresql import JSONB, aggregate_order_by

from entitlements.api.entitlements import effective_status
from entitlements.api.listing import Order, SearchText, window_of
from entitlements.api.scope import Holder, held_by, held_lines, holder_for
from entitlements.db import entitlement_lines, entitlements, products
from entitlements.ledger import today
from shared.auth.dependencies import require
from shared.auth.permissions import Action, Tier
from shared.auth.tokens import Caller
from shared.keyset import Window
from shared.pagination import Cursor, Limit, Page
from shared.problems import Problem
from shared.search import contains_pattern
from shared.sorting import SortBy

router = APIRouter(prefix="/api/v1/licenses", tags=["licenses"])


class ProductEntitlement(BaseModel):
    entitlement_id: str
    order_date: date
    expiration_date: date | None
    status: str
    sales_order: str
    po_number: str | None
    available: int
    transferred: int  # with the subscription licences that became a customer's
    activated: int
    reserved: int  # in subscription licences not yet a customer's


class LicensedProduct(BaseModel):
    product_id: uuid.UUID
    name: str
    license_type: str
    description: str | None
    deployment_type: str | None
    available: int
    transferred: int  # with the subscription licences that became a customer's
    activated: int
    reserved: int  # in subscription licences not yet a customer's
    entitlements: list[ProductEntitlement]


def _per_product(tier: Tier) -> sa.Subquery:
    """One row per product the holder (`held_by`) holds any of; today's date is the parameter
    `today`, for the entitlements' status."""
    held = held_lines(tier)
    newest_first = (entitlements.c.order_date.desc(), entitlements.c.id.desc())

    def total(column) -> sa.ColumnElement:
        return sa.cast(sa.func.sum(column), sa.BigInteger)

    return (
        sa.select(
            products.c.id.label("product_id"), products.c.name, products.c.license_type, products.c.description,
            products.c.deployment_type,
            total(held.c.available).label("available"), total(held.c.transferred).label("transferred"),
            total(held.c.activated).label("activated"), total(held.c.reserved).label("reserved"),
            sa.func.jsonb_agg(
                aggregate_order_by(
                    sa.func.jsonb_build_object(
                        "entitlement_id", entitlements.c.id, "order_date", entitlements.c.order_date,
                        "expiration_date", entitlements.c.expiration_date,
                        "status", effective_status(sa.bindparam("today", type_=sa.Date)),
                        "sales_order", entitlements.c.sales_order,
                        "po_number", entitlements.c.po_number, "available", held.c.available,
                        "transferred", held.c.transferred, "activated", held.c.activated,
                        "reserved", held.c.reserved,
                    ),
                    *newest_first,
                ),
                type_=JSONB,
            ).label("entitlements"),
            sa.func.coalesce(products.c.description, "").label("description_key"),
        )
        .select_from(
            held.join(entitlement_lines, entitlement_lines.c.id == held.c.line_id)
            .join(entitlements, entitlements.c.id == entitlement_lines.c.entitlement_id)
            .join(products, products.c.id == entitlement_lines.c.product_id)
        )
        .group_by(products.c.id)
        .subquery("per_product")
    )


# Per sort: the column of per_product it orders by, and its type (for the cursor).
SORT_KEYS = {"name": ("name", str), "license_type": ("license_type", str), "description": ("description_key", str),
             "available": ("available", int), "transferred": ("transferred", int), "activated": ("activated", int),
             "reserved": ("reserved", int)}
SORTS = tuple(SORT_KEYS)
# Absent: the caller's org. One of its integrators or customers (or a distributor, for the vendor):
# what that org holds, for its detail panel.
HolderOrg = Annotated[uuid.UUID | None, Query(description="A child org of the caller's, for its detail panel")]

# Statements by shape (listing.py): the holder's tier, a search or not, the window's shape. Building
# the aggregate over the holdings costs more than running it, and the dashboard asks all the time.
_pages: dict[tuple, sa.Select] = {}
_details: dict[Tier, sa.Select] = {}


def _page_statement(tier: Tier, searching: bool, window: Window) -> sa.Select:
    shape = (tier, searching, window.shape)
    statement = _pages.get(shape)
    if statement is None:
        p = _per_product(tier).c
        query = sa.select(*p)
        if searching:
            pattern = sa.bindparam("pattern", type_=sa.Text)
            query = query.where(sa.or_(p.name.ilike(pattern, escape="\\"), p.license_type.ilike(pattern, escape="\\")))
        statement = _pages[shape] = window.cut(query, p[SORT_KEYS[window.sort][0]], p.product_id)
    return statement


def _detail_statement(tier: Tier) -> sa.Select:
    statement = _details.get(tier)
    if statement is None:
        p = _per_product(tier).c
        product = sa.bindparam("product_id", type_=p.product_id.type)
        statement = _details[tier] = sa.select(*p).where(p.product_id == product)
    return statement


def _params(holder: Holder) -> dict:
    return {**held_by(holder), "today": today()}


@router.get("/products", response_model=Page[LicensedProduct])
async def licensed_products(
    request: Request,
    caller: Caller = require(Action.VIEW_LICENSES),
    search: SearchText = None,
    sort: SortBy(SORTS) = "name",
    order: Order = "asc",
    limit: Limit = 50,
    cursor: Cursor = None,
    org_id: HolderOrg = None,
):
    searching = bool(search and search.strip())
    async with request.app.state.session_factory() as session:
        holder = await holder_for(session, caller, org_id)  # an org not the caller's: 404 before any cursor check
        window = window_of(sort=sort, order=order, cursor=cursor, limit=limit, value_type=SORT_KEYS[sort][1],
                           id_type=uuid.UUID)
        params = {**_params(holder), **window.params(), **({"pattern": contains_pattern(search)} if searching else {})}
        rows = (await session.execute(_page_statement(holder.tier, searching, window), params)).mappings().all()
    return Page[LicensedProduct](
        items=[LicensedProduct.model_validate(dict(r)) for r in rows[:limit]],
        next_cursor=window.next_cursor(rows, key_field=SORT_KEYS[sort][0], id_field="product_id"),
    )


@router.get("/products/{product_id}", response_model=LicensedProduct)
async def licensed_product(
    request: Request, product_id: uuid.UUID, caller: Caller = require(Action.VIEW_LICENSES), org_id: HolderOrg = None
):
    """The detail panel of one product: 404 when the org holds none of it."""
    async with request.app.state.session_factory() as session:
        holder = await holder_for(session, caller, org_id)
        statement = _detail_statement(holder.tier)
        row = (await session.execute(statement, {**_params(holder), "product_id": product_id})).mappings().first()
    if row is None:
        raise Problem(404, f"You hold no licenses of product {product_id}.")
    return LicensedProduct.model_validate(dict(row))
