"""The engine every service makes, and its pool's check of a connection handed out."""

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def array_params(**types) -> list[sa.BindParameter]:
    """Bind parameters taking a list each, for set-based statements (`unnest(:ids, ...)`, `= ANY(:ids)`):
    `array_params(ids=UUID(as_uuid=True), quantities=sa.Integer)`."""
    return [sa.bindparam(name, type_=sa.ARRAY(type_)) for name, type_ in types.items()]


def create_engine(url: str, pool_size: int = 10, custom_plans: bool = False, pool_timeout: float = 30.0) -> AsyncEngine:
    """`custom_plans`: plan every execution for its own values. asyncpg prepares statements, and
    after five runs PostgreSQL may switch to a generic plan that cannot see the values; on skewed
    data (one org with much of the audit log, a common or a rare search term) that plan can be
    far slower (bench/audit_search.py)."""
    connect_args = {"server_settings": {"plan_cache_mode": "force_custom_plan"}} if custom_plans else {}
    # pool_size connections, kept: a request finding them all busy waits for one (the CPU is the
    # limit then, not connections), and after `pool_timeout` seconds gets a 503 (shared.problems).
    # Overflow connections, opened for a burst and closed after it, would make a busy service
    # connect, negotiate TLS and prepare its statements again several times a second.
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=0, pool_timeout=pool_timeout,
                                 connect_args=connect_args)
    sa_event.listen(engine.sync_engine, "checkout", _refuse_closed_connection)
    return engine


def _refuse_closed_connection(dbapi_connection, connection_record, connection_proxy) -> None:
    """Instead of SQLAlchemy's pre-ping, which costs three round trips (BEGIN, a query, ROLLBACK)
    on every checkout: a connection the server closed (restart, pg_terminate_backend) is seen
    closed by asyncpg within milliseconds, since the event loop reads its end, and the pool then
    opens a new one. One that dies later fails its statement, and SQLAlchemy drops every
    connection opened before it (a 503, retried)."""
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the server closed this pooled connection")
