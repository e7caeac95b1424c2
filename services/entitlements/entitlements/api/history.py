"""The ledger's history, read: what an org held of each entitlement line at a moment
(`/licenses/holdings?as_of=`), and the entries that explain a holding (`/licenses/ledger`).

Every change of a holding wrote a ledger entry with `available_after` in the same transaction, and
changes of one holding are serialized by its row lock, so a holding's entries in (occurred_at, id)
order are its history: what it held at a moment is the `available_after` of its last entry at or
before it. Scoped like the products tab (api/scope.py): the caller's org or one of its child orgs,
never anyone else's entries. The vendor holds nothing itself (issuing credits the distributor), so
it reads its distributors' histories with `org_id`.
"""

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from entitlements.api.listing import Order, keyset_page, next_cursor
from entitlements.api.scope import holder_for
from entitlements.db import entitlement_lines, holdings, ledger_entries, org_directory, products
from entitlements.ledger import find_line
from shared.auth.dependencies import require
from shared.auth.permissions import Action
from shared.auth.tokens import Caller
from shared.pagination import Cursor, Limit, Page
from shared.problems import Problem
from shared.sorting import SortBy
from shared.validation import Text

router = APIRouter(prefix="/api/v1/licenses", tags=["licenses"])

HolderOrg = Annotated[uuid.UUID | None, Query(description="A child org of the caller's: its history instead")]
EntitlementId = Annotated[Annotated[Text, Field(min_length=1, max_length=40)],
                          Query(description="The entitlement id (ENT-2026-000042)")]
# Every kind the ledger writes (entitlements.ledger, entitlements.reservations).
EntryKind = Literal["issue", "transfer_out", "transfer_in", "activation", "activation_reversal", "reservation",
                    "reservation_release", "subscription_in"]


def _utc(moment: datetime | None) -> datetime | None:
    """A moment without a zone is read as UTC."""
    if moment is None:
        return None
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:  # a zone offset moving year 1 or 9999 out of range: before or after everything
        return (datetime.min if moment.year == 1 else datetime.max).replace(tzinfo=UTC)


class Holding(BaseModel):
    entitlement_id: str
    product_id: uuid.UUID
    product_name: str
    available: int  # what the org held and had not passed on or activated, at that moment
    changed_at: datetime  # when it last changed before that moment


HOLDING_SORTS = ("entitlement_id", "product_name", "available")


@router.get("/holdings", response_model=Page[Holding])
async def holdings_as_of(
    request: Request,
    caller: Caller = require(Action.VIEW_LICENSES),
    as_of: Annotated[datetime | None, Query(description="ISO 8601 date-time (without a zone: UTC); absent: now")] = None,
    org_id: HolderOrg = None,
    entitlement_id: Annotated[Annotated[Text, Field(min_length=1, max_length=40)] | None, Query()] = None,
    product_id: uuid.UUID | None = None,
    sort: SortBy(HOLDING_SORTS) = "entitlement_id",
    order: Order = "asc",
    limit: Limit = 50,
    cursor: Cursor = None,
):
    """What the org held of each entitlement line at `as_of`: lines it had not received yet are
    absent, lines it had passed on or activated entirely show 0."""
    moment = _utc(as_of)
    async with request.app.state.session_factory() as session:
        holder = await holder_for(session, caller, org_id)
        latest = (
            sa.select(ledger_entries.c.available_after, ledger_entries.c.occurred_at)
            .where(ledger_entries.c.line_id == holdings.c.line_id, ledger_entries.c.org_id == holdings.c.org_id,
                   *([ledger_entries.c.occurred_at <= moment] if moment else []))
            .order_by(ledger_entries.c.occurred_at.desc(), ledger_entries.c.id.desc())
            .limit(1)
            .lateral("latest")
        )
        # Every org that ever had an entry of a line has its holding row: the lines to look back on.
        held = (
            sa.select(
                holdings.c.line_id, entitlement_lines.c.entitlement_id, entitlement_lines.c.product_id,
                products.c.name.label("product_name"), latest.c.available_after.label("available"),
                latest.c.occurred_at.label("changed_at"),
            )
            .select_from(
                holdings.join(latest, sa.true())
                .join(entitlement_lines, entitlement_lines.c.id == holdings.c.line_id)
                .join(products, products.c.id == entitlement_lines.c.product_id)
            )
            .where(holdings.c.org_id == holder.org_id)
        )
        if entitlement_id is not None:
            held = held.where(entitlement_lines.c.entitlement_id == entitlement_id.strip())
        if product_id is not None:
            held = held.where(entitlement_lines.c.product_id == product_id)
        listed = held.subquery("held")
        h = listed.c
        columns = {"entitlement_id": (h.entitlement_id, str), "product_name": (h.product_name, str),
                   "available": (h.available, int)}
        query = keyset_page(sa.select(listed), columns=columns, sort=sort, order=order,
                            id_column=h.line_id, id_type=uuid.UUID, cursor=cursor, limit=limit)
        rows = (await session.execute(query)).mappings().all()
    return Page[Holding](
        items=[Holding.model_validate(dict(r)) for r in rows[:limit]],
        next_cursor=next_cursor(rows, columns=columns, sort=sort, order=order, limit=limit, id_key="line_id"),
    )


class LedgerEntry(BaseModel):
    id: int
    occurred_at: datetime
    # issue, transfer_out, transfer_in, activation, activation_reversal; reservation and
    # reservation_release (a subscription licence's quantity out of the seller's holding, and back
    # when deleted unused); subscription_in (a subscription licence become the customer's, its
    # activation entry follows)
    kind: str
    quantity: int  # the signed change of the org's available quantity
    available_after: int
    counterparty_org_id: uuid.UUID | None  # the other org of a transfer; the seller of a subscription licence
    counterparty_name: str | None
    transfer_id: uuid.UUID | None
    activation_id: uuid.UUID | None
    subscription_id: uuid.UUID | None  # the subscription licence (billing) of its entries
    actor_user_id: uuid.UUID | None  # who did it (the issuer, the sender's member, the customer's Admin)


@router.get("/ledger", response_model=Page[LedgerEntry])
async def ledger(
    request: Request,
    entitlement_id: EntitlementId,
    product_id: uuid.UUID,
    caller: Caller = require(Action.VIEW_LICENSES),
    org_id: HolderOrg = None,
    occurred_from: Annotated[datetime | None, Query(description="ISO 8601 date-time, inclusive (without a zone: UTC)")] = None,
    occurred_to: Annotated[datetime | None, Query(description="ISO 8601 date-time, inclusive (without a zone: UTC)")] = None,
    kind: Annotated[EntryKind | None, Query(description="Only entries of this kind")] = None,
    order: Annotated[Literal["asc", "desc"], Query(description="desc: newest first")] = "desc",
    limit: Limit = 50,
    cursor: Cursor = None,
):
    """The ledger entries of the org's holding of one entitlement line, newest first: summed, the
    quantities of all of them give what it has available now. 404 when it never held any."""
    start, end = _utc(occurred_from), _utc(occurred_to)
    if start and end and start > end:
        raise Problem(422, "occurred_from: the start of the range is after its end", "Invalid request")
    async with request.app.state.session_factory() as session:
        holder = await holder_for(session, caller, org_id)
        line = await find_line(session, entitlement_id.strip(), product_id)
        ever_held = line is not None and (await session.execute(
            sa.select(holdings.c.line_id).where(holdings.c.line_id == line.id, holdings.c.org_id == holder.org_id)
        )).first() is not None
        if not ever_held:
            raise Problem(404, f"No licenses of product {product_id} in entitlement {entitlement_id} were ever held "
                               "by this organization.")
        counterparty = org_directory.alias("counterparty")
        entries = (
            sa.select(
                ledger_entries.c.id, ledger_entries.c.occurred_at, ledger_entries.c.kind, ledger_entries.c.quantity,
                ledger_entries.c.available_after, ledger_entries.c.counterparty_org_id,
                counterparty.c.name.label("counterparty_name"), ledger_entries.c.transfer_id,
                ledger_entries.c.activation_id, ledger_entries.c.subscription_id, ledger_entries.c.actor_user_id,
            )
            .select_from(ledger_entries.outerjoin(counterparty, counterparty.c.id == ledger_entries.c.counterparty_org_id))
            .where(ledger_entries.c.line_id == line.id, ledger_entries.c.org_id == holder.org_id)
        )
        if start:
            entries = entries.where(ledger_entries.c.occurred_at >= start)
        if end:
            entries = entries.where(ledger_entries.c.occurred_at <= end)
        if kind:
            entries = entries.where(ledger_entries.c.kind == kind)
        listed = entries.subquery("entries")
        columns = {"occurred_at": (listed.c.occurred_at, datetime)}
        query = keyset_page(sa.select(listed), columns=columns, sort="occurred_at", order=order,
                            id_column=listed.c.id, id_type=int, cursor=cursor, limit=limit)
        rows = (await session.execute(query)).mappings().all()
    return Page[LedgerEntry](
        items=[LedgerEntry.model_validate(dict(r)) for r in rows[:limit]],
        next_cursor=next_cursor(rows, columns=columns, sort="occurred_at", order=order, limit=limit, id_key="id"),
    )
