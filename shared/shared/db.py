"""The async database layer: engine, the outbox and inbox tables every service carries,
and the unit of work that writes state and events in one transaction."""

import functools
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from shared import context
from shared.events.envelope import Envelope, EventPayload
from shared.events.secrets import SESSION_INFO_KEY, EventSecrets
from shared.settings import ServiceSettings
from shared.tracing import inject_trace_context

OUTBOX_CHANNEL = "outbox_ready"


def create_engine(url: str, pool_size: int = 10, custom_plans: bool = False) -> AsyncEngine:
    """`custom_plans`: plan every execution for its own values. asyncpg prepares statements, and
    after five runs PostgreSQL may switch to a generic plan that cannot see the values; on skewed
    data (one org with a fifth of the audit log, a common or a rare search term) that plan can be
    a hundred times slower (bench/audit_search.py: p99 1.9 s generic, 0.13 s custom)."""
    connect_args = {"server_settings": {"plan_cache_mode": "force_custom_plan"}} if custom_plans else {}
    # Up to 2 x pool_size connections; the second half is opened for a burst and closed after it.
    # (Keeping all of them open would spare a busy service reconnecting and preparing statements
    # again, about a tenth of its CPU under 64 clients, but six services x 20 connections, with
    # the tests' and tools' own, exceed this machine's PostgreSQL limit of 100.)
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True,
                               connect_args=connect_args)


def add_messaging_tables(metadata: sa.MetaData) -> tuple[sa.Table, sa.Table]:
    """Every service keeps its outbox and inbox beside its own tables (same database, same transaction)."""
    outbox = sa.Table(
        "outbox",
        metadata,
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
        sa.Column("routing_key", sa.Text, nullable=False),
        sa.Column("body", JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.Index("outbox_unpublished", "id", postgresql_where=sa.text("published_at IS NULL")),
    )
    inbox = sa.Table(
        "inbox",
        metadata,
        sa.Column("consumer", sa.Text, primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    return outbox, inbox


def create_messaging_tables(op) -> None:
    """Called from each service's first Alembic migration."""
    metadata = sa.MetaData()
    add_messaging_tables(metadata)
    metadata.create_all(bind=op.get_bind())


def _event_secrets(session: AsyncSession) -> EventSecrets:
    """The service's keys, carried by its session factory; a factory made without them (scripts,
    tests) seals with the key of the environment, as the services there do."""
    return session.info.get(SESSION_INFO_KEY) or _environment_event_secrets()


@functools.cache
def _environment_event_secrets() -> EventSecrets:
    return EventSecrets.from_settings(ServiceSettings())


_INSERT_OUTBOX = sa.text(
    "INSERT INTO outbox (event_id, routing_key, body) VALUES (:event_id, :routing_key, CAST(:body AS jsonb))"
)


class UnitOfWork:
    """One database transaction: the handler's state changes plus the events it records.

    `async with uow:` opens the session; `record()` queues an event, its secret fields sealed
    (shared.events.secrets); `commit()` writes the events to the outbox in the same transaction and
    wakes the relay. Leaving without commit rolls back, and then no event exists.
    """

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], producer: str):
        self._session_factory = session_factory
        self.producer = producer
        self.session: AsyncSession
        self._pending: list[Envelope] = []

    async def __aenter__(self) -> "UnitOfWork":
        self.session = self._session_factory()
        self._pending = []
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.session.rollback()
        await self.session.close()

    def record(
        self,
        event: EventPayload,
        *,
        visible_to: list[uuid.UUID] | None = None,
        actor_org_id: uuid.UUID | None = None,
        actor_user_id: uuid.UUID | None = None,
    ) -> Envelope:
        caller = context.current_actor()
        envelope = Envelope.wrap(
            event,
            producer=self.producer,
            actor_org_id=actor_org_id or caller.org_id,
            actor_user_id=actor_user_id or caller.user_id,
            visible_to=visible_to,
            correlation_id=context.correlation_id.get(),
            trace_context=inject_trace_context(),
        )
        envelope = _event_secrets(self.session).seal_envelope(envelope)
        self._pending.append(envelope)
        return envelope

    async def commit(self) -> None:
        if self._pending:
            await self.session.execute(
                _INSERT_OUTBOX,
                [
                    {"event_id": e.event_id, "routing_key": e.type, "body": e.model_dump_json()}
                    for e in self._pending
                ],
            )
            await self.session.execute(sa.text(f"NOTIFY {OUTBOX_CHANNEL}"))
        await self.session.commit()
        self._pending = []
