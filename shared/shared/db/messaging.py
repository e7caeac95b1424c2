"""The outbox and inbox tables every service keeps beside its own, and the statement that writes
a unit of work's events to the outbox."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

from shared.db.driver import DriverStatement
from shared.db.engine import array_params

OUTBOX_CHANNEL = "outbox_ready"


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
WRITE_EVENTS = DriverStatement(sa.select(_WAKE_RELAY).add_cte(_INSERT_OUTBOX.cte("events")))

# One-statement commits by their staged statements, compiled once for the driver.
_one_statements: dict[tuple, DriverStatement] = {}


def writes_with_events(staged: tuple[sa.Insert | sa.Update, ...], with_events: bool) -> DriverStatement:
    """The staged writes and the events as one statement (each a data-modifying CTE)."""
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
