"""The transfers service's command and its reactions to bus events: the only place its state
changes. The ledger lives in entitlements; this service records the request and its outcome."""

import uuid

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID

from shared.auth.member_tokens import MEMBER_TOKEN_HANDLERS
from shared.bus.consumer import BatchHandler, EventHandler
from shared.db import DriverStatement, UnitOfWork, array_params
from shared.events.entitlements import TransferCompleted, TransferRejected
from shared.events.envelope import Envelope
from shared.events.transfers import TransferRequested
from shared.logging import get_logger
from shared.org_directory import (
    KNOWN_ORG_COLUMNS, ORG_DIRECTORY_HANDLERS, KnownOrg, org_directory, org_directory_representatives,
    why_not_eligible)
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
    """Stages the pending transfer and `TransferRequested` in the caller's unit of work (the
    caller commits, so an Idempotency-Key answer can join the same transaction). The destination
    is checked here, at once, against the local org directory; entitlements checks it again when
    it applies the transfer, since the directory may change in between."""
    destination, representatives = await _destination(uow, command.to_org_id)
    problem = why_not_eligible(destination, command.from_org_id)
    if problem is not None:
        unknown = destination is None or destination.parent_id != command.from_org_id
        raise Problem(404 if unknown else 409, problem)
    try:
        notify = representative_to_notify(
            representatives,
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
    uow.write_at_commit(_INSERT_TRANSFER, dict(
        id=command.transfer_id, quantity_requested=command.quantity, status="pending", **common))
    uow.record(
        TransferRequested(transfer_id=command.transfer_id, quantity=command.quantity, **common),
        visible_to=[command.from_org_id],
        actor_org_id=command.from_org_id,
        actor_user_id=command.requested_by,
    )


# The POST is the busiest path of the service: its statements are built once, not per request
# (building and keying a statement cost more than running it through SQLAlchemy's cache), and
# without an Idempotency-Key they run on the driver (shared.db.DriverStatement).
_INSERT_TRANSFER = sa.insert(transfers).values({column: sa.bindparam(column) for column in (
    "id", "quantity_requested", "status", "from_org_id", "to_org_id", "entitlement_id", "product_id", "requested_by",
    "notify_representative", "cc_emails")})
_DESTINATION = DriverStatement(
    sa.select(*KNOWN_ORG_COLUMNS, org_directory_representatives.c.id.label("representative_id"),
              org_directory_representatives.c.email, org_directory_representatives.c.is_default)
    .select_from(org_directory.outerjoin(org_directory_representatives,
                                         org_directory_representatives.c.org_id == org_directory.c.id))
    .where(org_directory.c.id == sa.bindparam("org_id"))
)
_REPRESENTATIVE_AT = len(KNOWN_ORG_COLUMNS)  # the representative's columns follow the org's


async def _destination(uow: UnitOfWork, org_id: uuid.UUID) -> tuple[KnownOrg | None, list[Representative]]:
    """The destination org as the directory knows it, and its representatives: one query."""
    rows = await uow.fetch(_DESTINATION, {"org_id": org_id})
    if not rows:
        return None, []
    destination = KnownOrg(*rows[0][:_REPRESENTATIVE_AT])
    return destination, [Representative(*row[_REPRESENTATIVE_AT:]) for row in rows if row[_REPRESENTATIVE_AT] is not None]


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
