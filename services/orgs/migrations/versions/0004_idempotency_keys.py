"""Idempotency-Key for the POSTs that create distributors, integrators, customers and representatives

Revision ID: 0004
Revises: 0003
"""

from alembic import op

from shared.idempotency import create_idempotency_table

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_idempotency_table(op)


def downgrade() -> None:
    op.drop_table("idempotency_keys")
