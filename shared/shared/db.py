"""The async database layer: engine, the outbox and inbox tables every service carries,
and the unit of work that writes state and events in one transaction."""

import asyncio
import contextlib
import functools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import asyncpg
import sqlalchemy as sa
from opentelemetry.trace import SpanKind
from sqlalchemy import event as sa_event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn

from shared import context
from shared.events.envelope import Envelope, EventPayload
from shared.events.secrets import SESSION_INFO_KEY, EventSecrets
from shared.settings import ServiceSettings
from shared.tracing import inject_trace_context, sql_traced, tracer

OUTBOX_CHANNEL = "outbox_ready"


def array_params(**types) -> list[sa.BindParameter]:
    """Bind parameters taking a list each, for set-based statements (`unnest(:ids, ...)`, `= ANY(:ids)`):
    `array_params(ids=UUID(as_uuid=True), quantities=sa.Integer)`."""
    return [sa.bindparam(name, type_=sa.ARRAY(type_)) for name, type_ in types.items()]


def create_engine(url: str, pool_size: int = 10, custom_plans: bool = False, pool_timeout: float = 30.0) -> AsyncEngine:
    """`custom_plans`: plan every execution for its own values. asyncpg prepares statements, and
    after five runs PostgreSQL may switch to a generic plan that cannot see the values; on skewed
    data (one org with a fifth of the audit log, a common or a rare search term) that plan can be
    a hundred times slower (bench/audit_search.py: p99 1.9 s generic, 0.13 s custom)."""
    connect_args = {"server_settings": {"plan_cache_mode": "force_custom_plan"}} if custom_plans else {}
    # pool_size connections, kept: a request finding them all busy waits for one (the CPU is the
    # limit then, not connections), and after `pool_timeout` seconds gets a 503 (shared.problems).
    # Overflow connections, opened for a burst and closed after it, made a busy service connect,
    # negotiate TLS and prepare its statements again several times a second: about a tenth of its
    # CPU, and of its database backends' (py-spy, /proc).
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=0, pool_timeout=pool_timeout,
                                 connect_args=connect_args)
    sa_event.listen(engine.sync_engine, "checkout", _refuse_closed_connection)
    return engine


def _refuse_closed_connection(dbapi_connection, connection_record, connection_proxy) -> None:
    """Instead of SQLAlchemy's pre-ping, which costs three round trips (BEGIN, a query, ROLLBACK)
    on every checkout, about a tenth of a busy service's CPU (py-spy): a connection the server
    closed (restart, pg_terminate_backend) is seen closed by asyncpg within milliseconds, since the
    event loop reads its end, and the pool then opens a new one. One that dies later fails its
    statement, and SQLAlchemy drops every connection opened before it (a 503, retried)."""
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the server closed this pooled connection")


_DRIVER_DIALECT = asyncpg_dialect()


class DriverStatement:
    """A statement compiled once to the driver's SQL ($1, $2, ...), for the busiest paths: run on
    the pooled asyncpg connection (`driver_connection`), it skips SQLAlchemy's execution layer.
    Measured in-process, the transfers POST's two statements cost 600 µs of client CPU through a
    session and 320 on the driver (bench/README.md, session 9). The values go to asyncpg as they
    are (no SQLAlchemy type conversion), and a list is an array, never an expanded IN."""

    def __init__(self, statement: sa.Executable):
        self.statement = statement  # as SQLAlchemy runs it, in a session
        compiled = statement.compile(dialect=_DRIVER_DIALECT)
        self.sql = compiled.string
        self.operation = self.sql.split(maxsplit=1)[0]  # a span's name, as SQLAlchemy's instrumentation names it
        self._names = compiled.positiontup
        # Values written into the statement itself (a literal channel name): not asked of the caller.
        self._literals = {compiled.bind_names[bind]: bind.value for bind in compiled.binds.values() if not bind.required}

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        return [params[name] if name in params else self._literals[name] for name in self._names]


class DriverRow(asyncpg.Record):
    """A row read on the driver: by position, by name (row["id"]) and, as SQLAlchemy's rows, as
    attributes (row.id)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class DriverConnection:
    """A pooled connection's asyncpg connection, for `DriverStatement`s: each its own transaction
    (autocommit), or together inside `transaction()` or a unit of work's. Errors come out as
    SQLAlchemy's (IntegrityError, OperationalError, ...), as from a session, so the services' error
    handling (shared.problems: 503 for a database away, 422 for a value it cannot store) and the
    pool's (a lost connection is dropped) stay the same."""

    def __init__(self, pooled: PoolProxiedConnection, dialect: sa.Dialect, *, traced: bool = False,
                 invalidate: Callable[[], Awaitable[None]] | None = None):
        """`traced`: a span per statement, as SQLAlchemy's instrumentation makes for its own
        (shared.tracing.sql_traced). `invalidate`: how to drop the connection when it is lost; by
        default the pool's own (a session's connection is dropped through the session, so it knows)."""
        self._pooled = pooled
        self._traced = traced
        self._adapted = pooled.dbapi_connection  # SQLAlchemy's adapter around the driver's connection
        self._dialect = dialect
        self._invalidate = invalidate or functools.partial(greenlet_spawn, pooled.invalidate)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """BEGIN, then COMMIT, or ROLLBACK when the block raises: the statements inside as one."""
        async with self._adapted.driver_connection.transaction():
            yield

    def invalidate_now(self) -> None:
        """Closes the connection at once (no await: for a task being cancelled); the pool replaces it."""
        self._pooled.invalidate()

    async def fetch(self, statement: DriverStatement, params: Mapping[str, Any]) -> list[DriverRow]:
        return await self._run(functools.partial(self._adapted.driver_connection.fetch, record_class=DriverRow),
                               statement, params)

    async def execute(self, statement: DriverStatement, params: Mapping[str, Any]) -> None:
        await self._run(self._adapted.driver_connection.execute, statement, params)

    async def _run(self, method, statement: DriverStatement, params: Mapping[str, Any]):
        arguments = statement.arguments(params)
        if not self._traced:
            return await self._translating(method, statement, arguments)
        with tracer().start_as_current_span(statement.operation, kind=SpanKind.CLIENT,
                                            attributes={"db.system": "postgresql", "db.statement": statement.sql}):
            return await self._translating(method, statement, arguments)

    async def _translating(self, method, statement: DriverStatement, arguments: list[Any]):
        try:
            return await method(statement.sql, *arguments)
        except Exception as error:
            translated = self._translated(error, statement, arguments)
            if translated is None:  # not the database's: a bug, as it is
                raise
            if translated.connection_invalidated:
                await self._invalidate()  # closed, and replaced by the pool
            raise translated from error

    def _translated(self, error: Exception, statement: DriverStatement, arguments: list) -> sa.exc.DBAPIError | None:
        dbapi = self._dialect.loaded_dbapi
        try:
            self._adapted._handle_exception(error)  # raises the DBAPI error SQLAlchemy would wrap
        except dbapi.Error as dbapi_error:
            disconnect = self._dialect.is_disconnect(dbapi_error, self._adapted, None)
            return sa.exc.DBAPIError.instance(statement.sql, arguments, dbapi_error, dbapi.Error,
                                              connection_invalidated=disconnect, dialect=self._dialect)
        except Exception:
            return None
        return None


@contextlib.asynccontextmanager
async def driver_connection(engine: AsyncEngine) -> AsyncIterator[DriverConnection]:
    """A connection of the engine's pool (checked out as for a session, so its checks apply), used
    through the driver; back to the pool at the end. Taken from the pool itself, not through an
    AsyncConnection: 25 µs of CPU against 48 (in-process, session 9)."""
    pooled = await engine.raw_connection()
    connection = DriverConnection(pooled, engine.dialect, traced=sql_traced(engine))
    try:
        yield connection
    except asyncio.CancelledError:
        # Cut off, maybe in the middle of a statement: the connection's state is unknown, so it is
        # closed rather than handed to the next user (outside a greenlet, a plain terminate).
        connection.invalidate_now()
        raise
    finally:
        await greenlet_spawn(pooled.close)  # back to the pool (or closed, when it was invalidated)


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


def _event_secrets(session_factory: async_sessionmaker[AsyncSession]) -> EventSecrets:
    """The service's keys, carried by its session factory; a factory made without them (scripts,
    tests) seals with the key of the environment, as the services there do."""
    return session_factory.kw.get("info", {}).get(SESSION_INFO_KEY) or _environment_event_secrets()


@functools.cache
def _environment_event_secrets() -> EventSecrets:
    return EventSecrets.from_settings(ServiceSettings())


# The events of a unit of work, in event order. A data-modifying CTE runs whatever the outer query
# reads, so the events and the relay's wake-up go in one round trip (the notification is delivered
# at commit).
_outbox = sa.table("outbox", sa.column("event_id"), sa.column("routing_key"), sa.column("body"))
_events = sa.func.unnest(
    *array_params(event_ids=UUID(as_uuid=True), routing_keys=sa.Text, bodies=sa.Text)
).table_valued("event_id", "routing_key", "body", with_ordinality="position").render_derived("event")
_INSERT_OUTBOX = sa.insert(_outbox).from_select(
    ["event_id", "routing_key", "body"],
    sa.select(_events.c.event_id, _events.c.routing_key, sa.cast(_events.c.body, JSONB)).order_by(_events.c.position),
)
_WAKE_RELAY = sa.func.pg_notify(OUTBOX_CHANNEL, "")
_WRITE_EVENTS = DriverStatement(sa.select(_WAKE_RELAY).add_cte(_INSERT_OUTBOX.cte("events")))
# One-statement commits by their staged statements, compiled once for the driver.
_one_statements: dict[tuple, DriverStatement] = {}


def _one_statement(staged: tuple[sa.Insert | sa.Update, ...], with_events: bool) -> DriverStatement:
    key = (*staged, with_events)
    statement = _one_statements.get(key)
    if statement is None:
        if len(_one_statements) > 1000:  # statements built per call (not reused) must not pile up
            _one_statements.clear()
        writes = [write.cte(f"write_{n}") for n, write in enumerate(staged)]
        if with_events:
            writes.append(_INSERT_OUTBOX.cte("events"))
        statement = _one_statements[key] = DriverStatement(
            sa.select(_WAKE_RELAY if with_events else sa.true()).add_cte(*writes))
    return statement


class UnitOfWork:
    """One database transaction: the handler's state changes plus the events it records.

    `async with uow:` opens the session; `record()` queues an event, its secret fields sealed
    (shared.events.secrets); `commit()` writes the events to the outbox in the same transaction and
    wakes the relay. Leaving without commit rolls back, and then no event exists.

    The busy paths (the consumers' inbox, their handlers' batch statements, the events) run their
    `DriverStatement`s with `fetch()` and `execute()`: on the session's own connection, in its
    transaction, below SQLAlchemy's execution layer. Everything else uses `uow.session`; both
    see each other's writes and commit or roll back together.
    """

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], producer: str, *,
                 one_statement: bool = False):
        """`one_statement`: for a busy path whose writes depend on no lock and not on one another.
        It has no session: reads (`fetch()`) run on their own, nothing is written before
        `commit()`, and the writes staged with `write_at_commit()` go with the events as one
        statement, atomic by itself: two round trips fewer than BEGIN ... COMMIT, and no
        transaction held open between them. All of it on the driver (`DriverStatement`)."""
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
        self._driver = None
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
        if exc_info[0] is asyncio.CancelledError and self._driver is not None:
            self._driver.invalidate_now()  # cut off, maybe mid-statement: as in driver_connection()
        await self.session.rollback()
        await self.session.close()

    async def fetch(self, statement: DriverStatement, params: Mapping[str, Any]) -> list[DriverRow]:
        """A statement's rows (by position, name or attribute), on the driver: in the session's
        transaction, or on its own in a one-statement unit of work."""
        return await (await self._driver_connection()).fetch(statement, params)

    async def execute(self, statement: DriverStatement, params: Mapping[str, Any]) -> None:
        """A statement on the driver, in the session's transaction (see `fetch`)."""
        await (await self._driver_connection()).execute(statement, params)

    async def _driver_connection(self) -> DriverConnection:
        if self._driver is None:
            connection = await self.session.connection()  # the session's transaction, begun
            pooled = await connection.get_raw_connection()
            adapted = pooled.dbapi_connection
            # SQLAlchemy's asyncpg adapter sends BEGIN before its first statement, not at begin();
            # statements sent past it before then would each commit on their own. So BEGIN now,
            # as the adapter would (the adapter then commits or rolls it back with the session).
            if not adapted._started:
                await adapted._start_transaction()
            self._driver = DriverConnection(pooled, connection.dialect, traced=sql_traced(connection.engine),
                                            invalidate=connection.invalidate)
        return self._driver

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
            statement = _one_statement(tuple(statement for statement, _ in self._staged), bool(self._pending))
            await self._driver.execute(statement, {**params, **events})
        else:
            for statement, params in self._staged:
                await self.session.execute(statement, params)
            if self._pending:
                await self.execute(_WRITE_EVENTS, events)
            await self.session.commit()
            self._driver = None  # the connection went back to the pool with the transaction
        self._pending = []
        self._staged = []
