"""The billing service's commands and its reactions to bus events: the only place its state
changes. The quantities live in entitlements' ledger: billing asks it to reserve, to turn a
reservation into the customer's activation, and to release it, and records the answers."""

import base64
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from billing.db import claim_codes, invoice_counters, invoices, pauses, plans, redemption_attempts, subscriptions
from billing.domain import claim_codes as codes
from billing.domain.commands import CreateSubscription, PauseSubscription, RedeemClaim, SavePlan, SendInvoices
from billing.domain.money import from_minor
from billing.domain.invoices import billing_status, invoice_number, licence_line, total, why_not_move
from billing.domain.periods import Pause, add_months, renewed_period
from billing.pdf import render_invoice
from billing.settings import BillingSettings
from shared.auth.member_tokens import MEMBER_TOKEN_HANDLERS
from shared.bus.consumer import EventHandler
from shared.db import UnitOfWork
from shared.events.billing import (
    ClaimRedemptionAttempted,
    InvoiceIssued,
    InvoicePaid,
    InvoiceVoided,
    PlanSaved,
    SubscriptionAssigned,
    SubscriptionDeleted,
    SubscriptionPaused,
    SubscriptionReservationRequested,
    SubscriptionResumed,
)
from shared.events.entitlements import ReservationConverted, ReservationMade, ReservationRejected
from shared.events.envelope import Envelope
from shared.logging import get_logger
from shared.org_directory import ORG_DIRECTORY_HANDLERS, find_org, why_not_eligible
from shared.problems import Problem

log = get_logger(__name__)

# Unknown, used, expired or not yours: one answer, so a guess learns nothing about other codes.
CODE_REFUSED = "This claim code is not valid. Check it, or ask your reseller for a new one."


def today() -> date:
    return datetime.now(UTC).date()


# Plans


async def save_plan(uow: UnitOfWork, command: SavePlan) -> dict:
    values = dict(name=command.name, interval_months=command.interval_months,
                  unit_price_minor=command.unit_price_minor, currency=command.currency, enabled=command.enabled)
    if command.plan_id is None:
        statement = sa.insert(plans).values(id=uuid.uuid4(), org_id=command.org_id, **values)
    else:
        statement = (sa.update(plans).where(plans.c.id == command.plan_id, plans.c.org_id == command.org_id)
                     .values(**values, updated_at=sa.func.now()))
    try:
        async with uow.session.begin_nested():
            row = (await uow.session.execute(statement.returning(*plans.c))).mappings().one_or_none()
    except sa.exc.IntegrityError as error:
        raise Problem(409, f"You already have a plan named {command.name!r}.") from error
    if row is None:
        raise Problem(404, f"No plan with id {command.plan_id}.")
    uow.record(PlanSaved(plan_id=row["id"], org_id=command.org_id, **values), visible_to=[command.org_id])
    return dict(row)


# Subscription licences


@dataclass(frozen=True)
class Created:
    subscription: dict
    claim_code: str | None  # the plain code, shown once: only its keyed hash is kept


async def create_subscription(uow: UnitOfWork, command: CreateSubscription, settings: BillingSettings) -> Created:
    """Records the licence as pending and asks the ledger to reserve its quantity. Unassigned, it
    gets a claim code for the customer to redeem; assigned, the ledger makes it the customer's."""
    session = uow.session
    plan = (await session.execute(sa.select(plans).where(
        plans.c.id == command.plan_id, plans.c.org_id == command.seller_org_id))).mappings().one_or_none()
    if plan is None:
        raise Problem(404, f"You have no plan with id {command.plan_id}.")
    if not plan["enabled"]:
        raise Problem(409, f"The plan {plan['name']!r} is disabled; enable it or choose another.")
    if command.customer_org_id is not None:
        await _check_customer(session, command.customer_org_id, command.seller_org_id)
    start = today()
    row = (await session.execute(sa.insert(subscriptions).values(
        id=command.subscription_id, seller_org_id=command.seller_org_id, plan_id=command.plan_id, name=command.name,
        note=command.note, quantity=command.quantity, entitlement_id=command.entitlement_id,
        product_id=command.product_id, customer_org_id=command.customer_org_id, auto_renew=command.auto_renew,
        period_start=start, period_end=add_months(start, plan["interval_months"]), created_by=command.created_by,
    ).returning(*subscriptions.c))).mappings().one()
    code = None if command.customer_org_id is not None else await _new_claim_code(
        session, command.subscription_id, settings)
    uow.record(SubscriptionReservationRequested(
        subscription_id=command.subscription_id, seller_org_id=command.seller_org_id,
        entitlement_id=command.entitlement_id, product_id=command.product_id, quantity=command.quantity,
        name=command.name, customer_org_id=command.customer_org_id, requested_by=command.created_by,
    ), visible_to=[command.seller_org_id])
    return Created(dict(row), code)


async def _check_customer(session, customer_org_id: uuid.UUID, seller_org_id: uuid.UUID) -> None:
    problem = why_not_eligible(await find_org(session, customer_org_id), seller_org_id)
    if problem is not None:
        raise Problem(422, problem.replace("receives no transfers", "cannot be given licences"))


async def _new_claim_code(session, subscription_id: uuid.UUID, settings: BillingSettings) -> str:
    code = codes.new_code()
    expires_at = datetime.now(UTC) + timedelta(days=settings.claim_code_valid_days)
    await session.execute(
        insert(claim_codes).values(subscription_id=subscription_id, code_hash=codes.keyed_hash(code, settings.claim_code_secret),
                                   expires_at=expires_at)
        .on_conflict_do_update(index_elements=["subscription_id"],
                               set_={"code_hash": codes.keyed_hash(code, settings.claim_code_secret),
                                     "expires_at": expires_at, "used_at": None, "used_by_org_id": None}))
    return codes.shown(code)


async def reissue_claim_code(uow: UnitOfWork, org_id: uuid.UUID, subscription_id: uuid.UUID,
                             settings: BillingSettings) -> str:
    """A new code for an unassigned licence (the old one stops working): for a code lost or expired."""
    row = await locked_subscription(uow, org_id, subscription_id)
    if row["customer_org_id"] is not None:
        raise Problem(409, "This licence is already assigned to a customer: it needs no claim code.")
    return await _new_claim_code(uow.session, subscription_id, settings)


async def locked_subscription(uow: UnitOfWork, seller_org_id: uuid.UUID, subscription_id: uuid.UUID) -> dict:
    row = (await uow.session.execute(
        sa.select(subscriptions).where(subscriptions.c.id == subscription_id,
                                       subscriptions.c.seller_org_id == seller_org_id,
                                       subscriptions.c.deleted_at.is_(None)).with_for_update()
    )).mappings().one_or_none()
    if row is None:
        raise Problem(404, f"No licence with id {subscription_id}.")
    return dict(row)


@dataclass(frozen=True)
class Redemption:
    outcome: str  # redeemed, refused, throttled
    subscription: dict | None = None
    retry_after: int = 0
    # A valid code whose licence cannot be taken yet (still being reserved, paused): why.
    problem: Problem | None = None


async def redeem_claim(uow: UnitOfWork, command: RedeemClaim, settings: BillingSettings) -> Redemption:
    """Every attempt is recorded (for the throttle) and announced (for the audit log) in the
    caller's transaction, which commits whatever the outcome; the caller then answers."""
    retry_after = await _throttled_for(uow, command, settings)
    if retry_after:
        return _attempted(uow, command, Redemption("throttled", retry_after=retry_after))
    subscription, problem = await _claimable(uow, command, settings)
    if subscription is None:
        return _attempted(uow, command, Redemption("refused", problem=problem))
    session = uow.session
    await session.execute(sa.update(claim_codes).where(claim_codes.c.subscription_id == subscription["id"])
                          .values(used_at=sa.func.now(), used_by_org_id=command.org_id))
    row = (await session.execute(
        sa.update(subscriptions).where(subscriptions.c.id == subscription["id"])
        .values(customer_org_id=command.org_id).returning(*subscriptions.c))).mappings().one()
    uow.record(SubscriptionAssigned(
        subscription_id=row["id"], seller_org_id=row["seller_org_id"], customer_org_id=command.org_id,
        quantity=row["quantity"], name=row["name"], via="claim_code",
    ), visible_to=[row["seller_org_id"], command.org_id], actor_org_id=command.org_id, actor_user_id=command.user_id)
    return _attempted(uow, command, Redemption("redeemed", subscription=dict(row)))


async def _claimable(uow: UnitOfWork, command: RedeemClaim,
                     settings: BillingSettings) -> tuple[dict | None, Problem | None]:
    """The licence the code is for, locked, if the code is valid for this org now; else None, and
    for a valid code whose licence cannot be taken yet, why."""
    refused = None, None
    try:
        code_hash = codes.keyed_hash(command.code, settings.claim_code_secret)
    except codes.MalformedCode:
        return refused
    row = (await uow.session.execute(
        sa.select(subscriptions, claim_codes.c.expires_at, claim_codes.c.used_at)
        .join(claim_codes, claim_codes.c.subscription_id == subscriptions.c.id)
        .where(claim_codes.c.code_hash == code_hash).with_for_update(of=[subscriptions, claim_codes])
    )).mappings().one_or_none()
    if (row is None or row["used_at"] is not None or row["expires_at"] <= datetime.now(UTC)
            or row["deleted_at"] is not None or row["customer_org_id"] is not None):
        return refused
    if why_not_eligible(await find_org(uow.session, command.org_id), row["seller_org_id"]) is not None:
        return refused  # a code leaked to someone not the seller's customer is worth nothing to them
    if row["reservation"] != "reserved":
        return None, Problem(409, "This licence is still being prepared by your reseller; try again in a moment.",
                             headers={"Retry-After": "2"})
    if row["paused"]:
        return None, Problem(409, "Your reseller has paused this licence; ask them to resume it first.")
    return dict(row), None


async def _throttled_for(uow: UnitOfWork, command: RedeemClaim, settings: BillingSettings) -> int:
    """Seconds to wait when a limit is reached (per org, per address, in total), else 0. One
    attempt of an org at a time (a transaction-scoped lock), so its count cannot be raced past."""
    await uow.session.execute(sa.select(sa.func.pg_advisory_xact_lock(
        sa.func.hashtext(f"billing.claims:{command.org_id}"))))
    window = timedelta(seconds=settings.claim_attempt_window_seconds)
    since = datetime.now(UTC) - window
    counted = sa.and_(redemption_attempts.c.attempted_at > since, redemption_attempts.c.outcome != "throttled")
    limits = [(redemption_attempts.c.org_id == command.org_id, settings.claim_attempts_per_org),
              (sa.true(), settings.claim_attempts_total)]
    if command.client_address:
        limits.append((redemption_attempts.c.client_address == command.client_address,
                       settings.claim_attempts_per_address))
    wait = 0
    for scope, limit in limits:
        count, oldest = (await uow.session.execute(
            sa.select(sa.func.count(), sa.func.min(redemption_attempts.c.attempted_at)).where(counted, scope)
        )).one()
        if count >= limit:
            wait = max(wait, int((oldest + window - datetime.now(UTC)).total_seconds()) + 1)
    return wait


def _attempted(uow: UnitOfWork, command: RedeemClaim, redemption: Redemption) -> Redemption:
    uow.write_at_commit(sa.insert(redemption_attempts).values(
        org_id=command.org_id, client_address=command.client_address, outcome=redemption.outcome))
    subscription = redemption.subscription or {}
    uow.record(ClaimRedemptionAttempted(
        org_id=command.org_id, outcome=redemption.outcome, client_address=command.client_address,
        subscription_id=subscription.get("id"), seller_org_id=subscription.get("seller_org_id"),
    ), visible_to=[command.org_id, *([subscription["seller_org_id"]] if subscription else [])],
        actor_org_id=command.org_id, actor_user_id=command.user_id)
    return redemption


async def pause_subscription(uow: UnitOfWork, command: PauseSubscription) -> dict:
    row = await locked_subscription(uow, command.org_id, command.subscription_id)
    if row["paused"]:
        raise Problem(409, "This licence is already paused.")
    if row["reservation"] == "rejected":
        raise Problem(409, "This licence was refused by the ledger; there is nothing to pause.")
    on = today()
    if command.resume_on is not None and command.resume_on <= on:
        raise Problem(422, "The resume date must be after today.")
    await uow.session.execute(sa.insert(pauses).values(subscription_id=row["id"], started_on=on,
                                                       resume_on=command.resume_on))
    row = await _set(uow, row["id"], paused=True, resume_on=command.resume_on)
    uow.record(SubscriptionPaused(
        subscription_id=row["id"], seller_org_id=row["seller_org_id"], customer_org_id=row["customer_org_id"],
        activation_id=row["activation_id"], resume_on=command.resume_on,
    ), visible_to=_parties(row))
    return row


async def resume_subscription(uow: UnitOfWork, org_id: uuid.UUID, subscription_id: uuid.UUID) -> dict:
    row = await locked_subscription(uow, org_id, subscription_id)
    if not row["paused"]:
        raise Problem(409, "This licence is not paused.")
    return await _resume(uow, row)


async def _resume(uow: UnitOfWork, row: dict) -> dict:
    on = today()
    started_on = (await uow.session.execute(
        sa.update(pauses).where(pauses.c.subscription_id == row["id"], pauses.c.ended_on.is_(None))
        .values(ended_on=on).returning(pauses.c.started_on))).scalar_one()
    row = await _set(uow, row["id"], paused=False, resume_on=None)
    uow.record(SubscriptionResumed(
        subscription_id=row["id"], seller_org_id=row["seller_org_id"], customer_org_id=row["customer_org_id"],
        activation_id=row["activation_id"], paused_days=(on - started_on).days,
    ), visible_to=_parties(row))
    return row


async def delete_subscription(uow: UnitOfWork, org_id: uuid.UUID, subscription_id: uuid.UUID) -> None:
    """Only while unused: not yet a customer's. Its reservation goes back to the holding."""
    row = await locked_subscription(uow, org_id, subscription_id)
    if row["customer_org_id"] is not None:
        raise Problem(409, "This licence is in use by a customer and cannot be deleted; pause it instead.")
    if row["reservation"] == "pending":
        raise Problem(409, "This licence is still being reserved; try again in a moment.",
                      headers={"Retry-After": "2"})
    await _set(uow, row["id"], deleted_at=sa.func.now())
    await uow.session.execute(sa.delete(claim_codes).where(claim_codes.c.subscription_id == row["id"]))
    uow.record(SubscriptionDeleted(subscription_id=row["id"], seller_org_id=org_id, quantity=row["quantity"]),
               visible_to=[org_id])


async def _set(uow: UnitOfWork, subscription_id: uuid.UUID, **values) -> dict:
    return dict((await uow.session.execute(
        sa.update(subscriptions).where(subscriptions.c.id == subscription_id).values(**values)
        .returning(*subscriptions.c))).mappings().one())


def _parties(row) -> list[uuid.UUID]:
    return [row["seller_org_id"], *([row["customer_org_id"]] if row["customer_org_id"] else [])]


async def subscription_pauses(session, subscription_id: uuid.UUID) -> list[Pause]:
    rows = await session.execute(sa.select(pauses.c.started_on, pauses.c.ended_on)
                                 .where(pauses.c.subscription_id == subscription_id))
    return [Pause(*row) for row in rows]


# Invoices


async def send_invoices(uow: UnitOfWork, command: SendInvoices) -> list[dict]:
    """One invoice per licence, numbered without gaps: the org's counter row is locked until
    commit, so concurrent sends of one org take turns and a rolled-back send gives its numbers back."""
    session = uow.session
    ids = list(dict.fromkeys(command.subscription_ids))
    rows = {row["id"]: dict(row) for row in (await session.execute(
        sa.select(subscriptions, plans.c.name.label("plan_name"), plans.c.interval_months,
                  plans.c.unit_price_minor, plans.c.currency)
        .join(plans, plans.c.id == subscriptions.c.plan_id)
        .where(subscriptions.c.id.in_(ids), subscriptions.c.seller_org_id == command.org_id,
               subscriptions.c.deleted_at.is_(None))
        .order_by(subscriptions.c.id).with_for_update(of=subscriptions)
    )).mappings()}
    missing = [str(i) for i in ids if i not in rows]
    if missing:
        raise Problem(404, f"No licence with id {', '.join(missing)}.")
    unassigned = [rows[i]["name"] for i in ids if rows[i]["customer_org_id"] is None]
    if unassigned:
        raise Problem(409, "Only licences assigned to a customer can be invoiced; not assigned: "
                           f"{', '.join(unassigned)}.")
    first = await _take_numbers(session, command.org_id, len(ids))
    names = await _org_names(session, {command.org_id, *(rows[i]["customer_org_id"] for i in ids)})
    issued = []
    for offset, subscription_id in enumerate(ids):
        issued.append(await _issue(uow, rows[subscription_id], first + offset, names, command))
    return issued


async def _take_numbers(session, org_id: uuid.UUID, count: int) -> int:
    await session.execute(insert(invoice_counters).values(org_id=org_id).on_conflict_do_nothing())
    last = (await session.execute(sa.select(invoice_counters.c.last_sequence)
                                  .where(invoice_counters.c.org_id == org_id).with_for_update())).scalar_one()
    await session.execute(sa.update(invoice_counters).where(invoice_counters.c.org_id == org_id)
                          .values(last_sequence=last + count))
    return last + 1


async def _org_names(session, org_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    names = {}
    for org_id in org_ids:
        org = await find_org(session, org_id)
        names[org_id] = org.name if org is not None else f"Organization {org_id}"
    return names


async def _issue(uow: UnitOfWork, row: dict, sequence: int, names: dict, command: SendInvoices) -> dict:
    on = today()
    line = licence_line(
        plan_name=row["plan_name"], interval_months=row["interval_months"], licence_name=row["name"],
        quantity=row["quantity"], unit_price_minor=row["unit_price_minor"], period_start=row["period_start"],
        period_end=row["period_end"], pauses=await subscription_pauses(uow.session, row["id"]), today=on,
    )
    number, amount = invoice_number(sequence), total([line])
    issuer, customer = names[command.org_id], names[row["customer_org_id"]]
    document = render_invoice(number=number, issued_on=on, issuer_name=issuer, customer_name=customer,
                              currency=row["currency"], lines=[line], total_minor=amount)
    lines = [line]
    invoice = dict((await uow.session.execute(sa.insert(invoices).values(
        id=uuid.uuid4(), issuer_org_id=command.org_id, customer_org_id=row["customer_org_id"],
        subscription_id=row["id"], sequence=sequence, number=number, currency=row["currency"], total_minor=amount,
        lines=[entry.model_dump(mode="json") for entry in lines], issuer_name=issuer, customer_name=customer,
        pdf=document, created_by=command.sent_by,
    ).returning(*invoices.c))).mappings().one())
    await _set(uow, row["id"], billing_status=billing_status("open"))
    uow.record(InvoiceIssued(
        invoice_id=invoice["id"], number=number, issuer_org_id=command.org_id, issuer_name=issuer,
        customer_org_id=row["customer_org_id"], customer_name=customer, subscription_id=row["id"],
        currency=row["currency"], total_minor=amount, total=str(from_minor(amount, row["currency"])), lines=lines, pdf_base64=base64.b64encode(document).decode(),
    ), visible_to=[command.org_id, row["customer_org_id"]])
    return invoice


async def move_invoice(uow: UnitOfWork, org_id: uuid.UUID, invoice_id: uuid.UUID, target: str) -> dict:
    """open -> paid (the issuer marks it) or open -> void; the licence's billing status follows."""
    invoice = (await uow.session.execute(
        sa.select(invoices).where(invoices.c.id == invoice_id, invoices.c.issuer_org_id == org_id).with_for_update()
    )).mappings().one_or_none()
    if invoice is None:
        raise Problem(404, f"No invoice with id {invoice_id}.")
    problem = why_not_move(invoice["state"], target)
    if problem is not None:
        raise Problem(409, problem)
    stamp = {"paid": "paid_at", "void": "voided_at"}[target]
    invoice = dict((await uow.session.execute(
        sa.update(invoices).where(invoices.c.id == invoice_id).values(state=target, **{stamp: sa.func.now()})
        .returning(*invoices.c))).mappings().one())
    latest = (await uow.session.execute(
        sa.select(invoices.c.state).where(invoices.c.subscription_id == invoice["subscription_id"])
        .order_by(invoices.c.created_at.desc(), invoices.c.sequence.desc()).limit(1))).scalar_one()
    await _set(uow, invoice["subscription_id"], billing_status=billing_status(latest))
    contract = InvoicePaid if target == "paid" else InvoiceVoided
    uow.record(contract(invoice_id=invoice_id, number=invoice["number"], issuer_org_id=org_id,
                        customer_org_id=invoice["customer_org_id"], subscription_id=invoice["subscription_id"]),
               visible_to=[org_id, invoice["customer_org_id"]])
    return invoice


# The lifecycle: periods renew, pauses end on their date


async def run_lifecycle(uow: UnitOfWork, on: date) -> int:
    """Resumes the pauses due by `on` and rolls renewing licences into their current period; the
    number of licences changed. Each row is locked and skipped by a concurrent replica's pass."""
    due = (await uow.session.execute(
        sa.select(subscriptions).where(subscriptions.c.paused, subscriptions.c.resume_on <= on,
                                       subscriptions.c.deleted_at.is_(None))
        .with_for_update(skip_locked=True))).mappings().all()
    for row in due:
        await _resume(uow, dict(row))
    renewing = (await uow.session.execute(
        sa.select(subscriptions.c.id, subscriptions.c.period_start, subscriptions.c.period_end,
                  plans.c.interval_months)
        .join(plans, plans.c.id == subscriptions.c.plan_id)
        .where(subscriptions.c.auto_renew, subscriptions.c.period_end <= on, subscriptions.c.deleted_at.is_(None))
        .with_for_update(of=subscriptions, skip_locked=True))).all()
    for row in renewing:
        start, end = renewed_period(row.period_start, row.period_end, row.interval_months, on)
        await _set(uow, row.id, period_start=start, period_end=end)
    return len(due) + len(renewing)


# The ledger's answers


async def reservation_made(uow: UnitOfWork, envelope: Envelope) -> None:
    event = envelope.payload_as(ReservationMade)
    await _reservation_settled(uow, event.subscription_id, event.seller_org_id, reservation="reserved")


async def reservation_rejected(uow: UnitOfWork, envelope: Envelope) -> None:
    event = envelope.payload_as(ReservationRejected)
    await _reservation_settled(uow, event.subscription_id, event.seller_org_id, reservation="rejected",
                               reservation_reason=event.reason)
    # A refused licence cannot be redeemed: its code goes.
    await uow.session.execute(sa.delete(claim_codes).where(claim_codes.c.subscription_id == event.subscription_id))


async def reservation_converted(uow: UnitOfWork, envelope: Envelope) -> None:
    """Now the customer's activation: it may come before `made` (no order across events)."""
    event = envelope.payload_as(ReservationConverted)
    row = (await uow.session.execute(
        sa.update(subscriptions)
        .where(subscriptions.c.id == event.subscription_id, subscriptions.c.seller_org_id == event.seller_org_id)
        .values(reservation="reserved", activation_id=event.activation_id, customer_org_id=event.customer_org_id,
                activated_at=envelope.occurred_at)
        .returning(subscriptions))).mappings().one_or_none()
    if row is not None and row["paused"]:
        # Paused before its activation was known here: the pause said no activation then, so the
        # devices of the license made from it learn of it now.
        uow.record(SubscriptionPaused(
            subscription_id=row["id"], seller_org_id=row["seller_org_id"], customer_org_id=row["customer_org_id"],
            activation_id=row["activation_id"], resume_on=row["resume_on"],
        ), visible_to=_parties(row))


async def _reservation_settled(uow: UnitOfWork, subscription_id: uuid.UUID, seller_org_id: uuid.UUID,
                               **values) -> None:
    await uow.session.execute(
        sa.update(subscriptions)
        .where(subscriptions.c.id == subscription_id, subscriptions.c.seller_org_id == seller_org_id,
               subscriptions.c.reservation == "pending")
        .values(**values))


def event_handlers() -> dict[str, EventHandler]:
    return {
        **ORG_DIRECTORY_HANDLERS,
        **MEMBER_TOKEN_HANDLERS,
        ReservationMade.routing_key: reservation_made,
        ReservationRejected.routing_key: reservation_rejected,
        ReservationConverted.routing_key: reservation_converted,
    }
