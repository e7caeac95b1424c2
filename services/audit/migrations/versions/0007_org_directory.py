"""The org directory (shared.org_directory): orgs' names, so a transfer's record names both sides

Revision ID: 0007
Revises: 0006
"""

from alembic import op

from shared.org_directory import create_org_directory_tables

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    create_org_directory_tables(op)


def downgrade() -> None:
    op.drop_table("org_directory_representatives")
    op.drop_table("org_directory")
