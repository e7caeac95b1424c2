"""The audit service's tables: one row per event, visible to the orgs its envelope names, the
per-org hash chains over those rows, and the members it needs to show who acted."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, BYTEA, JSONB, UUID

from shared.db import add_messaging_tables
from shared.org_directory import add_org_directory_tables

metadata = sa.MetaData()

audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("type", sa.Text, nullable=False),  # the routing key
    sa.Column("category", sa.Text, nullable=False),  # what the audit log shows as "Type"
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("producer", sa.Text, nullable=False),  # as the event says
    # The broker user that published it, as the broker validated it (shared.bus.authorisation);
    # None for a record older than that check, or a test's own unstamped event.
    sa.Column("published_by", sa.Text),
    sa.Column("actor_org_id", UUID(as_uuid=True)),
    sa.Column("actor_user_id", UUID(as_uuid=True)),
    sa.Column("visible_to", ARRAY(UUID(as_uuid=True)), nullable=False),
    sa.Column("subject_ids", ARRAY(UUID(as_uuid=True)), nullable=False, server_default="{}"),
    sa.Column("correlation_id", sa.Text),
    sa.Column("payload", JSONB, nullable=False),
    sa.Index("audit_events_visible_to", "visible_to", postgresql_using="gin"),
    sa.Index("audit_events_occurred_at", sa.text("occurred_at DESC"), "event_id"),
    sa.Index("audit_events_subject_ids", "subject_ids", postgresql_using="gin"),
    sa.Index("audit_events_actor_user", "actor_user_id"),
    sa.Index(
        "audit_events_message_trgm", "message", postgresql_using="gin", postgresql_ops={"message": "gin_trgm_ops"}
    ),
)

# One link per (org, record): an event visible to two orgs is one row in both chains.
audit_chain = sa.Table(
    "audit_chain",
    metadata,
    sa.Column("org_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True),
    sa.Column("event_id", UUID(as_uuid=True), nullable=False),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("prev_hash", BYTEA, nullable=False),
    sa.Column("hash", BYTEA, nullable=False),
    sa.UniqueConstraint("org_id", "event_id", name="audit_chain_once_per_org"),
    # An org's records newest first: its latest page reads a page's worth of entries (audit.queries).
    sa.Index("audit_chain_newest", "org_id", sa.text("occurred_at DESC"), sa.text("event_id DESC")),
)

# The last link of each org's chain; its row lock serializes the appends of that org across replicas.
audit_chain_heads = sa.Table(
    "audit_chain_heads",
    metadata,
    sa.Column("org_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("last_seq", sa.BigInteger, nullable=False),
    sa.Column("last_hash", BYTEA, nullable=False),
)

# Who a member is (from identity's events), to show the actor's email.
audit_members = sa.Table(
    "audit_members",
    metadata,
    sa.Column("member_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("org_id", UUID(as_uuid=True), nullable=False),
    sa.Column("email", sa.Text, nullable=False),
    sa.Index(
        "audit_members_email_trgm", "email", postgresql_using="gin", postgresql_ops={"email": "gin_trgm_ops"}
    ),
)

# The orgs' names, from orgs' events, so a transfer's record names both sides (audit.handlers).
org_directory, org_directory_representatives = add_org_directory_tables(metadata)

outbox, inbox = add_messaging_tables(metadata)
