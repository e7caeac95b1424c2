"""What the billing API answers with, and the bits every router of the service shares."""

import uuid
from datetime import date, datetime
from decimal import Decimal

from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa
from fastapi import Request
from pydantic import BaseModel

from billing.domain.money import from_minor
from billing.domain.periods import interval_label, lifecycle_status
from billing.handlers import today
from shared.auth.tokens import Caller
from shared.db import UnitOfWork
from shared.events.billing import InvoiceLine
from shared.keyset import Window
from shared.pagination import Page
from shared.sorting import resolve_order, sorted_page_query


def unit_of_work(request: Request) -> UnitOfWork:
    return UnitOfWork(request.app.state.session_factory, producer="billing")


async def sorted_items(session, query: sa.Select, sorts: Mapping[str, Any], sort: str, order: str | None, id_column,
                       cursor: str | None, limit: int, shape: Callable[[Any], BaseModel]) -> Page:
    """One page of `query` in the asked order, each row shaped by `shape` (shared.sorting pages it)."""
    rows = (await session.execute(sorted_page_query(query, sorts, sort, order, id_column, cursor, limit))).mappings().all()
    window = Window(sort, resolve_order(sorts, sort, order), None, limit)
    return Page(items=[shape(row) for row in rows[:limit]],
                next_cursor=window.next_cursor(rows, key_field="_sort_value", id_field="id"))


def idempotency_scope(caller: Caller, route: str) -> str:
    return f"{caller.org_id}:{caller.user_id}:{route}"


class PlanOut(BaseModel):
    id: uuid.UUID
    name: str
    interval: str
    interval_months: int
    unit_price: Decimal
    unit_price_minor: int
    currency: str
    enabled: bool
    created_at: datetime
    updated_at: datetime


def plan_out(row) -> PlanOut:
    return PlanOut(**{name: row[name] for name in ("id", "name", "interval_months", "unit_price_minor", "currency",
                                                   "enabled", "created_at", "updated_at")},
                   interval=interval_label(row["interval_months"]),
                   unit_price=from_minor(row["unit_price_minor"], row["currency"]))


class SubscriptionOut(BaseModel):
    id: uuid.UUID
    name: str
    note: str | None
    quantity: int
    plan_id: uuid.UUID
    plan_name: str
    interval: str
    unit_price: Decimal
    currency: str
    amount: Decimal  # unit price x quantity: what the console's toolbar adds up
    entitlement_id: str
    product_id: uuid.UUID
    seller_org_id: uuid.UUID
    customer_org_id: uuid.UUID | None
    customer_name: str | None
    reservation: str  # pending, reserved or rejected (by the ledger, with the reason)
    reservation_reason: str | None
    status: str  # active, expiring_soon, expired, paused
    billing_status: str  # none, invoiced, paid
    paused: bool
    resume_on: date | None
    auto_renew: bool
    created_at: datetime
    activated_at: datetime | None
    period_start: date
    period_end: date
    claim_code_expires_at: datetime | None = None
    claim_code_used: bool = False
    claim_code: str | None = None  # the plain code: in the answer that created it only


def subscription_out(row, expiring_window_days: int, claim_code: str | None = None) -> SubscriptionOut:
    values = dict(row)
    price = from_minor(values["unit_price_minor"], values["currency"])
    return SubscriptionOut.model_validate({
        **values,
        "interval": interval_label(values["interval_months"]),
        "unit_price": price,
        "amount": price * values["quantity"],
        "status": lifecycle_status(paused=values["paused"], period_end=values["period_end"], today=today(),
                                   expiring_window_days=expiring_window_days),
        "claim_code_used": values.get("claim_code_used_at") is not None,
        "claim_code": claim_code,
    })


class InvoiceOut(BaseModel):
    id: uuid.UUID
    number: str
    state: str  # open, paid, void
    issuer_org_id: uuid.UUID
    issuer_name: str
    customer_org_id: uuid.UUID
    customer_name: str
    subscription_id: uuid.UUID
    currency: str
    total: Decimal
    total_minor: int
    lines: list[InvoiceLine]
    created_at: datetime
    paid_at: datetime | None
    voided_at: datetime | None


def invoice_out(row) -> InvoiceOut:
    values = {name: value for name, value in dict(row).items() if name != "pdf"}
    return InvoiceOut.model_validate({**values, "total": from_minor(values["total_minor"], values["currency"])})
