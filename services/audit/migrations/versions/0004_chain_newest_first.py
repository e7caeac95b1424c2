"""an org's records newest first, from its chain

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "audit_chain_newest", "audit_chain", ["org_id", sa.text("occurred_at DESC"), sa.text("event_id DESC")]
    )


def downgrade() -> None:
    op.drop_index("audit_chain_newest", "audit_chain")
