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
    # CONCURRENTLY: a long chain is indexed while the audit consumer goes on appending to it (a plain
    # CREATE INDEX would hold its inserts for the whole build). It cannot run inside a transaction,
    # and a build that failed half-way leaves an invalid index behind, so that one goes first.
    with op.get_context().autocommit_block():
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS audit_chain_newest")
        op.create_index(
            "audit_chain_newest", "audit_chain", ["org_id", sa.text("occurred_at DESC"), sa.text("event_id DESC")],
            postgresql_concurrently=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index("audit_chain_newest", "audit_chain", postgresql_concurrently=True)
