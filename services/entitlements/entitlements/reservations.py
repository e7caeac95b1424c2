"""Subscription licences in the ledger: billing sells part of a holding as a subscription licence,
and the quantity leaves the seller's holding as a reservation until the licence is the customer's
(the reservation becomes the customer's activation) or is deleted unused (it goes back).

Conservation, for every line: holdings + reserved + active activations == issued. Each step is
one transaction of this service (the consumer's), its event recorded in it, and the inbox makes
a redelivered request a no-op; the reservation row, keyed by the subscription id, makes a
request that reaches it twice (two events, or a replica's) change nothing the second time.

In the seller's ledger the reservation is a `reservation` entry and its return a
`reservation_release` entry; in the customer's, a conversion is a `subscription_in` entry followed
by the `activation` entry of the same quantity, with the customer's `received` and `activated`
totals raised by it, as if the seller had transferred it and the customer activated it. Every one
of these entries carries the subscription id.

Locks: a reservation locks the seller's holding row (and, assigned at once, the customer's, in org
order as a transfer batch takes them), never the line, so it never waits on a transfer batch that
holds the line (the batch takes the line lock first, then the holdings, in order). Conversion and
release lock the reservation row first, then at most the one holding they change."""

import uuid

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession

from entitlements.db import activations, holdings, ledger_entries, metadata
from entitlements.domain.transfers import Refusal, decide_transfer
from entitlements.ledger import Line, find_line, locked_available, today
from shared.bus.consumer import EventHandler
from shared.db import UnitOfWork
from shared.events.billing import SubscriptionAssigned, SubscriptionDeleted, SubscriptionReservationRequested
from shared.events.entitlements import (
    LicensesActivated,
    ReservationConverted,
    ReservationMade,
    ReservationRejected,
    ReservationReleased,
)
from shared.events.envelope import Envelope
from shared.logging import get_logger
from shared.org_directory import find_org

log = get_logger(__name__)

reservations = sa.Table(
    "reservations",
    metadata,
    sa.Column("subscription_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("line_id", UUID(as_uuid=True), sa.ForeignKey("entitlement_lines.id"), nullable=False),
    sa.Column("seller_org_id", UUID(as_uuid=True), nullable=False),
    sa.Column("quantity", sa.Integer, sa.CheckConstraint("quantity > 0", name="reservation_quantity_positive"),
              nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    # reserved (counts in conservation), converted (now the customer's activation), released (back).
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("customer_org_id", UUID(as_uuid=True)),
    sa.Column("activation_id", UUID(as_uuid=True)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("settled_at", sa.DateTime(timezone=True)),
    sa.CheckConstraint("status IN ('reserved', 'converted', 'released')", name="reservation_status_known"),
    # The conservation check sums what is still reserved, per line.
    sa.Index("reservations_reserved", "line_id", postgresql_where=sa.text("status = 'reserved'")),
    # The products tab sums a seller's reservations per line.
    sa.Index("reservations_by_seller", "seller_org_id", "line_id"),
    # A deactivation asks whether the activation is a subscription licence's.
    sa.Index("reservations_by_activation", "activation_id", postgresql_where=sa.text("activation_id IS NOT NULL")),
)

RESERVE, RELEASE, SUBSCRIPTION_IN = "reservation", "reservation_release", "subscription_in"


async def reservation_requested(uow: UnitOfWork, envelope: Envelope) -> None:
    request = envelope.payload_as(SubscriptionReservationRequested)
    session = uow.session
    known = await session.scalar(sa.select(reservations.c.status)
                                 .where(reservations.c.subscription_id == request.subscription_id))
    if known is not None:
        log.info("reservation already made; request ignored", subscription_id=str(request.subscription_id))
        return
    line = await find_line(session, request.entitlement_id, request.product_id)
    refusal = await _why_not_reserve(uow, line, request)
    visible_to = [request.seller_org_id]
    if refusal is not None:
        uow.record(ReservationRejected(
            subscription_id=request.subscription_id, seller_org_id=request.seller_org_id,
            entitlement_id=request.entitlement_id, product_id=request.product_id, quantity=request.quantity,
            reason_code=refusal.code, reason=refusal.reason,
        ), visible_to=visible_to, actor_org_id=request.seller_org_id, actor_user_id=request.requested_by)
        return
    available_after = await _change_seller_holding(uow, line.id, request.seller_org_id, -request.quantity, RESERVE,
                                                   request.requested_by, request.subscription_id)
    await session.execute(sa.insert(reservations).values(
        subscription_id=request.subscription_id, line_id=line.id, seller_org_id=request.seller_org_id,
        quantity=request.quantity, name=request.name, status="reserved"))
    uow.record(ReservationMade(
        subscription_id=request.subscription_id, seller_org_id=request.seller_org_id,
        entitlement_id=line.entitlement_id, product_id=line.product_id, product_name=line.product_name,
        quantity=request.quantity, available_after=available_after,
    ), visible_to=visible_to, actor_org_id=request.seller_org_id, actor_user_id=request.requested_by)
    if request.customer_org_id is not None:
        await _convert(uow, request.subscription_id, request.customer_org_id)


async def _why_not_reserve(uow: UnitOfWork, line: Line | None,
                           request: SubscriptionReservationRequested) -> Refusal | None:
    available = None if line is None else (await _locked_holdings(
        uow.session, line.id, {request.seller_org_id, request.customer_org_id} - {None})).get(request.seller_org_id)
    if line is None or available is None:
        return Refusal("unknown_line", f"You hold no licenses of this product in entitlement {request.entitlement_id}.")
    # What a split transfer of the quantity out of the holding would be allowed: the same rules.
    outcome = decide_transfer(available=available, requested=request.quantity,
                              entitlement_status=line.entitlement_status, expiration_date=line.expiration_date,
                              today=today(), destination_problem=None)
    return outcome if isinstance(outcome, Refusal) else None


async def _locked_holdings(session: AsyncSession, line_id: uuid.UUID, org_ids: set[uuid.UUID]) -> dict[uuid.UUID, int]:
    """What each of the orgs holds of the line (absent: no holding), the rows locked until commit
    in org order, the order a transfer batch between them takes them in: the two never deadlock."""
    rows = await session.execute(
        sa.select(holdings.c.org_id, holdings.c.available)
        .where(holdings.c.line_id == line_id, holdings.c.org_id.in_(org_ids))
        .order_by(holdings.c.org_id)
        .with_for_update())
    return dict(rows.tuples().all())


async def _change_seller_holding(uow: UnitOfWork, line_id: uuid.UUID, org_id: uuid.UUID, delta: int, kind: str,
                                 actor_user_id: uuid.UUID | None, subscription_id: uuid.UUID) -> int:
    """The seller's (locked, existing) holding changed by `delta`, with its ledger entry."""
    available_after = (await uow.session.execute(
        sa.update(holdings).where(holdings.c.line_id == line_id, holdings.c.org_id == org_id)
        .values(available=holdings.c.available + delta, updated_at=sa.func.now())
        .returning(holdings.c.available)
    )).scalar_one()
    await uow.session.execute(sa.insert(ledger_entries).values(
        line_id=line_id, org_id=org_id, kind=kind, quantity=delta, available_after=available_after,
        actor_user_id=actor_user_id, subscription_id=subscription_id))
    return available_after


async def _locked_reservation(uow: UnitOfWork, subscription_id: uuid.UUID):
    return (await uow.session.execute(
        sa.select(reservations).where(reservations.c.subscription_id == subscription_id).with_for_update()
    )).mappings().one_or_none()


async def subscription_assigned(uow: UnitOfWork, envelope: Envelope) -> None:
    event = envelope.payload_as(SubscriptionAssigned)
    await _convert(uow, event.subscription_id, event.customer_org_id)


async def _convert(uow: UnitOfWork, subscription_id: uuid.UUID, customer_org_id: uuid.UUID) -> None:
    """The reservation becomes the customer's activation (billing checked the customer is one of
    the seller's, when it was assigned). The customer's holding of the line (created if it had
    none) counts it as received and activated, its available quantity unchanged; its ledger says
    so with a `subscription_in` entry and the `activation` entry that takes it out again."""
    reservation = await _locked_reservation(uow, subscription_id)
    if reservation is None:
        # Billing assigns only reserved licences: the reservation is committed before; not seen
        # yet here means a replica's view lags. Failing retries it (and dead-letters it if it never comes).
        raise LookupError(f"no reservation for subscription {subscription_id}")
    if reservation["status"] != "reserved":
        log.info("reservation already settled; assignment ignored", subscription_id=str(subscription_id),
                 status=reservation["status"])
        return
    session = uow.session
    line = (await session.execute(
        sa.text("SELECT l.entitlement_id, l.product_id, p.name FROM entitlement_lines l"
                " JOIN products p ON p.id = l.product_id WHERE l.id = :id"), {"id": reservation["line_id"]}
    )).one()
    activation_id = uuid.uuid4()
    quantity = reservation["quantity"]
    await session.execute(sa.insert(activations).values(
        id=activation_id, org_id=customer_org_id, line_id=reservation["line_id"], entitlement_id=line.entitlement_id,
        product_id=line.product_id, quantity=quantity, project_name=reservation["name"]))
    available = (await session.execute(
        insert(holdings).values(line_id=reservation["line_id"], org_id=customer_org_id, available=0,
                                received=quantity, activated=quantity)
        .on_conflict_do_update(index_elements=["line_id", "org_id"],
                               set_={"received": holdings.c.received + quantity,
                                     "activated": holdings.c.activated + quantity, "updated_at": sa.func.now()})
        .returning(holdings.c.available))).scalar_one()
    seller = reservation["seller_org_id"]
    entry = dict(line_id=reservation["line_id"], org_id=customer_org_id, subscription_id=subscription_id)
    # One after the other: the ledger's order (its ids) is the order of the running sums.
    for values in (dict(entry, kind=SUBSCRIPTION_IN, quantity=quantity, available_after=available + quantity,
                        counterparty_org_id=seller),
                   dict(entry, kind="activation", quantity=-quantity, available_after=available,
                        activation_id=activation_id)):
        await session.execute(sa.insert(ledger_entries).values(**values))
    await session.execute(
        sa.update(reservations).where(reservations.c.subscription_id == subscription_id)
        .values(status="converted", customer_org_id=customer_org_id, activation_id=activation_id,
                settled_at=sa.func.now()))
    visible_to = [seller, customer_org_id]
    uow.record(ReservationConverted(subscription_id=subscription_id, seller_org_id=seller,
                                    customer_org_id=customer_org_id, activation_id=activation_id, quantity=quantity),
               visible_to=visible_to, actor_org_id=seller)
    uow.record(LicensesActivated(
        activation_id=activation_id, org_id=customer_org_id, entitlement_id=line.entitlement_id,
        product_id=line.product_id, product_name=line.name, quantity=quantity, project_name=reservation["name"],
        subscription_id=subscription_id,
    ), visible_to=visible_to, actor_org_id=seller)


async def subscription_deleted(uow: UnitOfWork, envelope: Envelope) -> None:
    """An unused licence deleted: its reservation goes back to the seller's holding, once."""
    event = envelope.payload_as(SubscriptionDeleted)
    reservation = await _locked_reservation(uow, event.subscription_id)
    if reservation is None or reservation["status"] != "reserved":
        log.info("nothing reserved to release", subscription_id=str(event.subscription_id),
                 status=None if reservation is None else reservation["status"])
        return
    await locked_available(uow.session, reservation["line_id"], reservation["seller_org_id"])
    available_after = await _change_seller_holding(
        uow, reservation["line_id"], reservation["seller_org_id"], reservation["quantity"], RELEASE, None,
        event.subscription_id)
    await uow.session.execute(
        sa.update(reservations).where(reservations.c.subscription_id == event.subscription_id)
        .values(status="released", settled_at=sa.func.now()))
    uow.record(ReservationReleased(subscription_id=event.subscription_id, seller_org_id=reservation["seller_org_id"],
                                   quantity=reservation["quantity"], available_after=available_after),
               visible_to=[reservation["seller_org_id"]], actor_org_id=reservation["seller_org_id"])


async def why_not_deactivate(session: AsyncSession, activation_id: uuid.UUID, org_id: uuid.UUID) -> Refusal | None:
    """An activation that is one of the org's subscription licences stays active: the seller bills
    it for as long as it runs, and giving its licences back to the customer's holding would leave
    the invoice without its licences. The refusal names the seller, who can pause or end it."""
    sold = (await session.execute(
        sa.select(reservations.c.name, reservations.c.seller_org_id)
        .where(reservations.c.activation_id == activation_id, reservations.c.customer_org_id == org_id)
    )).first()
    if sold is None:
        return None
    seller = await find_org(session, sold.seller_org_id)
    seller_name = seller.name if seller is not None else "the reseller that sold it"
    return Refusal("subscription_licence",
                   f"Activation {activation_id} is the subscription licence \"{sold.name}\" from {seller_name}, "
                   f"who bills it: it cannot be deactivated here. Ask {seller_name} to pause it or to end its renewal.")


RESERVATION_HANDLERS: dict[str, EventHandler] = {
    SubscriptionReservationRequested.routing_key: reservation_requested,
    SubscriptionAssigned.routing_key: subscription_assigned,
    SubscriptionDeleted.routing_key: subscription_deleted,
}
