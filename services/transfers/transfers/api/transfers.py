"""Transfer requests: ask to move licenses to a child org (answered 202 at once; the ledger in
entitlements decides), follow one, list the ones sent. Every query is scoped to the caller's org."""

import json
import uuid
from datetime import datetime
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from shared.auth.dependencies import allowed, current_caller, require
from shared.auth.permissions import Action
from shared.auth.tokens import Caller
from shared.db import UnitOfWork
from shared.idempotency import IdempotencyKey, claim_idempotency_key, remember_response
from shared.lean_path import read_body, validated
from shared.pagination import Cursor, Limit, Page, encode_cursor, older_than_cursor
from shared.problems import Problem
from shared.validation import Email, FilledText
from transfers.db import transfers
from transfers.domain.transfers import MAX_CC_EMAILS, MAX_QUANTITY, RequestTransfer
from transfers.handlers import request_transfer

TRANSFERS_PATH = "/api/v1/transfers"
router = APIRouter(prefix=TRANSFERS_PATH, tags=["transfers"])

class TransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    entitlement_id: Annotated[FilledText, Field(max_length=64)]
    product_id: uuid.UUID
    # Absent or null: all that is available ("transfer"); a number: that part ("split").
    quantity: Annotated[int, Field(ge=1, le=MAX_QUANTITY)] | None = None
    to_org_id: uuid.UUID
    notify_representative: bool = True
    # One of the destination's representatives to tell; default: its default representative.
    representative_id: uuid.UUID | None = None
    cc_emails: Annotated[list[Email], Field(max_length=MAX_CC_EMAILS)] = []


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
    requested_at: datetime
    completed_at: datetime | None
    product_name: str | None
    product_description: str | None
    po_number: str | None
    sales_order: str | None


def transfer_out(row, caller: Caller) -> TransferOut:
    """The receiver sees the completed transfer, not who asked for it nor whom the sender copied."""
    sent = row["from_org_id"] == caller.org_id
    values = dict(row, direction="sent" if sent else "received")
    if not sent:
        values.update(requested_by=None, cc_emails=[])
    return TransferOut.model_validate(values)


@router.post("", status_code=202, response_model=TransferAccepted)
async def create_transfer(
    request: Request, body: TransferIn, key: IdempotencyKey = None, caller: Caller = require(Action.TRANSFER_LICENSES)
):
    scope = f"{caller.org_id}:{caller.user_id}:POST /api/v1/transfers"
    # Without a key, the transfer and its event are one statement on the driver (the busiest
    # write of the service); with one, the key's claim and answer share their transaction.
    async with UnitOfWork(request.app.state.session_factory, producer="transfers", one_statement=key is None) as uow:
        if key is not None:
            replay = await claim_idempotency_key(uow.session, key, scope=scope, request_body=body.model_dump(mode="json"))
            if replay is not None:
                replay.headers["Location"] = _location(json.loads(replay.body)["id"])
                return replay
        transfer_id = uuid.uuid4()
        await request_transfer(
            uow,
            RequestTransfer(
                transfer_id=transfer_id,
                from_org_id=caller.org_id,
                requested_by=caller.user_id,
                **body.model_dump(exclude={"cc_emails"}),
                cc_emails=tuple(body.cc_emails),
            ),
        )
        answer = {"id": str(transfer_id), "status": "pending"}
        if key is not None:
            await remember_response(uow.session, key, scope=scope, status=202, body=answer)
        await uow.commit()
    return JSONResponse(answer, status_code=202, headers={"Location": _location(transfer_id)})


_IDEMPOTENCY_KEY = TypeAdapter(IdempotencyKey)


async def create_transfer_lean(request: Request) -> Response:
    """The POST on the lean path (shared.lean_path): what FastAPI checks before create_transfer, in
    its order (the body read, the token, the role, then the header and the body's fields). The
    app's check of repeated query parameters has nothing to check here: the route takes none."""
    received = await read_body(request)
    caller = allowed(await current_caller(request), Action.TRANSFER_LICENSES)
    body, headers = validated(request, received, TransferIn, {"key": ("Idempotency-Key", _IDEMPOTENCY_KEY)})
    return await create_transfer(request, body, headers["key"], caller)


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
