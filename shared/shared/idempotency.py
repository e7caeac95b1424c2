"""`Idempotency-Key` for POSTs that create something: the same key and body give the same answer,
and the work is done once.

The key is claimed by an insert in the request's own transaction. A concurrent request with the
same key waits on that row's unique index until the first commits, then replays its answer; if
the first rolled back, the second does the work. The stored answer is written in the same
transaction as the work, so a crash leaves either both or neither. A creating POST does it in one
call, around the handler and the shaping of its answer:

    async def create() -> ProductOut:
        return ProductOut.model_validate(await handlers.create_product(uow, command))

    async with UnitOfWork(...) as uow:
        answer = await idempotent(uow.session, key, scope=idempotency_scope(caller, "POST /api/v1/products"),
                                  request_body=body, status=201, work=create)
        await uow.commit()
    return answer  # the stored answer (a JSONResponse) when the key was seen before
"""

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import sqlalchemy as sa
from fastapi import Header
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.tokens import Caller
from shared.problems import Problem

T = TypeVar("T")

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Retry-safe creation: the same key and body give the same answer, once.",
    ),
]


def add_idempotency_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "idempotency_keys",
        metadata,
        # The scope keeps keys of different callers and routes apart (org, user, route).
        sa.Column("scope", sa.Text, primary_key=True),
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("request_hash", sa.Text, nullable=False),
        sa.Column("status", sa.Integer),
        sa.Column("body", JSONB),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


def create_idempotency_table(op) -> None:
    """Called from an Alembic migration of each service that takes Idempotency-Key."""
    metadata = sa.MetaData()
    add_idempotency_table(metadata)
    metadata.create_all(bind=op.get_bind())


_CLAIM = sa.text(
    "INSERT INTO idempotency_keys (scope, key, request_hash) VALUES (:scope, :key, :hash)"
    " ON CONFLICT DO NOTHING RETURNING key"
)
_STORED = sa.text("SELECT request_hash, status, body FROM idempotency_keys WHERE scope = :scope AND key = :key")
_REMEMBER = sa.text(
    "UPDATE idempotency_keys SET status = :status, body = CAST(:body AS jsonb) WHERE scope = :scope AND key = :key"
)


def _hash(request_body: Any) -> str:
    canonical = json.dumps(jsonable_encoder(request_body), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _claim(session: AsyncSession, key: str, *, scope: str, request_body: Any) -> Any:
    """None: go ahead and do the work. Otherwise the stored row, to replay."""
    request_hash = _hash(request_body)
    params = {"scope": scope, "key": key, "hash": request_hash}
    if (await session.execute(_CLAIM, params)).scalar_one_or_none() is not None:
        return None
    stored = (await session.execute(_STORED, params)).one()
    if stored.request_hash != request_hash:
        raise Problem(422, "This Idempotency-Key was already used with a different request body; use a new key.")
    if stored.status is None:  # cannot happen after the claimer committed; kept as a clear answer
        raise Problem(409, "A request with this Idempotency-Key is still in progress; retry shortly.")
    return stored


def idempotency_scope(caller: Caller, route: str) -> str:
    """Keys count per caller (org and user) and per route (`"POST /api/v1/products"`): the same
    key sent by another user, or to another route, is a new request."""
    return f"{caller.org_id}:{caller.user_id}:{route}"


async def idempotent(
    session: AsyncSession, key: str | None, *, scope: str, request_body: Any, status: int,
    work: Callable[[], Awaitable[T]], stored: Callable[[T], Any] | None = None,
    replayed: Callable[[Any], Any] | None = None,
) -> T | JSONResponse:
    """Claim, replay or do: the stored answer if this key was used (refused if with another body),
    otherwise `work()`'s answer, remembered with `status` in the same transaction. The caller
    commits; without a key it is just `work()`.

    `stored` turns the answer into what is remembered, for an answer that holds something a
    replay must not show, or must not keep in clear; `replayed` turns it back into the replayed
    body."""
    if key is None:
        return await work()
    row = await _claim(session, key, scope=scope, request_body=request_body)
    if row is not None:
        body = row.body if replayed is None else replayed(row.body)
        return JSONResponse(body, status_code=row.status, headers={"Idempotent-Replayed": "true"})
    answer = await work()
    remembered = answer if stored is None else stored(answer)
    await session.execute(
        _REMEMBER, {"scope": scope, "key": key, "status": status, "body": json.dumps(jsonable_encoder(remembered))}
    )
    return answer
