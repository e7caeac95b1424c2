"""member_tokens: access tokens voided by a role change or a removal (shared.auth.member_tokens)

Revision ID: 0003
Revises: 0002
"""

from alembic import op

from shared.auth.member_tokens import create_member_tokens_table

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_member_tokens_table(op)


def downgrade() -> None:
    op.drop_table("member_tokens")
