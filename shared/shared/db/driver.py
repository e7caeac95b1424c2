"""Statements run on the driver (asyncpg) through its public calls, for the busiest paths.

A `DriverStatement` is compiled once to the driver's SQL ($1, $2, ...). It runs either

- on a `DriverConnection`: a connection of the engine's pool whose asyncpg connection
  (`PoolProxiedConnection.driver_connection`) runs the statements, alone or inside the driver's
  own `transaction()`; SQLAlchemy only lends the connection and takes it back, it sends nothing
  in between; or
- in a session's transaction, through SQLAlchemy's `AsyncConnection.exec_driver_sql` (see
  shared.db.unit_of_work): the SQL is not compiled again, and the session's transaction, error
  handling and instrumentation apply as to any of its statements.

The values go to asyncpg as they are (no SQLAlchemy type conversion), and a list is an array,
never an expanded IN.
"""

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Mapping
from typing import Any

import asyncpg
import sqlalchemy as sa
from opentelemetry.trace import SpanKind
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.tracing import sql_traced, tracer

_DRIVER_DIALECT = asyncpg_dialect()
# What the driver raises for a failed statement: the server's errors, the client's (an operation
# cut off by a terminated connection leaves the protocol in a state it refuses to go on from), and
# the socket's.
_DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError)


class DriverStatement:
    """A statement compiled once to the driver's SQL, with its parameters in the driver's order."""

    def __init__(self, statement: sa.Executable):
        self.statement = statement  # as SQLAlchemy runs it, in a session
        compiled = statement.compile(dialect=_DRIVER_DIALECT)
        self.sql = compiled.string
        self.operation = self.sql.split(maxsplit=1)[0]  # a span's name, as SQL spans are named
        self._names = compiled.positiontup
        # Values written into the statement itself (a literal channel name): not asked of the caller.
        self._literals = {compiled.bind_names[bind]: bind.value for bind in compiled.binds.values() if not bind.required}

    def arguments(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(params[name] if name in params else self._literals[name] for name in self._names)


class DriverRow(asyncpg.Record):
    """A row read on a DriverConnection: by position, by name (row["id"]) and, as SQLAlchemy's rows,
    as attributes (row.id)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class DriverConnection:
    """A pooled connection used through asyncpg only, for `DriverStatement`s: each its own
    transaction (autocommit), or together inside `transaction()`. Errors come out as SQLAlchemy's
    (IntegrityError, DataError, OperationalError, ...), as from a session, so the services' error
    handling (shared.problems: 503 for a database away, 422 for a value it cannot store) stays the
    same; a connection lost is dropped from the pool."""

    def __init__(self, connection: AsyncConnection, driver: asyncpg.Connection, *, traced: bool = False):
        """`traced`: a span per statement, as the engine's own statements get (shared.tracing)."""
        self._connection = connection
        self._driver = driver
        self._traced = traced

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """BEGIN, then COMMIT, or ROLLBACK when the block raises: the statements inside as one."""
        try:
            async with self._driver.transaction():
                yield
        except _DRIVER_ERRORS as error:  # BEGIN, COMMIT or ROLLBACK's
            raise await self._translated(error, "COMMIT", ()) from error

    async def fetch(self, statement: DriverStatement, params: Mapping[str, Any]) -> list[DriverRow]:
        return await self._run(functools.partial(self._driver.fetch, record_class=DriverRow), statement, params)

    async def execute(self, statement: DriverStatement, params: Mapping[str, Any]) -> None:
        await self._run(self._driver.execute, statement, params)

    async def _run(self, method, statement: DriverStatement, params: Mapping[str, Any]):
        arguments = statement.arguments(params)
        if not self._traced:
            return await self._translating(method, statement, arguments)
        with tracer().start_as_current_span(statement.operation, kind=SpanKind.CLIENT,
                                            attributes={"db.system": "postgresql", "db.statement": statement.sql}):
            return await self._translating(method, statement, arguments)

    async def _translating(self, method, statement: DriverStatement, arguments: tuple[Any, ...]):
        try:
            return await method(statement.sql, *arguments)
        except _DRIVER_ERRORS as error:
            raise await self._translated(error, statement.sql, arguments) from error

    async def _translated(self, error: Exception, sql: str, arguments: tuple[Any, ...]) -> sa.exc.DBAPIError:
        lost = self._driver.is_closed() or isinstance(
            error, OSError | asyncpg.PostgresConnectionError | asyncpg.InternalClientError)
        if lost:
            await self._connection.invalidate()  # closed, and replaced by the pool
        return _sqlalchemy_error(error, lost)(sql, arguments, error, connection_invalidated=lost)


def _sqlalchemy_error(error: Exception, lost: bool) -> type[sa.exc.DBAPIError]:
    """The exception SQLAlchemy raises for the same failure in a session, by SQLSTATE class."""
    if lost or isinstance(error, OSError | asyncpg.InterfaceError | asyncpg.InternalClientError):
        return sa.exc.OperationalError
    if isinstance(error, asyncpg.IntegrityConstraintViolationError):
        return sa.exc.IntegrityError
    if isinstance(error, asyncpg.DataError):
        return sa.exc.DataError
    if isinstance(error, asyncpg.SyntaxOrAccessError):
        return sa.exc.ProgrammingError
    return sa.exc.DatabaseError


@contextlib.asynccontextmanager
async def driver_connection(engine: AsyncEngine) -> AsyncIterator[DriverConnection]:
    """A connection of the engine's pool (checked out as for a session, so its checks apply), used
    through the driver; back to the pool at the end."""
    async with engine.connect() as connection:
        pooled = await connection.get_raw_connection()
        try:
            yield DriverConnection(connection, pooled.driver_connection, traced=sql_traced(engine))
        except asyncio.CancelledError:
            # Cut off, maybe in the middle of a statement: the connection's state is unknown, so it
            # is closed at once (no await: the task is being cancelled) rather than handed to the
            # next user; the pool replaces it.
            pooled.invalidate()
            raise
