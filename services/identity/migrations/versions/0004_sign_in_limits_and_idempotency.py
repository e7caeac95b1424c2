"""sign-in attempts (failed sign-ins slowed per account and address), Idempotency-Key for invites

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from shared.idempotency import create_idempotency_table

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_attempts",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("sign_in_attempts_by_subject", "sign_in_attempts", ["kind", "subject", "attempted_at"])
    op.create_index("sign_in_attempts_by_age", "sign_in_attempts", ["attempted_at"])
    create_idempotency_table(op)


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_table("sign_in_attempts")
