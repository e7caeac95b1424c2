"""token versions (a role change or removal voids older access tokens), one active member per
email (a removed member may be invited again), invites per organization, and the orgs read model

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from shared.org_directory import create_org_directory_tables

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("members", sa.Column("token_version", sa.Integer, nullable=False, server_default="0"))
    op.drop_constraint("members_email_key", "members", type_="unique")
    op.create_index("members_one_active_per_email", "members", ["email"], unique=True,
                    postgresql_where=sa.text("status = 'active'"))
    op.create_index("members_by_email", "members", ["email"])
    op.add_column("invites", sa.Column("withdrawn_at", sa.DateTime(timezone=True)))
    op.drop_index("invites_one_pending_per_email", table_name="invites")
    op.create_index("invites_one_pending_per_org_and_email", "invites", ["org_id", "email"], unique=True,
                    postgresql_where=sa.text("accepted_at IS NULL AND withdrawn_at IS NULL AND NOT deleted"))
    op.create_index("invites_by_email", "invites", ["email"])
    create_org_directory_tables(op)


def downgrade() -> None:
    op.drop_table("org_directory_representatives")
    op.drop_table("org_directory")
    op.drop_index("invites_by_email", table_name="invites")
    op.drop_index("invites_one_pending_per_org_and_email", table_name="invites")
    op.drop_column("invites", "withdrawn_at")
    op.create_index("invites_one_pending_per_email", "invites", ["email"], unique=True,
                    postgresql_where=sa.text("accepted_at IS NULL AND NOT deleted"))
    op.drop_index("members_by_email", table_name="members")
    op.drop_index("members_one_active_per_email", table_name="members")
    op.create_unique_constraint("members_email_key", "members", ["email"])
    op.drop_column("members", "token_version")
