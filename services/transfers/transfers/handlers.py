"""The transfers service's command and its reactions to bus events: the only place its state
changes. The ledger lives in entitlements; this service records the request and its outcome."""

import uuid

import sqlalchemy as sa

from shared.bus.consumer import EventHandler
from shared.db import UnitOfWork
from shared.events.entitlements import TransferCompleted, TransferRejected
from shared.events.envelope import Envelope
from shared.events.transfers import TransferRequested
from shared.logging import get_logger
from shared.org_directory import ORG_DIRECTORY_HANDLERS, find_org, org_directory_representatives, why_not_eligible
from shared.problems import Problem
from transfers.db import transfers
from transfers.domain.transfers import (
    Representative,
    RequestTransfer,
    UnknownRepresentative,
    representative_to_notify,
)

log = get_logger(__name__)


async def request_transfer(uow: UnitOfWork, command: RequestTransfer) -> None:
    """Records the pending transfer and `TransferRequested` in the caller's unit of work (the
    caller commits, so an Idempotency-Key answer can join the same transaction). The destination
    is checked here, at once, against the local org directory; entitlements checks it again when
    it applies the transfer, since the directory may change in between."""
    destination = await find_org(uow.session, command.to_org_id)
    problem = why_not_eligible(destination, command.from_org_id)
    if problem is not None:
        unknown = destination is None or destination.parent_id != command.from_org_id
        raise Problem(404 if unknown else 409, problem)
    try:
        notify = representative_to_notify(
            await _representatives(uow, command.to_org_id),
            notify=command.notify_representative,
            chosen_id=command.representative_id,
        )
    except UnknownRepresentative as error:
        raise Problem(422, str(error)) from error
    common = dict(
        from_org_id=command.from_org_id,
        to_org_id=command.to_org_id,
        entitlement_id=command.entitlement_id,
        product_id=command.product_id,
        requested_by=command.requested_by,
        notify_representative=notify,
        cc_emails=list(command.cc_emails),
    )
    await uow.session.execute(
        sa.insert(transfers).values(
            id=command.transfer_id, quantity_requested=command.quantity, status="pending", **common
        )
    )
    uow.record(
        TransferRequested(transfer_id=command.transfer_id, quantity=command.quantity, **common),
        visible_to=[command.from_org_id],
        actor_org_id=command.from_org_id,
        actor_user_id=command.requested_by,
    )


async def _representatives(uow: UnitOfWork, org_id: uuid.UUID) -> list[Representative]:
    reps = org_directory_representatives.c
    rows = await uow.session.execute(sa.select(reps.id, reps.email, reps.is_default).where(reps.org_id == org_id))
    return [Representative(*row) for row in rows]


async def transfer_completed(uow: UnitOfWork, envelope: Envelope) -> None:
    event = envelope.payload_as(TransferCompleted)
    await _settle(
        uow,
        event.transfer_id,
        event.from_org_id,
        status="completed",
        quantity=event.quantity,
        action=event.action,
        product_name=event.product_name,
        product_description=event.product_description,
        po_number=event.po_number,
        sales_order=event.sales_order,
        completed_at=envelope.occurred_at,  # when the ledger moved the licenses
    )


async def transfer_rejected(uow: UnitOfWork, envelope: Envelope) -> None:
    event = envelope.payload_as(TransferRejected)
    await _settle(uow, event.transfer_id, event.from_org_id, status="rejected", reason_code=event.reason_code,
                  reason=event.reason)


async def _settle(uow: UnitOfWork, transfer_id: uuid.UUID, from_org_id: uuid.UUID, **outcome) -> None:
    """A transfer is settled once: only a pending one takes an outcome, so a late or repeated
    outcome changes nothing."""
    settled = (
        await uow.session.execute(
            sa.update(transfers)
            .where(transfers.c.id == transfer_id, transfers.c.from_org_id == from_org_id,
                   transfers.c.status == "pending")
            .values(**outcome)
            .returning(transfers.c.id)
        )
    ).scalar_one_or_none()
    if settled is not None:
        return
    current = (
        await uow.session.execute(
            sa.select(transfers.c.status).where(transfers.c.id == transfer_id, transfers.c.from_org_id == from_org_id)
        )
    ).scalar_one_or_none()
    if current is None:
        log.warning("outcome of an unknown transfer ignored", transfer_id=str(transfer_id), outcome=outcome["status"])
    else:
        log.info("transfer already settled; outcome ignored", transfer_id=str(transfer_id), status=current,
                 outcome=outcome["status"])


def event_handlers() -> dict[str, EventHandler]:
    return {
        **ORG_DIRECTORY_HANDLERS,
        TransferCompleted.routing_key: transfer_completed,
        TransferRejected.routing_key: transfer_rejected,
    }
