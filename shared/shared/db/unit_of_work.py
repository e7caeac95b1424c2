"""The unit of work: a handler's state changes and the events it records, in one transaction."""

import functools
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from shared import context
from shared.db.driver import DriverConnection, DriverStatement, driver_connection
from shared.db.messaging import WRITE_EVENTS, writes_with_events
from shared.events.envelope import Envelope, EventPayload
from shared.events.secrets import SESSION_INFO_KEY, EventSecrets
from shared.settings import ServiceSettings
from shared.tracing import inject_trace_context


def _event_secrets(session_factory: async_sessionmaker[AsyncSession]) -> EventSecrets:
    """The service's keys, carried by its session factory; a factory made without them (scripts,
    tests) seals with the key of the environment, as the services there do."""
    return session_factory.kw.get("info", {}).get(SESSION_INFO_KEY) or _environment_event_secrets()


@functools.cache
def _environment_event_secrets() -> EventSecrets:
    return EventSecrets.from_settings(ServiceSettings())


class UnitOfWork:
    """One database transaction: the handler's state changes plus the events it records.

    `async with uow:` opens the session; `record()` queues an event, its secret fields sealed
    (shared.events.secrets); `commit()` writes the events to the outbox in the same transaction and
    wakes the relay. Leaving without commit rolls back, and then no event exists.

    `fetch()` and `execute()` run `DriverStatement`s (compiled once; the consumers' inbox, their
    handlers' batch statements) in the session's transaction, through SQLAlchemy's
    `exec_driver_sql`; `uow.session` runs everything else. One connection, one transaction: both
    see each other's writes and commit or roll back together.
    """

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], producer: str, *,
                 one_statement: bool = False):
        """`one_statement`: for a busy path whose writes depend on no lock and not on one another.
        It has no session and runs on the driver only (shared.db.driver): reads (`fetch()`) run on
        their own, nothing is written before `commit()`, and the writes staged with
        `write_at_commit()` go with the events as one statement, atomic by itself: two round trips
        fewer than BEGIN ... COMMIT, and no transaction held open between them."""
        self._session_factory = session_factory
        self.producer = producer
        self.session: AsyncSession
        self._one_statement = one_statement
        self._pending: list[Envelope] = []
        self._staged: list[tuple[sa.Insert | sa.Update, dict[str, Any]]] = []
        self._driver: DriverConnection | None = None

    async def __aenter__(self) -> "UnitOfWork":
        self._pending = []
        self._staged = []
        if self._one_statement:
            self._driver_scope = driver_connection(self._session_factory.kw["bind"])
            self._driver = await self._driver_scope.__aenter__()
        else:
            self.session = self._session_factory()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        if self._one_statement:
            await self._driver_scope.__aexit__(*exc_info)
            return
        # Cut off midway (cancelled), SQLAlchemy has already invalidated the session's connection:
        # the rollback then only discards it, and the pool replaces it.
        await self.session.rollback()
        await self.session.close()

    async def fetch(self, statement: DriverStatement, params: Mapping[str, Any]) -> Sequence[Any]:
        """A statement's rows (by position or attribute; on the one-statement path by name too):
        in the session's transaction, or on its own in a one-statement unit of work."""
        if self._one_statement:
            return await self._driver.fetch(statement, params)
        result = await self._run(statement, params)
        return result.all() if result.returns_rows else []  # [] for a write without RETURNING, as on the driver

    async def execute(self, statement: DriverStatement, params: Mapping[str, Any]) -> None:
        """A statement, in the session's transaction (see `fetch`)."""
        if self._one_statement:
            await self._driver.execute(statement, params)
        else:
            await self._run(statement, params)

    async def _run(self, statement: DriverStatement, params: Mapping[str, Any]) -> sa.CursorResult:
        connection: AsyncConnection = await self.session.connection()  # the session's transaction, begun
        return await connection.exec_driver_sql(statement.sql, statement.arguments(params))

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
        envelope = _event_secrets(self._session_factory).seal_envelope(envelope)
        self._pending.append(envelope)
        return envelope

    def write_at_commit(self, statement: sa.Insert | sa.Update, params: dict[str, Any] | None = None) -> None:
        """A write sent at commit, before the events (in one statement with them if `one_statement`).
        On a busy path, build `statement` once with named bind parameters and give their values in
        `params` (names unique within the unit of work)."""
        self._staged.append((statement, params or {}))

    async def commit(self) -> None:
        events = {
            "event_ids": [e.event_id for e in self._pending],
            "routing_keys": [e.type for e in self._pending],
            "bodies": [e.model_dump_json() for e in self._pending],
        }
        if self._one_statement:
            params = {name: value for _, staged in self._staged for name, value in staged.items()}
            statement = writes_with_events(tuple(statement for statement, _ in self._staged), bool(self._pending))
            await self._driver.execute(statement, {**params, **events})
        else:
            for statement, params in self._staged:
                await self.session.execute(statement, params)
            if self._pending:
                await self.execute(WRITE_EVENTS, events)
            await self.session.commit()
        self._pending = []
        self._staged = []
