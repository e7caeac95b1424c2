"""subscription licences' reservations: quantities out of a holding until assigned or released

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reservations",
        sa.Column("subscription_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("line_id", UUID(as_uuid=True), sa.ForeignKey("entitlement_lines.id"), nullable=False),
        sa.Column("seller_org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("quantity", sa.Integer, sa.CheckConstraint("quantity > 0", name="reservation_quantity_positive"),
                  nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("customer_org_id", UUID(as_uuid=True)),
        sa.Column("activation_id", UUID(as_uuid=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("settled_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("status IN ('reserved', 'converted', 'released')", name="reservation_status_known"),
    )
    # The conservation check sums what is still reserved, per line.
    op.create_index("reservations_reserved", "reservations", ["line_id"],
                    postgresql_where=sa.text("status = 'reserved'"))


def downgrade() -> None:
    op.drop_table("reservations")
