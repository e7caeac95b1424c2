"""The transfers service's command and its reactions to bus events: the only place its state
changes. The ledger lives in entitlements; this service records the request and its outcome."""

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from fastapi.responses import JSONResponse
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.ext.asyncio import async_sessionmaker

from shared.auth.member_tokens import MEMBER_TOKEN_HANDLERS
from shared.bus.consumer import BatchHandler, EventHandler
from shared.db import DriverStatement, UnitOfWork, array_params
from shared.events.entitlements import TransferCompleted, TransferRejected
from shared.events.envelope import Envelope
from shared.events.transfers import TransferRequested
from shared.idempotency import idempotent
from shared.logging import get_logger
from shared.org_directory import (
    KNOWN_ORG_COLUMNS, ORG_DIRECTORY_HANDLERS, KnownOrg, find_org, org_directory, org_directory_representatives,
    why_not_eligible)
from shared.problems import Problem
from transfers.db import transfers
from transfers.domain.transfers import (
    Representative,
    RequestTransfer,
    UnknownRepresentative,
    recipients,
    representatives_at_request,
)

log = get_logger(__name__)


@dataclass(frozen=True)
class Idempotency:
    """A request's Idempotency-Key, the scope it is unique in, and the body it stands for."""

    key: str
    scope: str
    request_body: Any


class _DestinationNotKnown(Exception):
    """The destination is not (yet) known here as one of the sender's orgs."""


async def request_transfer(session_factory: async_sessionmaker, command: RequestTransfer, *,
                           idempotency: Idempotency | None = None, destination_wait: float = 2.0) -> JSONResponse | None:
    """Records the pending transfer and `TransferRequested` in one unit of work; with an
    Idempotency-Key, its claim and answer too. Returns the earlier answer when the key replays one.

    The destination is checked at once against the local org directory (entitlements checks it
    again when it applies the transfer). An org created a moment ago may not have reached the
    directory yet: the request waits for it up to `destination_wait` seconds before refusing, and
    then answers 409 with Retry-After, never 404 for an org that exists. An id of another
    sender's org gets the same answer after the same wait, so the answer tells nothing about it."""
    try:
        return await _record_request(session_factory, command, idempotency)
    except _DestinationNotKnown:
        await _wait_for_destination(session_factory, command, destination_wait)
    try:
        return await _record_request(session_factory, command, idempotency)
    except _DestinationNotKnown:
        raise Problem(409, "The destination is not one of your integrators or customers, or it was created a "
                      "moment ago and is not known here yet; retry shortly.", headers={"Retry-After": "1"}) from None


# Seconds between looks at the directory while a destination is awaited: soon at first (an org
# usually arrives within a fraction of a second), then less often, so an id that never arrives
# costs a dozen small queries, not one per tick.
_FIRST_LOOK, _LOOK_AT_MOST_EVERY = 0.025, 0.2


async def _wait_for_destination(session_factory: async_sessionmaker, command: RequestTransfer, wait: float) -> None:
    deadline = time.monotonic() + wait
    pause = _FIRST_LOOK
    while (left := deadline - time.monotonic()) > 0:
        await asyncio.sleep(min(pause, left))
        pause = min(pause * 2, _LOOK_AT_MOST_EVERY)
        async with session_factory() as session:
            destination = await find_org(session, command.to_org_id)
        if destination is not None and destination.parent_id == command.from_org_id:
            return


async def _record_request(session_factory: async_sessionmaker, command: RequestTransfer,
                          idempotency: Idempotency | None) -> JSONResponse | None:
    # Without a key, the transfer and its event are one statement (shared.db's one_statement);
    # with one, the key's claim and answer share their transaction.
    async with UnitOfWork(session_factory, producer="transfers", one_statement=idempotency is None) as uow:
        if idempotency is None:
            answer = await _write_request(uow, command)
        else:
            answer = await idempotent(uow.session, idempotency.key, scope=idempotency.scope,
                                      request_body=idempotency.request_body, status=202,
                                      work=lambda: _write_request(uow, command))
        await uow.commit()
    return answer if isinstance(answer, JSONResponse) else None


async def _write_request(uow: UnitOfWork, command: RequestTransfer) -> dict[str, str]:
    """The pending transfer and its event, written at commit; the answer to remember."""
    sender, destination, representatives = await _parties(uow, command)
    if sender is not None and sender.status != "active":
        raise Problem(409, f"{sender.name} is archived and makes no transfers.")
    if destination is None or destination.parent_id != command.from_org_id:
        raise _DestinationNotKnown
    problem = why_not_eligible(destination, command.from_org_id)
    if problem is not None:
        raise Problem(409, problem)
    try:
        told = recipients(representatives, notify=command.notify_representative,
                          chosen_id=command.representative_id, cc_emails=command.cc_emails)
    except UnknownRepresentative as error:
        raise Problem(422, str(error)) from error
    common = dict(
        from_org_id=command.from_org_id,
        to_org_id=command.to_org_id,
        entitlement_id=command.entitlement_id,
        product_id=command.product_id,
        requested_by=command.requested_by,
        notify_representative=told.representative,
        cc_emails=list(told.cc),
    )
    uow.write_at_commit(_INSERT_TRANSFER, dict(
        id=command.transfer_id, quantity_requested=command.quantity, status="pending", note=command.note,
        representatives=json.dumps(representatives_at_request(representatives, told.representative)), **common))
    uow.record(
        TransferRequested(transfer_id=command.transfer_id, quantity=command.quantity, **common),
        visible_to=[command.from_org_id],
        actor_org_id=command.from_org_id,
        actor_user_id=command.requested_by,
    )
    return {"id": str(command.transfer_id), "status": "pending"}


# The POST is the busiest path of the service: its statements are built once, not per request.
# The representatives go as JSON text, cast in SQL: the same value on the driver and in a session.
_INSERT_TRANSFER = sa.insert(transfers).values({
    **{column: sa.bindparam(column) for column in (
        "id", "quantity_requested", "status", "from_org_id", "to_org_id", "entitlement_id", "product_id",
        "requested_by", "notify_representative", "cc_emails", "note")},
    "representatives": sa.cast(sa.bindparam("representatives", type_=sa.Text), JSONB),
})
# The sender and the destination as the directory knows them, and the destination's representatives.
_reps = org_directory_representatives.c
_PARTIES = DriverStatement(
    sa.select(*KNOWN_ORG_COLUMNS, _reps.id, _reps.email, _reps.is_default, _reps.first_name, _reps.last_name)
    .select_from(org_directory.outerjoin(org_directory_representatives, sa.and_(
        _reps.org_id == org_directory.c.id, _reps.org_id == sa.bindparam("to_org_id", type_=UUID(as_uuid=True)))))
    .where(org_directory.c.id == sa.any_(sa.bindparam("org_ids", type_=ARRAY(UUID(as_uuid=True)))))
)
_REPRESENTATIVE_AT = len(KNOWN_ORG_COLUMNS)  # the representative's columns follow the org's


async def _parties(uow: UnitOfWork, command: RequestTransfer
                   ) -> tuple[KnownOrg | None, KnownOrg | None, list[Representative]]:
    """The sender and the destination (None when unknown) and the destination's representatives: one query."""
    rows = await uow.fetch(_PARTIES, {"to_org_id": command.to_org_id,
                                      "org_ids": [command.from_org_id, command.to_org_id]})
    orgs = {row[0]: KnownOrg(*row[:_REPRESENTATIVE_AT]) for row in rows}
    representatives = [Representative(*row[_REPRESENTATIVE_AT:]) for row in rows
                       if row[0] == command.to_org_id and row[_REPRESENTATIVE_AT] is not None]
    return orgs.get(command.from_org_id), orgs.get(command.to_org_id), representatives


async def outcomes_reported(uow: UnitOfWork, envelopes: list[Envelope]) -> None:
    """Records the ledger's outcomes of a batch, two statements whatever its size. A transfer is
    settled once: only a pending one takes an outcome, so a late or repeated outcome changes nothing."""
    completed = [(e.payload_as(TransferCompleted), e.occurred_at) for e in envelopes
                 if e.type == TransferCompleted.routing_key]
    rejected = [e.payload_as(TransferRejected) for e in envelopes if e.type == TransferRejected.routing_key]
    settled = set()
    if completed:
        settled |= {row[0] for row in await uow.fetch(_SETTLE_COMPLETED, {
            "ids": [event.transfer_id for event, _ in completed],
            "from_org_ids": [event.from_org_id for event, _ in completed],
            "quantities": [event.quantity for event, _ in completed],
            "actions": [event.action for event, _ in completed],
            "product_names": [event.product_name for event, _ in completed],
            "product_descriptions": [event.product_description for event, _ in completed],
            "po_numbers": [event.po_number for event, _ in completed],
            "sales_orders": [event.sales_order for event, _ in completed],
            "completed_at": [occurred_at for _, occurred_at in completed],  # when the ledger moved the licenses
        })}
    if rejected:
        settled |= {row[0] for row in await uow.fetch(_SETTLE_REJECTED, {
            "ids": [event.transfer_id for event in rejected],
            "from_org_ids": [event.from_org_id for event in rejected],
            "reason_codes": [event.reason_code for event in rejected],
            "reasons": [event.reason for event in rejected],
        })}
    unsettled = [event for event in [*(event for event, _ in completed), *rejected] if event.transfer_id not in settled]
    if unsettled:
        await _log_ignored(uow, unsettled)


_SETTLE_COMPLETED = DriverStatement(sa.text(
    "UPDATE transfers t SET status = 'completed', quantity = o.quantity, action = o.action,"
    " product_name = o.product_name, product_description = o.product_description, po_number = o.po_number,"
    " sales_order = o.sales_order, completed_at = o.completed_at"
    " FROM unnest(:ids, :from_org_ids, :quantities, :actions, :product_names, :product_descriptions, :po_numbers,"
    " :sales_orders, :completed_at) AS o(id, from_org_id, quantity, action, product_name, product_description,"
    " po_number, sales_order, completed_at)"
    " WHERE t.id = o.id AND t.from_org_id = o.from_org_id AND t.status = 'pending' RETURNING t.id"
).bindparams(*array_params(ids=UUID(as_uuid=True), from_org_ids=UUID(as_uuid=True), quantities=sa.Integer,
                     actions=sa.Text, product_names=sa.Text, product_descriptions=sa.Text, po_numbers=sa.Text,
                     sales_orders=sa.Text, completed_at=sa.DateTime(timezone=True))))

_SETTLE_REJECTED = DriverStatement(sa.text(
    "UPDATE transfers t SET status = 'rejected', reason_code = o.reason_code, reason = o.reason"
    " FROM unnest(:ids, :from_org_ids, :reason_codes, :reasons) AS o(id, from_org_id, reason_code, reason)"
    " WHERE t.id = o.id AND t.from_org_id = o.from_org_id AND t.status = 'pending' RETURNING t.id"
).bindparams(*array_params(ids=UUID(as_uuid=True), from_org_ids=UUID(as_uuid=True), reason_codes=sa.Text, reasons=sa.Text)))


async def _log_ignored(uow: UnitOfWork, events: list[TransferCompleted | TransferRejected]) -> None:
    rows = await uow.session.execute(
        sa.select(transfers.c.id, transfers.c.from_org_id, transfers.c.status)
        .where(transfers.c.id.in_([event.transfer_id for event in events]))
    )
    status = {(row.id, row.from_org_id): row.status for row in rows}
    for event in events:
        outcome = "completed" if isinstance(event, TransferCompleted) else "rejected"
        current = status.get((event.transfer_id, event.from_org_id))
        if current is None:
            log.warning("outcome of an unknown transfer ignored", transfer_id=str(event.transfer_id), outcome=outcome)
        else:
            log.info("transfer already settled; outcome ignored", transfer_id=str(event.transfer_id), status=current,
                     outcome=outcome)


def event_handlers() -> dict[str, EventHandler | BatchHandler]:
    return {
        **ORG_DIRECTORY_HANDLERS,
        **MEMBER_TOKEN_HANDLERS,
        "entitlements.transfer.*": BatchHandler(outcomes_reported),
    }
