"""The entitlements service's commands and its reactions to bus events: the only place its state
changes. Each runs in the caller's unit of work (the caller commits, so an Idempotency-Key answer
joins the same transaction); a command that cannot be carried out raises a Problem and changes
nothing. The holdings themselves change only through the ledger (entitlements.ledger)."""

import uuid
from collections import defaultdict
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from entitlements.db import (
    activations, entitlement_lines, entitlement_number, entitlements, expiry_notices, holdings, products)
from entitlements.domain.commands import ActivateLicenses, CreateProduct, DeactivateActivation, IssueEntitlement
from entitlements.domain.entitlements import Refusal, entitlement_id_for, is_expired
from entitlements.domain.expiry import NOTICE_DAYS, days_left, notices_due
from entitlements.ledger import (
    ActivationRequest, activate, apply_transfers, change_holding, deactivate, find_line, today)
from entitlements.reservations import RESERVATION_HANDLERS, why_not_deactivate
from shared.auth.member_tokens import MEMBER_TOKEN_HANDLERS
from shared.auth.permissions import Tier
from shared.bus.consumer import BatchHandler, EventHandler, handling
from shared.db import UnitOfWork
from shared.events.entitlements import (
    ActivationDeactivated, EntitlementExpired, EntitlementExpiringSoon, EntitlementIssued, EntitlementLine,
    LicensesActivated, ProductCreated, TransferRejected)
from shared.events.envelope import Envelope
from shared.events.transfers import TransferRequested
from shared.org_directory import ORG_DIRECTORY_HANDLERS, find_org
from shared.problems import Problem


async def create_product(uow: UnitOfWork, command: CreateProduct) -> dict:
    """Adds a product to the catalog; returns its row."""
    fields = dict(name=command.name, license_type=command.license_type, description=command.description,
                  deployment_type=command.deployment_type, **command.device_rules)
    product = (
        await uow.session.execute(sa.insert(products).values(id=uuid.uuid4(), **fields).returning(products))
    ).mappings().one()
    uow.record(ProductCreated(product_id=product["id"], **fields), visible_to=[command.vendor_id],
               actor_org_id=command.vendor_id, actor_user_id=command.created_by)
    return dict(product)


async def issue_entitlement(uow: UnitOfWork, command: IssueEntitlement) -> str:
    """Issues an order to one of the vendor's active distributors, who holds all its licenses at
    once; returns the entitlement id. An order that has already expired is refused: its licenses
    could never be used."""
    session = uow.session
    distributor = await find_org(session, command.distributor_id)
    if (distributor is None or distributor.tier != Tier.DISTRIBUTOR.value or distributor.status != "active"
            or distributor.parent_id != command.vendor_id):
        raise Problem(404, f"No active distributor with id {command.distributor_id}.")
    product_ids = [line.product_id for line in command.lines]
    names = dict((await session.execute(
        sa.select(products.c.id, products.c.name).where(products.c.id.in_(product_ids)))).tuples().all())
    unknown = [str(product_id) for product_id in product_ids if product_id not in names]
    if unknown:
        raise Problem(422, f"No product with id {', '.join(unknown)}.")
    if is_expired(command.expiration_date, today()):
        raise Problem(422, f"expiration_date {command.expiration_date} has passed: an entitlement cannot be "
                           f"issued already expired (the last valid day may be today, {today()}, or later).")
    number = (await session.execute(sa.select(entitlement_number.next_value()))).scalar_one()
    entitlement_id = entitlement_id_for(command.order_date, number)
    await session.execute(sa.insert(entitlements).values(
        id=entitlement_id, distributor_id=command.distributor_id, sales_order=command.sales_order,
        po_number=command.po_number, order_date=command.order_date, expiration_date=command.expiration_date,
        created_by=command.issued_by,
    ))
    lines = [{"id": uuid.uuid4(), "entitlement_id": entitlement_id, "product_id": line.product_id,
              "quantity": line.quantity} for line in command.lines]
    await session.execute(sa.insert(entitlement_lines), lines)
    for line in lines:
        await change_holding(session, line_id=line["id"], org_id=command.distributor_id, delta=line["quantity"],
                             kind="issue", actor_user_id=command.issued_by)
    uow.record(
        EntitlementIssued(
            entitlement_id=entitlement_id, distributor_id=command.distributor_id, sales_order=command.sales_order,
            po_number=command.po_number, order_date=command.order_date, expiration_date=command.expiration_date,
            lines=[EntitlementLine(product_id=line.product_id, product_name=names[line.product_id],
                                   quantity=line.quantity) for line in command.lines],
        ),
        visible_to=[command.vendor_id, command.distributor_id], actor_org_id=command.vendor_id,
        actor_user_id=command.issued_by,
    )
    return entitlement_id


async def activate_licenses(uow: UnitOfWork, command: ActivateLicenses) -> dict:
    """Consumes part of the org's holding for a project; returns the activation's row with its
    product's name."""
    session = uow.session
    line = await find_line(session, command.entitlement_id, command.product_id)
    outcome = None if line is None else await activate(session, line, ActivationRequest(
        org_id=command.org_id, quantity=command.quantity, project_name=command.project_name,
        project_manager=command.project_manager, serial_number=command.serial_number,
        activated_by=command.activated_by, activated_by_name=command.activated_by_name,
    ))
    if outcome is None or (isinstance(outcome, Refusal) and outcome.code == "unknown_line"):
        raise Problem(404, f"You hold no licenses of product {command.product_id} in entitlement "
                           f"{command.entitlement_id}.")
    if isinstance(outcome, Refusal):
        raise Problem(409, outcome.reason, title=outcome.code)
    row = (await session.execute(sa.select(activations).where(activations.c.id == outcome))).mappings().one()
    uow.record(
        LicensesActivated(
            activation_id=outcome, org_id=command.org_id, entitlement_id=line.entitlement_id,
            product_id=line.product_id, product_name=line.product_name, quantity=command.quantity,
            project_name=command.project_name, project_manager=command.project_manager,
            serial_number=command.serial_number,
        ),
        visible_to=[command.org_id], actor_org_id=command.org_id, actor_user_id=command.activated_by,
    )
    return {**row, "product_name": line.product_name}


async def deactivate_activation(uow: UnitOfWork, command: DeactivateActivation) -> dict:
    """Gives an activation's licenses back to the org (entitlements.ledger.deactivate says when
    it may; a subscription licence's activation stays, entitlements.reservations says why);
    returns the activation's row as it is now, with its product's name."""
    session = uow.session
    outcome = await why_not_deactivate(session, command.activation_id, command.org_id) or await deactivate(
        session, command.activation_id, org_id=command.org_id, actor_user_id=command.deactivated_by)
    if isinstance(outcome, Refusal):
        raise Problem(404 if outcome.code == "unknown_activation" else 409, outcome.reason, title=outcome.code)
    row = outcome.activation
    product_name = (await session.execute(
        sa.select(products.c.name).where(products.c.id == row["product_id"]))).scalar_one()
    uow.record(
        ActivationDeactivated(
            activation_id=command.activation_id, org_id=command.org_id, entitlement_id=row["entitlement_id"],
            product_id=row["product_id"], product_name=product_name, quantity=row["quantity"],
            project_name=row["project_name"], serial_number=row["serial_number"],
            available_after=outcome.available_after,
        ),
        visible_to=[command.org_id], actor_org_id=command.org_id, actor_user_id=command.deactivated_by,
    )
    return {**row, "product_name": product_name}


async def expire_entitlements(uow: UnitOfWork, *, on: date, batch_size: int) -> int:
    """Marks up to `batch_size` entitlements past their date as expired (rows another replica has
    claimed are skipped) and tells their holders; returns how many."""
    rows = (
        await uow.session.execute(
            sa.select(entitlements.c.id, entitlements.c.expiration_date)
            .where(entitlements.c.status != "expired", entitlements.c.expiration_date < on)
            .order_by(entitlements.c.expiration_date, entitlements.c.id)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not rows:
        return 0
    holders = await _holders(uow.session, [r.id for r in rows])
    await uow.session.execute(
        sa.update(entitlements).where(entitlements.c.id.in_([r.id for r in rows])).values(status="expired")
    )
    for row in rows:
        uow.record(
            EntitlementExpired(entitlement_id=row.id, expiration_date=row.expiration_date,
                               holder_org_ids=holders[row.id]),
            visible_to=holders[row.id],
        )
    return len(rows)


async def send_expiring_soon(uow: UnitOfWork, *, on: date, batch_size: int) -> tuple[int, int]:
    """Records the "expiring soon" events due as of `on`: (entitlements claimed, notices sent). A
    candidate has reached more thresholds than it has notices for; a notice is sent by the
    transaction whose insert into expiry_notices created it."""
    sent_count = (
        sa.select(sa.func.count())
        .where(expiry_notices.c.entitlement_id == entitlements.c.id)
        .scalar_subquery()
    )
    reached_count = (
        sa.select(sa.func.count())
        .select_from(sa.func.unnest(sa.literal(list(NOTICE_DAYS), ARRAY(sa.Integer))).alias("threshold"))
        .where(entitlements.c.expiration_date - on <= sa.column("threshold"))
        .scalar_subquery()
    )
    rows = (
        await uow.session.execute(
            sa.select(entitlements.c.id, entitlements.c.expiration_date)
            .where(
                entitlements.c.status == "active",
                entitlements.c.expiration_date >= on,
                entitlements.c.expiration_date <= on + timedelta(days=max(NOTICE_DAYS)),
                sent_count < reached_count,
            )
            .order_by(entitlements.c.expiration_date, entitlements.c.id)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not rows:
        return 0, 0
    holders = await _holders(uow.session, [r.id for r in rows])
    sent = 0
    for row in rows:
        due = notices_due(row.expiration_date, on)
        created = (
            await uow.session.execute(
                insert(expiry_notices)
                .values([{"entitlement_id": row.id, "days_before": d} for d in due])
                .on_conflict_do_nothing()
                .returning(expiry_notices.c.days_before)
            )
        ).scalars().all()
        if not created:
            continue  # another replica sent it
        uow.record(
            EntitlementExpiringSoon(entitlement_id=row.id, expiration_date=row.expiration_date,
                                    days_left=days_left(row.expiration_date, on), holder_org_ids=holders[row.id]),
            visible_to=holders[row.id],
        )
        sent += 1
    return len(rows), sent


async def _holders(session: AsyncSession, entitlement_ids: list[str]) -> dict[str, list]:
    """The orgs that received any part of each entitlement (the distributor and those below it)."""
    rows = await session.execute(
        sa.select(entitlement_lines.c.entitlement_id, holdings.c.org_id)
        .join(holdings, holdings.c.line_id == entitlement_lines.c.id)
        .where(entitlement_lines.c.entitlement_id.in_(entitlement_ids), holdings.c.received > 0)
        .distinct()
        .order_by(entitlement_lines.c.entitlement_id, holdings.c.org_id)
    )
    holders: dict[str, list] = defaultdict(list)
    for entitlement_id, org_id in rows:
        holders[entitlement_id].append(org_id)
    return holders


async def transfers_requested(uow: UnitOfWork, envelopes: list[Envelope]) -> None:
    """Applies a batch of transfer requests in this transaction (the inbox makes a redelivery a
    no-op), in the order they came, and reports each outcome: a completed transfer to both orgs,
    a rejected one to the sender only (the destination may be any id the sender typed). The
    consumer hands over a run of consecutive requests, after the events that came before it: an
    org created just before a transfer to it is known."""
    requests = [envelope.payload_as(TransferRequested) for envelope in envelopes]
    outcomes = await apply_transfers(uow, requests)
    for envelope, request, outcome in zip(envelopes, requests, outcomes, strict=True):
        rejected = isinstance(outcome, TransferRejected)
        # Whom to tell and who asked, as the request said: consumers mail from the outcome alone.
        outcome = outcome.model_copy(update={"notify_representative": request.notify_representative,
                                             "cc_emails": request.cc_emails, "requested_by": request.requested_by})
        with handling(envelope):  # the outcome carries on the request's correlation id and trace
            uow.record(outcome, visible_to=[request.from_org_id] if rejected else [request.from_org_id, request.to_org_id],
                       actor_org_id=request.from_org_id, actor_user_id=request.requested_by)


def event_handlers() -> dict[str, EventHandler | BatchHandler]:
    return {**ORG_DIRECTORY_HANDLERS, **MEMBER_TOKEN_HANDLERS,
            TransferRequested.routing_key: BatchHandler(transfers_requested), **RESERVATION_HANDLERS}
