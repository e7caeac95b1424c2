"""company fields on organizations, and their representatives

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COMPANY_FIELDS = ("email_domain", "address", "country", "phone", "contact_name", "contact_email", "tax_id", "note")


def upgrade() -> None:
    for field in COMPANY_FIELDS:
        op.add_column("organizations", sa.Column(field, sa.Text))
    op.create_index("organizations_children", "organizations", ["parent_id", "tier", "status", "created_at", "id"])
    op.create_table(
        "representatives",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("org_id", UUID(as_uuid=True), sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("email", sa.Text, nullable=False),
        sa.Column("first_name", sa.Text),
        sa.Column("last_name", sa.Text),
        sa.Column("phone", sa.Text),
        sa.Column("note", sa.Text),
        sa.Column("is_default", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("representative_email_per_org", "representatives", ["org_id", sa.text("lower(email)")], unique=True)
    op.create_index(
        "one_default_representative", "representatives", ["org_id"], unique=True, postgresql_where=sa.text("is_default")
    )


def downgrade() -> None:
    op.drop_table("representatives")
    op.drop_index("organizations_children", table_name="organizations")
    for field in COMPANY_FIELDS:
        op.drop_column("organizations", field)
