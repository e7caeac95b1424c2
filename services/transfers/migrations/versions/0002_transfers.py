"""transfer requests and the transactions log; the org directory and idempotency keys

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from shared.idempotency import create_idempotency_table
from shared.org_directory import create_org_directory_tables

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COMPLETED = sa.text("status = 'completed'")


def upgrade() -> None:
    create_org_directory_tables(op)
    create_idempotency_table(op)
    op.create_table(
        "transfers",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("from_org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("to_org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("entitlement_id", sa.Text, nullable=False),
        sa.Column("product_id", UUID(as_uuid=True), nullable=False),
        sa.Column("quantity_requested", sa.Integer),
        sa.Column("quantity", sa.Integer),
        sa.Column("action", sa.Text),
        sa.Column("status", sa.Text, nullable=False, server_default="pending"),
        sa.Column("reason_code", sa.Text),
        sa.Column("reason", sa.Text),
        sa.Column("notify_representative", sa.Text),
        sa.Column("cc_emails", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("requested_by", UUID(as_uuid=True)),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
        sa.Column("product_name", sa.Text),
        sa.Column("product_description", sa.Text),
        sa.Column("po_number", sa.Text),
        sa.Column("sales_order", sa.Text),
        sa.CheckConstraint("status IN ('pending', 'completed', 'rejected')", name="transfer_status_known"),
        sa.CheckConstraint(
            "status <> 'completed' OR (quantity > 0 AND action IS NOT NULL AND completed_at IS NOT NULL)",
            name="completed_transfer_has_outcome",
        ),
    )
    op.create_index("transfers_sent", "transfers", ["from_org_id", "requested_at", "id"])
    op.create_index(
        "transactions_sent", "transfers", ["from_org_id", "completed_at", "id"], postgresql_where=COMPLETED
    )
    op.create_index(
        "transactions_received", "transfers", ["to_org_id", "completed_at", "id"], postgresql_where=COMPLETED
    )


def downgrade() -> None:
    op.drop_table("transfers")
    op.drop_table("idempotency_keys")
    op.drop_table("org_directory_representatives")
    op.drop_table("org_directory")
