"""Transfer requests: ask to move licenses to a child org (answered 202 at once; the ledger in
entitlements decides), follow one, list the ones sent. Every query is scoped to the caller's org."""

import json
import uuid
from datetime import datetime
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from shared.auth.dependencies import require
from shared.auth.permissions import Action
from shared.auth.tokens import Caller
from shared.idempotency import IdempotencyKey
from shared.pagination import Cursor, Limit, Page, encode_cursor, older_than_cursor
from shared.problems import Problem
from shared.strict_json import StrictJsonRoute
from shared.validation import Email, FilledText, Flag, StrictId, Text, whole_number
from transfers.db import transfers
from transfers.domain.transfers import MAX_CC_EMAILS, MAX_NOTE_LENGTH, MAX_QUANTITY, RequestTransfer
from transfers.handlers import Idempotency, request_transfer

TRANSFERS_PATH = "/api/v1/transfers"
router = APIRouter(prefix=TRANSFERS_PATH, tags=["transfers"], route_class=StrictJsonRoute)

class TransferIn(BaseModel):
    # Strict: a quantity is a JSON number, a flag a JSON boolean, an id a UUID string; and the
    # router reads bodies with shared.strict_json (no repeated keys).
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    entitlement_id: Annotated[FilledText, Field(max_length=64)]
    product_id: StrictId
    # Absent or null: all that is available ("transfer"); a number: that part ("split").
    quantity: whole_number(ge=1, le=MAX_QUANTITY) | None = None
    to_org_id: StrictId
    notify_representative: Flag = True
    # One of the destination's representatives to tell; default: its default representative.
    representative_id: StrictId | None = None
    cc_emails: Annotated[list[Email], Field(max_length=MAX_CC_EMAILS)] = []
    note: Annotated[Text, Field(max_length=MAX_NOTE_LENGTH)] | None = None


class RepresentativeAtRequest(BaseModel):
    """A representative of the destination as the directory had it when the transfer was asked for."""

    email: str
    first_name: str | None
    last_name: str | None
    is_default: bool
    notified: bool  # the one told of the transfer


class TransferAccepted(BaseModel):
    id: uuid.UUID
    status: Literal["pending"]


class TransferOut(BaseModel):
    id: uuid.UUID
    status: str
    direction: Literal["sent", "received"]
    from_org_id: uuid.UUID
    to_org_id: uuid.UUID
    entitlement_id: str
    product_id: uuid.UUID
    quantity_requested: int | None
    quantity: int | None
    action: str | None
    reason_code: str | None
    reason: str | None
    notify_representative: str | None
    cc_emails: list[str]
    requested_by: uuid.UUID | None
    representatives: list[RepresentativeAtRequest]
    note: str | None
    requested_at: datetime
    completed_at: datetime | None
    product_name: str | None
    product_description: str | None
    po_number: str | None
    sales_order: str | None


# What only the sender of a transfer sees of it.
SENDERS_OWN = {"requested_by": None, "cc_emails": [], "note": None}


def transfer_out(row, caller: Caller) -> TransferOut:
    """The receiver sees the completed transfer, not who asked for it, whom the sender copied
    nor the sender's note."""
    sent = row["from_org_id"] == caller.org_id
    values = dict(row, direction="sent" if sent else "received")
    if not sent:
        values.update(SENDERS_OWN)
    return TransferOut.model_validate(values)


@router.post("", status_code=202, response_model=TransferAccepted)
async def create_transfer(
    request: Request, body: TransferIn, key: IdempotencyKey = None, caller: Caller = require(Action.TRANSFER_LICENSES)
):
    transfer_id = uuid.uuid4()
    command = RequestTransfer(
        transfer_id=transfer_id,
        from_org_id=caller.org_id,
        requested_by=caller.user_id,
        **body.model_dump(exclude={"cc_emails"}),
        cc_emails=tuple(body.cc_emails),
    )
    idempotency = None if key is None else Idempotency(
        key, scope=f"{caller.org_id}:{caller.user_id}:POST {TRANSFERS_PATH}", request_body=body.model_dump(mode="json"))
    replay = await request_transfer(request.app.state.session_factory, command, idempotency=idempotency,
                                    destination_wait=request.app.state.settings.destination_wait_seconds)
    if replay is not None:
        replay.headers["Location"] = _location(json.loads(replay.body)["id"])
        return replay
    return JSONResponse({"id": str(transfer_id), "status": "pending"}, status_code=202,
                        headers={"Location": _location(transfer_id)})


def _location(transfer_id) -> str:
    return f"{TRANSFERS_PATH}/{transfer_id}"


@router.get("/{transfer_id}", response_model=TransferOut)
async def get_transfer(request: Request, transfer_id: uuid.UUID, caller: Caller = require(Action.VIEW_TRANSACTIONS)):
    visible = sa.or_(
        transfers.c.from_org_id == caller.org_id,
        sa.and_(transfers.c.to_org_id == caller.org_id, transfers.c.status == "completed"),
    )
    async with request.app.state.session_factory() as session:
        row = (
            await session.execute(sa.select(transfers).where(transfers.c.id == transfer_id, visible))
        ).mappings().one_or_none()
    if row is None:
        raise Problem(404, f"No transfer with id {transfer_id}.")
    return transfer_out(row, caller)


@router.get("", response_model=Page[TransferOut])
async def list_sent_transfers(
    request: Request,
    caller: Caller = require(Action.VIEW_TRANSACTIONS),
    status: Literal["pending", "completed", "rejected"] | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
):
    """The transfers the caller's org asked for, newest first."""
    query = (
        sa.select(transfers)
        .where(transfers.c.from_org_id == caller.org_id)
        .order_by(transfers.c.requested_at.desc(), transfers.c.id.desc())
        .limit(limit + 1)
    )
    if status is not None:
        query = query.where(transfers.c.status == status)
    query = older_than_cursor(query, cursor, transfers.c.requested_at, transfers.c.id)
    async with request.app.state.session_factory() as session:
        rows = (await session.execute(query)).mappings().all()
    items = [transfer_out(row, caller) for row in rows[:limit]]
    last = items[-1] if len(rows) > limit else None
    next_cursor = encode_cursor(last.requested_at.isoformat(), str(last.id)) if last else None
    return Page[TransferOut](items=items, next_cursor=next_cursor)
