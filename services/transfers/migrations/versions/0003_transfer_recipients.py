"""the destination's representatives as they were when the transfer was asked for, and its note

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Transfers asked for before this revision kept no copy: their detail shows none.
    op.add_column("transfers", sa.Column("representatives", JSONB, nullable=False, server_default="[]"))
    op.add_column("transfers", sa.Column("note", sa.Text))


def downgrade() -> None:
    op.drop_column("transfers", "note")
    op.drop_column("transfers", "representatives")
