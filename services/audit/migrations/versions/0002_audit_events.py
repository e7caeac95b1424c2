"""audit events: one row per event

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
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
    )
    op.create_index("audit_events_visible_to", "audit_events", ["visible_to"], postgresql_using="gin")
    op.create_index("audit_events_occurred_at", "audit_events", [sa.text("occurred_at DESC"), "event_id"])


def downgrade() -> None:
    op.drop_table("audit_events")
