"""member_tokens: access tokens voided by a role change or a removal (shared.auth.member_tokens)

Revision ID: 0005
Revises: 0004
"""

from alembic import op

from shared.auth.member_tokens import create_member_tokens_table

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_member_tokens_table(op)


def downgrade() -> None:
    op.drop_table("member_tokens")
