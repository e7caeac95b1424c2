"""The audit service's tables: one row per event, visible to the orgs its envelope names."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from shared.db import add_messaging_tables

metadata = sa.MetaData()

audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("category", sa.Text, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("producer", sa.Text, nullable=False),
    sa.Column("actor_org_id", UUID(as_uuid=True)),
    sa.Column("actor_user_id", UUID(as_uuid=True)),
    sa.Column("visible_to", ARRAY(UUID(as_uuid=True)), nullable=False),
    sa.Column("correlation_id", sa.Text),
    sa.Column("payload", JSONB, nullable=False),
    sa.Index("audit_events_visible_to", "visible_to", postgresql_using="gin"),
    sa.Index("audit_events_occurred_at", sa.text("occurred_at DESC"), "event_id"),
)

outbox, inbox = add_messaging_tables(metadata)
