"""The notify service's tables (its own database): the notifications it owes, and the local copies
of members and organizations it needs to address them."""

import uuid

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from shared.db import add_messaging_tables
from shared.org_directory import add_org_directory_tables

metadata = sa.MetaData()

outbox, inbox = add_messaging_tables(metadata)
org_directory, org_directory_representatives = add_org_directory_tables(metadata)


def add_notify_tables(metadata: sa.MetaData) -> tuple[sa.Table, sa.Table]:
    notifications = sa.Table(
        "notifications",
        metadata,
        sa.Column("id", UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()")),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("recipient", sa.Text, nullable=False),
        sa.Column("cc", ARRAY(sa.Text), nullable=False, server_default="{}"),
        # The orgs whose Admins may see this notification: the recipient's (and, for a transfer, the
        # sender's, which chose the recipients); never another holder's.
        sa.Column("org_ids", ARRAY(UUID(as_uuid=True)), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("template", sa.Text, nullable=False),
        sa.Column("context", JSONB, nullable=False),
        sa.Column("state", sa.Text, nullable=False, server_default="queued"),  # queued, sent, failed
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("last_error", sa.Text),
        # The last attempt could not reach the server (rather than being refused by it): such rows
        # are woken as soon as the server answers again, whatever their backoff.
        sa.Column("server_unreachable", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        # Exactly one email per event and recipient, whatever the redelivery.
        sa.UniqueConstraint("event_id", "recipient", name="notifications_one_per_event_and_recipient"),
        sa.CheckConstraint("state IN ('queued', 'sent', 'failed')", name="notifications_state"),
        sa.Index("notifications_due", "next_attempt_at", postgresql_where=sa.text("state = 'queued'")),
        sa.Index("notifications_org_ids", "org_ids", postgresql_using="gin"),
        sa.Index("notifications_newest", sa.text("created_at DESC"), sa.text("id DESC")),
    )
    members = sa.Table(
        "members",
        metadata,
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("org_id", UUID(as_uuid=True), nullable=False, index=True),
        sa.Column("email", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
    )
    return notifications, members


notifications, members = add_notify_tables(metadata)


def of_org(org_id: uuid.UUID) -> sa.ColumnElement[bool]:
    """The notifications an org's Admins may see."""
    return notifications.c.org_ids.contains([org_id])
