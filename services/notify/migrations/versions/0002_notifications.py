"""notifications, and the local copies of members, transfer requests and organizations

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from shared.org_directory import create_org_directory_tables

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()")),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("recipient", sa.Text, nullable=False),
        sa.Column("cc", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("org_ids", ARRAY(UUID(as_uuid=True)), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("template", sa.Text, nullable=False),
        sa.Column("context", JSONB, nullable=False),
        sa.Column("state", sa.Text, nullable=False, server_default="queued"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("last_error", sa.Text),
        sa.Column("server_unreachable", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("event_id", "recipient", name="notifications_one_per_event_and_recipient"),
        sa.CheckConstraint("state IN ('queued', 'sent', 'failed')", name="notifications_state"),
    )
    op.create_index(
        "notifications_due", "notifications", ["next_attempt_at"], postgresql_where=sa.text("state = 'queued'")
    )
    op.create_index("notifications_org_ids", "notifications", ["org_ids"], postgresql_using="gin")
    op.create_index("notifications_newest", "notifications", [sa.text("created_at DESC"), sa.text("id DESC")])
    op.create_table(
        "members",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("email", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
    )
    op.create_index("ix_members_org_id", "members", ["org_id"])
    op.create_table(
        "transfer_requests",
        sa.Column("transfer_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("from_org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("to_org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("requested_by", UUID(as_uuid=True)),
        sa.Column("notify_representative", sa.Text),
        sa.Column("cc_emails", ARRAY(sa.Text), nullable=False, server_default="{}"),
    )
    create_org_directory_tables(op)


def downgrade() -> None:
    for table in ("transfer_requests", "members", "notifications", "org_directory_representatives", "org_directory"):
        op.drop_table(table)
