"""The entitlements service's reactions to bus events."""

from entitlements.ledger import apply_transfers
from shared.auth.member_tokens import MEMBER_TOKEN_HANDLERS
from shared.bus.consumer import BatchHandler, EventHandler, handling
from shared.db import UnitOfWork
from shared.events.entitlements import TransferRejected
from shared.events.envelope import Envelope
from shared.events.transfers import TransferRequested
from shared.org_directory import ORG_DIRECTORY_HANDLERS


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
        with handling(envelope):  # the outcome carries on the request's correlation id and trace
            uow.record(outcome, visible_to=[request.from_org_id] if rejected else [request.from_org_id, request.to_org_id],
                       actor_org_id=request.from_org_id, actor_user_id=request.requested_by)


def event_handlers() -> dict[str, EventHandler | BatchHandler]:
    return {**ORG_DIRECTORY_HANDLERS, **MEMBER_TOKEN_HANDLERS, TransferRequested.routing_key: BatchHandler(transfers_requested)}
