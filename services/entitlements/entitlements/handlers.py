"""The entitlements service's reactions to bus events."""

from entitlements.ledger import apply_transfer
from shared.bus.consumer import EventHandler
from shared.db import UnitOfWork
from shared.events.entitlements import TransferRejected
from shared.events.envelope import Envelope
from shared.events.transfers import TransferRequested
from shared.org_directory import ORG_DIRECTORY_HANDLERS


async def transfer_requested(uow: UnitOfWork, envelope: Envelope) -> None:
    """Applies the transfer in this transaction (the inbox makes a redelivery a no-op) and reports
    the outcome: a completed transfer to both orgs, a rejected one to the sender only (the
    destination may be any id the sender typed)."""
    request = envelope.payload_as(TransferRequested)
    outcome = await apply_transfer(uow.session, request)
    visible_to = [request.from_org_id] if isinstance(outcome, TransferRejected) else [request.from_org_id, request.to_org_id]
    uow.record(outcome, visible_to=visible_to,
               actor_org_id=request.from_org_id, actor_user_id=request.requested_by)


def event_handlers() -> dict[str, EventHandler]:
    return {**ORG_DIRECTORY_HANDLERS, TransferRequested.routing_key: transfer_requested}
