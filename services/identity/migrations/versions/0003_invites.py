"""invites, and the phone a member gave in the invite

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("members", sa.Column("phone", sa.Text))
    op.create_table(
        "invites",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("tier", sa.Text, nullable=False),
        sa.Column("email", sa.Text, nullable=False),
        sa.Column("phone", sa.Text),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("token_hash", sa.Text, nullable=False, unique=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("accepted_at", sa.DateTime(timezone=True)),
        sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.CheckConstraint("email = lower(email)", name="invites_email_lowercase"),
    )
    op.create_index("ix_invites_org_id", "invites", ["org_id"])
    op.create_index("invites_one_pending_per_email", "invites", ["email"], unique=True,
                    postgresql_where=sa.text("accepted_at IS NULL AND NOT deleted"))


def downgrade() -> None:
    op.drop_table("invites")
    op.drop_column("members", "phone")
