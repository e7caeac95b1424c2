"""Activations: an end customer consumes licenses it holds for a project (a device's serial
number); the activations log lists and exports them."""

import uuid
from collections.abc import AsyncIterator, Set
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from entitlements import handlers
from entitlements.api.listing import Order, SearchText, window_of
from entitlements.db import activations, products
from entitlements.domain.commands import ActivateLicenses, DeactivateActivation
from entitlements.reservations import reservations
from shared.auth.dependencies import require
from shared.auth.permissions import Action
from shared.auth.tokens import Caller
from shared.csv_export import CsvFile, csv_response
from shared.db import UnitOfWork
from shared.idempotency import IdempotencyKey, idempotency_scope, idempotent
from shared.keyset import Window
from shared.pagination import Cursor, Limit, Page
from shared.search import contains_pattern
from shared.sorting import SortBy
from shared.strict_json import StrictJsonRoute
from shared.validation import FilledLine, whole_number

router = APIRouter(prefix="/api/v1/activations", tags=["activations"], route_class=StrictJsonRoute)

Text = Annotated[FilledLine, Field(max_length=200)]


class ActivationIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    entitlement_id: Annotated[FilledLine, Field(max_length=40)]
    product_id: uuid.UUID
    quantity: whole_number(ge=1, le=1_000_000_000)
    project_name: Text
    project_manager: Text | None = None
    serial_number: Annotated[FilledLine, Field(max_length=100)] | None = None


class ActivationOut(BaseModel):
    id: uuid.UUID
    entitlement_id: str
    product_id: uuid.UUID
    product_name: str
    quantity: int
    project_name: str
    project_manager: str | None
    serial_number: str | None
    activated_by: uuid.UUID | None
    activated_by_name: str | None
    status: str  # active, or deactivated (its licenses went back to the available quantity)
    created_at: datetime
    deactivated_at: datetime | None = None
    deactivated_by: uuid.UUID | None = None
    # Set on a subscription licence's activation: its seller bills it, and only the seller ends it.
    subscription_id: uuid.UUID | None = None


@router.post("", status_code=201, response_model=ActivationOut)
async def activate(
    request: Request, body: ActivationIn, idempotency_key: IdempotencyKey = None,
    caller: Caller = require(Action.ACTIVATE_LICENSES),
):
    command = ActivateLicenses(org_id=caller.org_id, activated_by=caller.user_id,
                               activated_by_name=caller.email or None, **body.model_dump())
    async with UnitOfWork(request.app.state.session_factory, producer="entitlements") as uow:
        async def activated() -> ActivationOut:
            return ActivationOut.model_validate(await handlers.activate_licenses(uow, command))

        answer = await idempotent(uow.session, idempotency_key,
                                  scope=idempotency_scope(caller, "POST /api/v1/activations"),
                                  request_body=body.model_dump(), status=201, work=activated)
        await uow.commit()
    return answer


@router.post("/{activation_id}/deactivate", response_model=ActivationOut)
async def deactivate(
    request: Request, activation_id: uuid.UUID, idempotency_key: IdempotencyKey = None,
    caller: Caller = require(Action.ACTIVATE_LICENSES),
):
    """Gives an activation's licenses back to the org's available quantity (a device retired, a
    project cancelled): the activation is marked deactivated, with an `activation_reversal` ledger
    entry, in one transaction. The same customer Admins who activate may deactivate.

    An activation already deactivated is a 409 and changes nothing (with an Idempotency-Key, a retry
    of the request that did it replays its answer). Another org's activation is a 404. An expired or
    suspended entitlement does not prevent it: returning licenses creates and spends nothing."""
    command = DeactivateActivation(org_id=caller.org_id, activation_id=activation_id, deactivated_by=caller.user_id)
    async with UnitOfWork(request.app.state.session_factory, producer="entitlements") as uow:
        async def deactivated() -> ActivationOut:
            return ActivationOut.model_validate(await handlers.deactivate_activation(uow, command))

        scope = idempotency_scope(caller, f"POST /api/v1/activations/{activation_id}/deactivate")
        answer = await idempotent(uow.session, idempotency_key, scope=scope,
                                  request_body={"activation_id": activation_id}, status=200, work=deactivated)
        await uow.commit()
    return answer


@dataclass(frozen=True)
class ActivationFilters:
    """The log's filters; dates are whole UTC days, both ends included."""

    date_from: date | None = None
    date_to: date | None = None
    product_id: uuid.UUID | None = None
    search: str | None = None

    def params(self, org_id: uuid.UUID) -> dict:
        """The bind parameters of the caller's activations with these filters: only those of the
        filters set, so their names are the statement's shape (`_activations`)."""
        values = {
            "org_id": org_id,
            "created_from": None if self.date_from is None else datetime.combine(self.date_from, time.min, UTC),
            "created_before": None if self.date_to is None
            else datetime.combine(self.date_to + timedelta(days=1), time.min, UTC),
            "product_id": self.product_id,
            "pattern": contains_pattern(self.search) if self.search and self.search.strip() else None,
        }
        return {name: value for name, value in values.items() if value is not None}


def _activations(given: Set[str], *sort_keys: sa.ColumnElement) -> sa.Select:
    """The activations of the org `org_id`, filtered by the parameters `given` (their names), with
    `sort_keys` as extra columns."""
    query = (
        sa.select(
            activations.c.id, activations.c.entitlement_id, activations.c.product_id,
            products.c.name.label("product_name"), activations.c.quantity, activations.c.project_name,
            activations.c.project_manager, activations.c.serial_number, activations.c.activated_by,
            activations.c.activated_by_name, activations.c.status, activations.c.created_at,
            activations.c.deactivated_at, activations.c.deactivated_by, reservations.c.subscription_id, *sort_keys,
        )
        .join(products, products.c.id == activations.c.product_id)
        .outerjoin(reservations, reservations.c.activation_id == activations.c.id)
        .where(activations.c.org_id == sa.bindparam("org_id", type_=activations.c.org_id.type))
    )
    moment = activations.c.created_at.type
    if "created_from" in given:
        query = query.where(activations.c.created_at >= sa.bindparam("created_from", type_=moment))
    if "created_before" in given:
        query = query.where(activations.c.created_at < sa.bindparam("created_before", type_=moment))
    if "product_id" in given:
        query = query.where(activations.c.product_id == sa.bindparam("product_id", type_=activations.c.product_id.type))
    if "pattern" in given:
        pattern = sa.bindparam("pattern", type_=sa.Text)
        query = query.where(sa.or_(*(c.ilike(pattern, escape="\\") for c in (
            activations.c.project_name, activations.c.project_manager, activations.c.serial_number,
            products.c.name, activations.c.entitlement_id))))
    return query


# Per sort: the column of the listed rows it orders by, and its type (for the cursor).
SORT_KEYS = {
    "created_at": ("created_at", datetime), "product_name": ("product_name", str),
    "project_name": ("project_name", str), "project_manager": ("project_manager_key", str),
    "activated_by": ("activated_by_key", str), "quantity": ("quantity", int),
    "entitlement_id": ("entitlement_id", str), "serial_number": ("serial_number_key", str),
}
SORTS = tuple(SORT_KEYS)

# Page statements by shape (listing.py): the filters set, the window's shape. The dashboard asks
# for a customer's recent activations on every load.
_pages: dict[tuple, sa.Select] = {}


def _page_statement(given: frozenset[str], window: Window) -> sa.Select:
    shape = (given, window.shape)
    statement = _pages.get(shape)
    if statement is None:
        listed = _activations(
            given,
            sa.func.coalesce(activations.c.project_manager, "").label("project_manager_key"),
            sa.func.coalesce(activations.c.activated_by_name, "").label("activated_by_key"),
            sa.func.coalesce(activations.c.serial_number, "").label("serial_number_key"),
        ).subquery()
        statement = _pages[shape] = window.cut(sa.select(listed), listed.c[SORT_KEYS[window.sort][0]], listed.c.id)
    return statement


@router.get("", response_model=Page[ActivationOut])
async def list_activations(
    request: Request,
    caller: Caller = require(Action.VIEW_ACTIVATIONS),
    date_from: date | None = None,
    date_to: date | None = None,
    product_id: uuid.UUID | None = None,
    search: SearchText = None,
    sort: SortBy(SORTS) = "created_at",
    order: Order = "desc",
    limit: Limit = 50,
    cursor: Cursor = None,
):
    window = window_of(sort=sort, order=order, cursor=cursor, limit=limit, value_type=SORT_KEYS[sort][1],
                       id_type=uuid.UUID)
    params = ActivationFilters(date_from=date_from, date_to=date_to, product_id=product_id,
                               search=search).params(caller.org_id)
    statement = _page_statement(frozenset(params), window)
    async with request.app.state.session_factory() as session:
        rows = (await session.execute(statement, {**params, **window.params()})).mappings().all()
    return Page[ActivationOut](
        items=[ActivationOut.model_validate(dict(r)) for r in rows[:limit]],
        next_cursor=window.next_cursor(rows, key_field=SORT_KEYS[sort][0], id_field="id"),
    )


EXPORT_HEADER = ("Activation Date", "Product Name", "Project Name", "Project Manager", "Activated By",
                 "Quantity", "Entitlement ID", "Serial Number", "Status")


@router.get("/export.csv", response_class=CsvFile)
async def export_activations(
    request: Request,
    caller: Caller = require(Action.EXPORT_ACTIVATIONS),
    date_from: date | None = None,
    date_to: date | None = None,
    product_id: uuid.UUID | None = None,
    search: SearchText = None,
):
    """Every activation that matches the filters, newest first, read through a server-side cursor."""
    params = ActivationFilters(date_from=date_from, date_to=date_to, product_id=product_id,
                               search=search).params(caller.org_id)
    query = _activations(params).order_by(activations.c.created_at.desc(), activations.c.id.desc())
    session_factory = request.app.state.session_factory

    async def rows() -> AsyncIterator[tuple]:
        async with session_factory() as session:
            result = await session.stream(query.execution_options(yield_per=500), params)
            async for r in result.mappings():
                yield (r["created_at"], r["product_name"], r["project_name"], r["project_manager"],
                       r["activated_by_name"] or r["activated_by"], r["quantity"], r["entitlement_id"],
                       r["serial_number"], r["status"])

    return csv_response("activations", EXPORT_HEADER, rows())
