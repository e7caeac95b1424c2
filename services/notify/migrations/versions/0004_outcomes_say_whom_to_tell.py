"""the transfer outcome events say whom to tell: the copies of the requests are no longer needed

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("settled_transfers")
    op.drop_table("transfer_requests")


def downgrade() -> None:
    op.create_table(
        "transfer_requests",
        sa.Column("transfer_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("from_org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("to_org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("requested_by", UUID(as_uuid=True)),
        sa.Column("notify_representative", sa.Text),
        sa.Column("cc_emails", ARRAY(sa.Text), nullable=False, server_default="{}"),
    )
    op.create_table("settled_transfers", sa.Column("transfer_id", UUID(as_uuid=True), primary_key=True))
