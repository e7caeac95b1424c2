"""Access tokens voided before they expire: a change of role or a removal takes effect at once in
every service, not when the member's token runs out.

Identity stamps each access token with the member's token version ("ver") and raises the version
when the role changes; a removal voids every token of the member. Each service that verifies
tokens keeps this small read model from identity's member events (`MEMBER_TOKEN_HANDLERS`, merged
into its event handlers; the table created in a migration with `create_member_tokens_table`), and
the token-verifying dependency (shared.auth.dependencies) refuses a token the model says is void.
The table is in the service's database, so every replica sees the same answer. A replica reuses
its answer for a member during `REUSE_SECONDS`: a busy member costs one lookup per that time, not
one per request, and a change takes effect that soon after its event arrives.

The gateway keeps no copy: it has no database, and everything it serves past the token check comes
from a service that checks (the API it forwards, the portal pages and dashboards it builds from
the services' answers), so a voided token gets nothing through it.
"""

import time
import uuid
import weakref

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db import UnitOfWork
from shared.events.envelope import Envelope
from shared.events.identity import MemberRemoved, MemberRoleChanged

# The pattern the handlers are bound to: distinct from a service's own per-event keys, so merging
# the maps keeps both (the consumer runs every handler whose pattern matches).
MEMBER_EVENTS = "identity.member.*"


def add_member_tokens_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "member_tokens",
        metadata,
        sa.Column("member_id", UUID(as_uuid=True), primary_key=True),
        # Tokens with a lower "ver" are void.
        sa.Column("valid_from_version", sa.Integer, nullable=False, server_default="0"),
        sa.Column("removed", sa.Boolean, nullable=False, server_default=sa.false()),
    )


member_tokens = add_member_tokens_table(sa.MetaData())


def create_member_tokens_table(op) -> None:
    """Called from an Alembic migration of each service that verifies access tokens."""
    metadata = sa.MetaData()
    add_member_tokens_table(metadata)
    metadata.create_all(bind=op.get_bind())


async def _member_changed(uow: UnitOfWork, envelope: Envelope) -> None:
    if envelope.type == MemberRoleChanged.routing_key:
        event = envelope.payload_as(MemberRoleChanged)
        removed = False
    elif envelope.type == MemberRemoved.routing_key:
        event = envelope.payload_as(MemberRemoved)
        removed = True
    else:
        return
    version = event.token_version or 0  # identity always sends it; a removal voids all tokens anyway
    statement = insert(member_tokens).values(member_id=event.member_id, valid_from_version=version, removed=removed)
    # Versions only rise and a removal stays, whatever order the events arrive in.
    await uow.session.execute(statement.on_conflict_do_update(
        index_elements=["member_id"],
        set_={"valid_from_version": sa.func.greatest(member_tokens.c.valid_from_version,
                                                     statement.excluded.valid_from_version),
              "removed": member_tokens.c.removed | statement.excluded.removed},
    ))


MEMBER_TOKEN_HANDLERS = {MEMBER_EVENTS: _member_changed}

_VOIDING = sa.select(member_tokens.c.valid_from_version, member_tokens.c.removed).where(
    member_tokens.c.member_id == sa.bindparam("member_id"))


REUSE_SECONDS = 0.5
_REMEMBERED_MEMBERS = 10_000  # per database; past it the memory starts again

# Per service database (its session factory): member id -> (valid from version, removed, when read).
_answers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


async def token_is_void(session_factory: async_sessionmaker[AsyncSession], member_id: uuid.UUID,
                        token_version: int) -> bool:
    answers = _answers.setdefault(session_factory, {})
    now = time.monotonic()
    known = answers.get(member_id)
    if known is None or now - known[2] > REUSE_SECONDS:
        async with session_factory() as session:
            row = (await session.execute(_VOIDING, {"member_id": member_id})).one_or_none()
        known = (row.valid_from_version, row.removed, now) if row is not None else (0, False, now)
        if len(answers) >= _REMEMBERED_MEMBERS:
            answers.clear()
        answers[member_id] = known
    valid_from_version, removed, _ = known
    return removed or token_version < valid_from_version
