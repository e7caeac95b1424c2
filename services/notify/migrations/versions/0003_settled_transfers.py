"""the transfers whose outcome came before their request

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
    op.create_table(
        "settled_transfers",
        sa.Column("transfer_id", UUID(as_uuid=True), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("settled_transfers")
