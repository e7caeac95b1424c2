"""activations can be deactivated: when and by whom

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, no default: adding them rewrites nothing, whatever the size of the table.
    op.add_column("activations", sa.Column("deactivated_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("activations", sa.Column("deactivated_by", sa.UUID(), nullable=True))


def downgrade() -> None:
    op.drop_column("activations", "deactivated_by")
    op.drop_column("activations", "deactivated_at")
