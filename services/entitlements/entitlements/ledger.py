"""The quantity ledger: the only code that changes a holding. Each change writes its ledger entry
in the same transaction (the caller's unit of work), so conservation holds at every commit.

A transfer or an activation locks the sender's holding row (FOR UPDATE) before it reads what is
available: concurrent requests for the same holding queue up and never overdraw it.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from entitlements.db import activations, entitlement_lines, entitlements, holdings, ledger_entries, products
from entitlements.domain.transfers import Move, Refusal, decide_transfer, is_expired
from shared.events.entitlements import TransferCompleted, TransferRejected
from shared.events.transfers import TransferRequested
from shared.org_directory import find_org, why_not_eligible

# Which running total of the holding each kind of entry adds to.
_TOTAL_FOR_KIND = {"issue": "received", "transfer_in": "received", "transfer_out": "transferred",
                   "activation": "activated"}


@dataclass(frozen=True)
class Line:
    id: uuid.UUID
    entitlement_id: str
    product_id: uuid.UUID
    product_name: str
    product_description: str | None
    quantity: int
    entitlement_status: str
    expiration_date: date | None
    po_number: str | None
    sales_order: str


def today() -> date:
    return datetime.now(UTC).date()


async def find_line(session: AsyncSession, entitlement_id: str, product_id: uuid.UUID) -> Line | None:
    row = (
        await session.execute(
            sa.select(
                entitlement_lines.c.id, entitlement_lines.c.entitlement_id, entitlement_lines.c.product_id,
                products.c.name, products.c.description, entitlement_lines.c.quantity, entitlements.c.status,
                entitlements.c.expiration_date, entitlements.c.po_number, entitlements.c.sales_order,
            )
            .join(entitlements, entitlements.c.id == entitlement_lines.c.entitlement_id)
            .join(products, products.c.id == entitlement_lines.c.product_id)
            .where(entitlement_lines.c.entitlement_id == entitlement_id, entitlement_lines.c.product_id == product_id)
        )
    ).one_or_none()
    return Line(*row) if row else None


async def locked_available(session: AsyncSession, line_id: uuid.UUID, org_id: uuid.UUID) -> int | None:
    """What the org holds of the line, with its holding row locked until commit; None: no holding."""
    return (
        await session.execute(
            sa.select(holdings.c.available)
            .where(holdings.c.line_id == line_id, holdings.c.org_id == org_id)
            .with_for_update()
        )
    ).scalar_one_or_none()


async def change_holding(
    session: AsyncSession,
    *,
    line_id: uuid.UUID,
    org_id: uuid.UUID,
    delta: int,
    kind: str,
    transfer_id: uuid.UUID | None = None,
    activation_id: uuid.UUID | None = None,
    counterparty_org_id: uuid.UUID | None = None,
    actor_user_id: uuid.UUID | None = None,
) -> int:
    """Adds `delta` (negative: takes) to the org's holding and writes the ledger entry; returns
    what is available after. A holding that would go negative fails the transaction (a CHECK)."""
    total = _TOTAL_FOR_KIND[kind]
    increments = {"available": holdings.c.available + delta, total: holdings.c[total] + abs(delta),
                  "updated_at": sa.func.now()}
    if delta < 0:
        # Taking needs an existing holding (an insert's proposed row would fail the CHECK first).
        statement = (
            sa.update(holdings)
            .where(holdings.c.line_id == line_id, holdings.c.org_id == org_id)
            .values(**increments)
            .returning(holdings.c.available)
        )
    else:
        statement = (
            insert(holdings)
            .values(line_id=line_id, org_id=org_id, available=delta, **{total: delta})
            .on_conflict_do_update(index_elements=["line_id", "org_id"], set_=increments)
            .returning(holdings.c.available)
        )
    # One statement for both writes (the holding's change feeds its ledger entry): half the round
    # trips on the busiest path of the service. No holding changed (none to take from): no row.
    changed = statement.cte("changed")
    entry = dict(line_id=line_id, org_id=org_id, kind=kind, quantity=delta, transfer_id=transfer_id,
                 activation_id=activation_id, counterparty_org_id=counterparty_org_id, actor_user_id=actor_user_id)
    values = [sa.literal(value, type_=ledger_entries.c[name].type) for name, value in entry.items()]
    write = (
        sa.insert(ledger_entries)
        .from_select([*entry, "available_after"], sa.select(*values, changed.c.available))
        .returning(ledger_entries.c.available_after)
    )
    return (await session.execute(write)).scalar_one()


async def apply_transfer(session: AsyncSession, request: TransferRequested) -> TransferCompleted | TransferRejected:
    """Moves the licenses in the caller's transaction, or says why not (and moves nothing)."""
    line = await find_line(session, request.entitlement_id, request.product_id)
    available = None if line is None else await locked_available(session, line.id, request.from_org_id)
    if line is None or available is None:
        return _rejected(request, Refusal(
            "unknown_line", f"You hold no licenses of this product in entitlement {request.entitlement_id}."))
    outcome = decide_transfer(
        available=available,
        requested=request.quantity,
        entitlement_status=line.entitlement_status,
        expiration_date=line.expiration_date,
        today=today(),
        destination_problem=why_not_eligible(await find_org(session, request.to_org_id), request.from_org_id),
    )
    if isinstance(outcome, Refusal):
        return _rejected(request, outcome)
    await _move(session, line, request, outcome)
    return TransferCompleted(
        transfer_id=request.transfer_id, from_org_id=request.from_org_id, to_org_id=request.to_org_id,
        entitlement_id=line.entitlement_id, product_id=line.product_id, product_name=line.product_name,
        product_description=line.product_description, quantity=outcome.quantity, action=outcome.action,
        po_number=line.po_number, sales_order=line.sales_order,
    )


async def _move(session: AsyncSession, line: Line, request: TransferRequested, move: Move) -> None:
    common = dict(line_id=line.id, transfer_id=request.transfer_id, actor_user_id=request.requested_by)
    await change_holding(session, org_id=request.from_org_id, delta=-move.quantity, kind="transfer_out",
                         counterparty_org_id=request.to_org_id, **common)
    await change_holding(session, org_id=request.to_org_id, delta=move.quantity, kind="transfer_in",
                         counterparty_org_id=request.from_org_id, **common)


def _rejected(request: TransferRequested, refusal: Refusal) -> TransferRejected:
    return TransferRejected(
        transfer_id=request.transfer_id, from_org_id=request.from_org_id, to_org_id=request.to_org_id,
        entitlement_id=request.entitlement_id, product_id=request.product_id, quantity=request.quantity,
        reason_code=refusal.code, reason=refusal.reason,
    )


@dataclass(frozen=True)
class ActivationRequest:
    org_id: uuid.UUID
    quantity: int
    project_name: str
    project_manager: str | None = None
    serial_number: str | None = None
    activated_by: uuid.UUID | None = None
    activated_by_name: str | None = None


async def activate(session: AsyncSession, line: Line, request: ActivationRequest) -> uuid.UUID | Refusal:
    """Consumes part of the org's holding for a project: the activation row and the holding change
    are written together, or nothing is. Returns the activation id, or why not."""
    available = await locked_available(session, line.id, request.org_id)
    if available is None:
        return Refusal("unknown_line", f"You hold no licenses of this product in entitlement {line.entitlement_id}.")
    if is_expired(line.expiration_date, today()) or line.entitlement_status == "expired":
        return Refusal("entitlement_expired", f"The entitlement expired on {line.expiration_date}.")
    if line.entitlement_status != "active":
        return Refusal("entitlement_not_active", f"The entitlement is {line.entitlement_status}.")
    if request.quantity > available:
        return Refusal("insufficient_quantity", f"Only {available} unactivated; {request.quantity} requested.")
    activation_id = uuid.uuid4()
    await session.execute(
        sa.insert(activations).values(
            id=activation_id, org_id=request.org_id, line_id=line.id, entitlement_id=line.entitlement_id,
            product_id=line.product_id, quantity=request.quantity, project_name=request.project_name,
            project_manager=request.project_manager, serial_number=request.serial_number,
            activated_by=request.activated_by, activated_by_name=request.activated_by_name,
        )
    )
    await change_holding(session, line_id=line.id, org_id=request.org_id, delta=-request.quantity, kind="activation",
                         activation_id=activation_id, actor_user_id=request.activated_by)
    return activation_id


async def unconserved_lines(session: AsyncSession) -> list[dict]:
    """The lines where holdings plus active activations differ from the issued quantity, or where a
    holding is negative or disagrees with its ledger entries: empty when the books balance."""
    rows = await session.execute(sa.text(_CONSERVATION_CHECK))
    return [dict(r) for r in rows.mappings()]


_CONSERVATION_CHECK = """
WITH held AS (SELECT line_id, sum(available) AS available, min(available) AS lowest FROM holdings GROUP BY line_id),
     used AS (SELECT line_id, sum(quantity) AS activated FROM activations WHERE status = 'active' GROUP BY line_id),
     booked AS (SELECT line_id, org_id, sum(quantity) AS total FROM ledger_entries GROUP BY line_id, org_id),
     drift AS (SELECT h.line_id FROM holdings h JOIN booked b USING (line_id, org_id) WHERE b.total <> h.available)
SELECT l.id AS line_id, l.entitlement_id, l.quantity AS issued,
       coalesce(held.available, 0) AS held, coalesce(used.activated, 0) AS activated, held.lowest
FROM entitlement_lines l
LEFT JOIN held ON held.line_id = l.id
LEFT JOIN used ON used.line_id = l.id
WHERE coalesce(held.available, 0) + coalesce(used.activated, 0) <> l.quantity
   OR held.lowest < 0
   OR l.id IN (SELECT line_id FROM drift)
"""
