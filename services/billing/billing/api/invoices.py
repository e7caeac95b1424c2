"""Invoices: send up to 20 at once (one per licence assigned to a customer), list them, download
the PDF, mark one paid or void. The issuer sees what it sent, the customer what it received."""

import uuid
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from billing.api.shapes import InvoiceOut, idempotency_scope, invoice_out, sorted_items, unit_of_work
from billing.db import invoices
from billing.domain.commands import SendInvoices
from billing.domain.invoices import MAX_INVOICES_AT_ONCE
from billing.handlers import move_invoice, send_invoices
from shared.auth.dependencies import require
from shared.auth.permissions import Action, Tier
from shared.auth.tokens import Caller
from shared.idempotency import IdempotencyKey, idempotent
from shared.pagination import Cursor, Limit, Page
from shared.problems import Problem
from shared.sorting import SortBy, SortOrder
from shared.strict_json import StrictJsonRoute

PATH = "/api/v1/invoices"
router = APIRouter(prefix=PATH, tags=["invoices"], route_class=StrictJsonRoute)


class SendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subscription_ids: Annotated[list[uuid.UUID], Field(min_length=1, max_length=MAX_INVOICES_AT_ONCE)]


class Sent(BaseModel):
    items: list[InvoiceOut]


@router.post("", status_code=201, response_model=Sent)
async def send(request: Request, body: SendIn, key: IdempotencyKey = None,
               caller: Caller = require(Action.MANAGE_INVOICES)):
    """One invoice per licence, numbered in order, each mailed with its PDF to the customer's
    Admins. All or none: a licence not assigned, or not yours, refuses the whole send."""
    if len(set(body.subscription_ids)) != len(body.subscription_ids):
        raise Problem(422, "A licence is listed twice; list each once.")
    scope = idempotency_scope(caller, f"POST {PATH}")
    async with unit_of_work(request) as uow:
        async def send_them() -> Sent:
            issued = await send_invoices(uow, SendInvoices(
                org_id=caller.org_id, subscription_ids=tuple(body.subscription_ids), sent_by=caller.user_id))
            return Sent(items=[invoice_out(row) for row in issued])

        answer = await idempotent(uow.session, key, scope=scope, request_body=body.model_dump(mode="json"),
                                  status=201, work=send_them)
        await uow.commit()
    return answer


def _visible(caller: Caller):
    if caller.tier == Tier.CUSTOMER:
        return invoices.c.customer_org_id == caller.org_id
    return invoices.c.issuer_org_id == caller.org_id


SORTS = {"created_at": invoices.c.created_at, "number": invoices.c.number, "total": invoices.c.total_minor}


@router.get("", response_model=Page[InvoiceOut])
async def list_invoices(request: Request, caller: Caller = require(Action.VIEW_INVOICES),
                        state: Literal["open", "paid", "void"] | None = None, subscription_id: uuid.UUID | None = None,
                        sort: SortBy(SORTS) = "created_at", order: SortOrder = None, limit: Limit = 50,
                        cursor: Cursor = None):
    query = sa.select(*(c for c in invoices.c if c.name != "pdf")).where(_visible(caller))
    if state is not None:
        query = query.where(invoices.c.state == state)
    if subscription_id is not None:
        query = query.where(invoices.c.subscription_id == subscription_id)
    async with request.app.state.session_factory() as session:
        return await sorted_items(session, query, SORTS, sort, order, invoices.c.id, cursor, limit, invoice_out)


async def _one(request: Request, caller: Caller, invoice_id: uuid.UUID):
    async with request.app.state.session_factory() as session:
        row = (await session.execute(sa.select(invoices).where(invoices.c.id == invoice_id, _visible(caller)))
               ).mappings().one_or_none()
    if row is None:
        raise Problem(404, f"No invoice with id {invoice_id}.")
    return row


# Before /{invoice_id}, which would otherwise take "<id>.pdf" as an id.
@router.get("/{invoice_id}.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}, "description": "The invoice as a PDF"}})
async def invoice_pdf(request: Request, invoice_id: uuid.UUID, caller: Caller = require(Action.VIEW_INVOICES)):
    row = await _one(request, caller, invoice_id)
    return Response(row["pdf"], media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{row["number"]}.pdf"'})


@router.get("/{invoice_id}", response_model=InvoiceOut)
async def get_invoice(request: Request, invoice_id: uuid.UUID, caller: Caller = require(Action.VIEW_INVOICES)):
    return invoice_out(await _one(request, caller, invoice_id))


async def _move(request: Request, caller: Caller, invoice_id: uuid.UUID, target: str) -> InvoiceOut:
    async with unit_of_work(request) as uow:
        row = await move_invoice(uow, caller.org_id, invoice_id, target)
        await uow.commit()
    return invoice_out(row)


@router.post("/{invoice_id}/pay", response_model=InvoiceOut)
async def pay(request: Request, invoice_id: uuid.UUID, caller: Caller = require(Action.MANAGE_INVOICES)):
    """The issuer marks an open invoice paid."""
    return await _move(request, caller, invoice_id, "paid")


@router.post("/{invoice_id}/void", response_model=InvoiceOut)
async def void(request: Request, invoice_id: uuid.UUID, caller: Caller = require(Action.MANAGE_INVOICES)):
    return await _move(request, caller, invoice_id, "void")
