"""The quantity ledger: the only code that changes a holding. Each change writes its ledger entry
in the same transaction (the caller's unit of work), so conservation holds at every commit.

A transfer or an activation locks the holding rows it changes (FOR UPDATE) before it reads what
is available: concurrent requests for the same holding queue up and never overdraw it.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession

from entitlements.db import activations, entitlement_lines, entitlements, holdings, ledger_entries, products
from entitlements.domain.entitlements import Refusal, why_unusable
from entitlements.domain.transfers import decide_transfer
from shared.db import DriverStatement, UnitOfWork, array_params
from shared.events.entitlements import TransferCompleted, TransferRejected
from shared.events.transfers import TransferRequested
from shared.org_directory import find_orgs, why_not_eligible

# Which running total of the holding each kind of entry adds to.
_TOTAL_FOR_KIND = {"issue": "received", "transfer_in": "received", "transfer_out": "transferred",
                   "activation": "activated"}
# A reversal takes its quantity back out of the total of the kind it reverses (a deactivation
# lowers `activated`), and only ever changes a holding that exists.
_TOTAL_REVERSED_BY_KIND = {"activation_reversal": "activated"}


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


_LINE_COLUMNS = (
    sa.select(
        entitlement_lines.c.id, entitlement_lines.c.entitlement_id, entitlement_lines.c.product_id,
        products.c.name, products.c.description, entitlement_lines.c.quantity, entitlements.c.status,
        entitlements.c.expiration_date, entitlements.c.po_number, entitlements.c.sales_order,
    )
    .join(entitlements, entitlements.c.id == entitlement_lines.c.entitlement_id)
    .join(products, products.c.id == entitlement_lines.c.product_id)
)


async def find_line(session: AsyncSession, entitlement_id: str, product_id: uuid.UUID) -> Line | None:
    rows = await session.execute(_FIND_LINES.statement, _line_keys({(entitlement_id, product_id)}))
    return next((Line(*row) for row in rows), None)


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
    if kind in _TOTAL_REVERSED_BY_KIND:
        total, step = _TOTAL_REVERSED_BY_KIND[kind], -abs(delta)
    else:
        total, step = _TOTAL_FOR_KIND[kind], abs(delta)
    increments = {"available": holdings.c.available + delta, total: holdings.c[total] + step,
                  "updated_at": sa.func.now()}
    if delta < 0 or kind in _TOTAL_REVERSED_BY_KIND:
        # Taking needs an existing holding (an insert's proposed row would fail the CHECK first);
        # so does a reversal, which gives back to the holding its original entry came from.
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


async def apply_transfer(uow: UnitOfWork, request: TransferRequested) -> TransferCompleted | TransferRejected:
    """One request: moves the licenses in the caller's transaction, or says why not."""
    return (await apply_transfers(uow, [request]))[0]


async def apply_transfers(
    uow: UnitOfWork, requests: Sequence[TransferRequested]
) -> list[TransferCompleted | TransferRejected]:
    """Applies the requests in their order, in the caller's transaction, each moved or refused
    with its reason, in a handful of statements whatever their number (under load the consumer
    hands over batches of hundreds, mostly for the same few holdings).

    Locks first: the batch's entitlement lines, in id order, so that transfer batches of the
    same line (two replicas) take turns; then, under that, every existing holding it may change.
    A receiving holding that does not exist yet cannot be created meanwhile by another transfer,
    and single-holding changes (activations) never wait for anything else: no lock cycle. The
    decisions are then made in memory, one request after the other, as if applied one by one;
    the holdings and their ledger entries are written at the end. Its statements run on the
    driver (shared.db.DriverStatement): the consumer's busiest path."""
    lines = await _find_lines(uow, {(r.entitlement_id, r.product_id) for r in requests})
    await _lock_lines(uow, {line.id for line in lines.values()})
    known = await find_orgs(uow, {org_id for r in requests for org_id in (r.from_org_id, r.to_org_id)})
    sides = {(line.id, org_id) for r in requests if (line := lines.get((r.entitlement_id, r.product_id)))
             for org_id in (r.from_org_id, r.to_org_id)}
    available = await _lock_holdings(uow, sides)
    moves = _Moves(available)
    outcomes: list[TransferCompleted | TransferRejected] = []
    for request in requests:
        line = lines.get((request.entitlement_id, request.product_id))
        held = None if line is None else available.get((line.id, request.from_org_id))
        if line is None or held is None:
            outcomes.append(_rejected(request, Refusal(
                "unknown_line", f"You hold no licenses of this product in entitlement {request.entitlement_id}.")))
            continue
        outcome = decide_transfer(
            available=held,
            requested=request.quantity,
            entitlement_status=line.entitlement_status,
            expiration_date=line.expiration_date,
            today=today(),
            destination_problem=why_not_eligible(known.get(request.to_org_id), request.from_org_id),
            sender_archived=(sender := known.get(request.from_org_id)) is not None and sender.status == "archived",
        )
        if isinstance(outcome, Refusal):
            outcomes.append(_rejected(request, outcome))
            continue
        moves.add(line, request, outcome.quantity)
        outcomes.append(TransferCompleted(
            transfer_id=request.transfer_id, from_org_id=request.from_org_id, to_org_id=request.to_org_id,
            entitlement_id=line.entitlement_id, product_id=line.product_id, product_name=line.product_name,
            product_description=line.product_description, quantity=outcome.quantity, action=outcome.action,
            po_number=line.po_number, sales_order=line.sales_order,
        ))
    await moves.write(uow)
    return outcomes


class _Moves:
    """The holdings' changes and ledger entries of a batch of transfers, tracked in memory from
    the locked holdings (`available`, updated as moves are added), then written in three statements."""

    def __init__(self, available: dict[tuple[uuid.UUID, uuid.UUID], int]):
        self.available = available
        self.existing = set(available)
        self.changes: dict[tuple[uuid.UUID, uuid.UUID], dict[str, int]] = {}
        self.entries: list[dict] = []

    def add(self, line: Line, request: TransferRequested, quantity: int) -> None:
        common = dict(line_id=line.id, transfer_id=request.transfer_id, actor_user_id=request.requested_by,
                      activation_id=None)
        for org_id, counterparty, delta, kind in (
            (request.from_org_id, request.to_org_id, -quantity, "transfer_out"),
            (request.to_org_id, request.from_org_id, quantity, "transfer_in"),
        ):
            key = (line.id, org_id)
            self.available[key] = self.available.get(key, 0) + delta
            change = self.changes.setdefault(key, {"available": 0, "received": 0, "transferred": 0})
            change["available"] += delta
            change[_TOTAL_FOR_KIND[kind]] += abs(delta)
            self.entries.append(dict(common, org_id=org_id, kind=kind, quantity=delta, counterparty_org_id=counterparty,
                                     available_after=self.available[key]))

    async def write(self, uow: UnitOfWork) -> None:
        if not self.changes:
            return
        ordered = sorted(self.changes)
        existing = [key for key in ordered if key in self.existing]
        if existing:
            columns = {name: [self.changes[key][name] for key in existing] for name in _HOLDING_TOTALS}
            await uow.execute(_ADD_TO_HOLDINGS, {"line_ids": [key[0] for key in existing],
                                                 "org_ids": [key[1] for key in existing], **columns})
        created = [key for key in ordered if key not in self.existing]
        if created:  # first receipts: only ever additions (what a new holding passed on, it got in the batch)
            await uow.execute(_CREATE_HOLDINGS, {
                "line_ids": [key[0] for key in created], "org_ids": [key[1] for key in created],
                **{name: [self.changes[key][name] for key in created] for name in _HOLDING_TOTALS}})
        await uow.execute(_ADD_ENTRIES, {name: [entry[name] for entry in self.entries] for name in _ENTRY_COLUMNS})


_HOLDING_TOTALS = ("available", "received", "transferred")

# Adds each change to its (locked, existing) holding; one that would go negative fails the
# transaction (its CHECK).
_ADD_TO_HOLDINGS = DriverStatement(sa.text(
    "UPDATE holdings h SET available = h.available + c.available, received = h.received + c.received,"
    " transferred = h.transferred + c.transferred, updated_at = now()"
    " FROM unnest(:line_ids, :org_ids, :available, :received, :transferred)"
    " AS c(line_id, org_id, available, received, transferred)"
    " WHERE h.line_id = c.line_id AND h.org_id = c.org_id"
).bindparams(*array_params(line_ids=UUID(as_uuid=True), org_ids=UUID(as_uuid=True),
                          **dict.fromkeys(_HOLDING_TOTALS, sa.Integer))))

_CREATE_HOLDINGS = DriverStatement(sa.text(
    "INSERT INTO holdings (line_id, org_id, available, received, transferred)"
    " SELECT * FROM unnest(:line_ids, :org_ids, :available, :received, :transferred)"
).bindparams(*array_params(line_ids=UUID(as_uuid=True), org_ids=UUID(as_uuid=True),
                          **dict.fromkeys(_HOLDING_TOTALS, sa.Integer))))

# A batch's ledger entries, one array per column.
_ENTRY_COLUMNS = ("line_id", "org_id", "kind", "quantity", "counterparty_org_id", "transfer_id", "activation_id",
                  "actor_user_id", "available_after")
_ADD_ENTRIES = DriverStatement(sa.insert(ledger_entries).from_select(
    _ENTRY_COLUMNS,
    sa.select(sa.text("*")).select_from(sa.func.unnest(*array_params(**{
        name: ledger_entries.c[name].type for name in _ENTRY_COLUMNS})).alias("entry")),
))

# = ANY(array): one statement whatever the batch; it may read a few lines more (other pairs of
# the same entitlements and products), which are left out.
_FIND_LINES = DriverStatement(_LINE_COLUMNS.where(
    entitlement_lines.c.entitlement_id == sa.any_(sa.bindparam("entitlement_ids", type_=sa.ARRAY(sa.Text))),
    entitlement_lines.c.product_id == sa.any_(sa.bindparam("product_ids", type_=sa.ARRAY(UUID(as_uuid=True)))),
))


def _line_keys(keys: set[tuple[str, uuid.UUID]]) -> dict[str, list]:
    return {"entitlement_ids": sorted({k[0] for k in keys}), "product_ids": sorted({k[1] for k in keys})}


async def _find_lines(uow: UnitOfWork, keys: set[tuple[str, uuid.UUID]]) -> dict[tuple[str, uuid.UUID], Line]:
    if not keys:
        return {}
    lines = (Line(*row) for row in await uow.fetch(_FIND_LINES, _line_keys(keys)))
    return {key: line for line in lines if (key := (line.entitlement_id, line.product_id)) in keys}


async def _lock_lines(uow: UnitOfWork, line_ids: set[uuid.UUID]) -> None:
    """NO KEY UPDATE: the foreign-key checks of ledger entries and activations (KEY SHARE) pass."""
    if line_ids:
        await uow.execute(_LOCK_LINES, {"ids": sorted(line_ids)})


_LOCK_LINES = DriverStatement(sa.text(
    "SELECT id FROM entitlement_lines WHERE id = ANY(:ids) ORDER BY id FOR NO KEY UPDATE"
).bindparams(*array_params(ids=UUID(as_uuid=True))))


async def _lock_holdings(
    uow: UnitOfWork, keys: set[tuple[uuid.UUID, uuid.UUID]]
) -> dict[tuple[uuid.UUID, uuid.UUID], int]:
    """The available quantity of each existing holding among `keys`, locked until commit (in
    (line, org) order, as a single-holding change would take them); a key with no holding is absent."""
    if not keys:
        return {}
    ordered = sorted(keys)
    rows = await uow.fetch(_LOCK_HOLDINGS, {"line_ids": [k[0] for k in ordered], "org_ids": [k[1] for k in ordered]})
    return {(row.line_id, row.org_id): row.available for row in rows}


_LOCK_HOLDINGS = DriverStatement(sa.text(
    "SELECT h.line_id, h.org_id, h.available FROM holdings h"
    " JOIN unnest(:line_ids, :org_ids) AS k(line_id, org_id) ON h.line_id = k.line_id AND h.org_id = k.org_id"
    " ORDER BY h.line_id, h.org_id FOR UPDATE OF h"
).bindparams(*array_params(line_ids=UUID(as_uuid=True), org_ids=UUID(as_uuid=True))))


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
    unusable = why_unusable(line.entitlement_status, line.expiration_date, today())
    if unusable is not None:
        return unusable
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
    """The lines where holdings plus reserved (subscription licences not yet a customer's) plus
    active activations differ from the issued quantity, or where a
    holding is negative or disagrees with its ledger entries, or an entry's `available_after` is
    not the sum of its holding's entries up to it: empty when the books balance."""
    rows = await session.execute(sa.text(_CONSERVATION_CHECK))
    return [dict(r) for r in rows.mappings()]


_CONSERVATION_CHECK = """
WITH held AS (SELECT line_id, sum(available) AS available, min(available) AS lowest FROM holdings GROUP BY line_id),
     used AS (SELECT line_id, sum(quantity) AS activated FROM activations WHERE status = 'active' GROUP BY line_id),
     reserved AS (SELECT line_id, sum(quantity) AS reserved FROM reservations WHERE status = 'reserved' GROUP BY line_id),
     booked AS (SELECT line_id, org_id, sum(quantity) AS total FROM ledger_entries GROUP BY line_id, org_id),
     drift AS (SELECT h.line_id FROM holdings h JOIN booked b USING (line_id, org_id) WHERE b.total <> h.available),
     misstated AS (SELECT line_id FROM (SELECT line_id, available_after,
                          sum(quantity) OVER (PARTITION BY line_id, org_id ORDER BY id) AS running
                          FROM ledger_entries) e WHERE e.running <> e.available_after)
SELECT l.id AS line_id, l.entitlement_id, l.quantity AS issued,
       coalesce(held.available, 0) AS held, coalesce(reserved.reserved, 0) AS reserved,
       coalesce(used.activated, 0) AS activated, held.lowest
FROM entitlement_lines l
LEFT JOIN held ON held.line_id = l.id
LEFT JOIN reserved ON reserved.line_id = l.id
LEFT JOIN used ON used.line_id = l.id
WHERE coalesce(held.available, 0) + coalesce(reserved.reserved, 0) + coalesce(used.activated, 0) <> l.quantity
   OR held.lowest < 0
   OR l.id IN (SELECT line_id FROM drift)
   OR l.id IN (SELECT line_id FROM misstated)
"""


@dataclass(frozen=True)
class Deactivation:
    """An activation given back: its row as it is now (status deactivated) and what the org has
    available of the line afterwards."""

    activation: dict
    available_after: int


async def deactivate(session: AsyncSession, activation_id: uuid.UUID, *, org_id: uuid.UUID,
                     actor_user_id: uuid.UUID | None = None) -> Deactivation | Refusal:
    """Gives an org's activation back: the activation is marked deactivated and its quantity
    returns to the org's holding with an `activation_reversal` entry, in the caller's transaction,
    or nothing changes and the refusal says why.

    The activation row is locked first (FOR UPDATE): of two concurrent deactivations one credits
    the holding, the other then reads it deactivated. (Activating locks the holding and inserts a
    new row, never waiting on an existing activation, so the two lock orders cannot deadlock.)

    An expired or suspended entitlement does not prevent it: giving licenses back creates and
    spends nothing, and a customer may well retire devices after the order ran out. What comes
    back cannot be activated again while the entitlement is expired."""
    row = (
        await session.execute(
            sa.select(activations)
            .where(activations.c.id == activation_id, activations.c.org_id == org_id)
            .with_for_update()
        )
    ).mappings().one_or_none()
    if row is None:
        return Refusal("unknown_activation", f"Your organization has no activation with id {activation_id}.")
    if row["status"] != "active":
        since = f" on {row['deactivated_at']:%Y-%m-%d at %H:%M} UTC" if row["deactivated_at"] else ""
        return Refusal("already_deactivated", f"Activation {activation_id} was already deactivated{since}: its "
                                              "licenses are back in your available quantity. Nothing changed.")
    deactivated = (
        await session.execute(
            sa.update(activations)
            .where(activations.c.id == activation_id)
            .values(status="deactivated", deactivated_at=sa.func.now(), deactivated_by=actor_user_id)
            .returning(*activations.c)
        )
    ).mappings().one()
    available_after = await change_holding(
        session, line_id=row["line_id"], org_id=org_id, delta=row["quantity"], kind="activation_reversal",
        activation_id=activation_id, actor_user_id=actor_user_id,
    )
    return Deactivation(dict(deactivated), available_after)
