"""subscription licences in the ledger's history and totals: entries carry their subscription id;
a customer's holding counts what it received as subscription licences; reservations found by
seller and by activation

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, no default: adding it rewrites nothing, whatever the size of the table.
    op.add_column("ledger_entries", sa.Column("subscription_id", sa.UUID(), nullable=True))
    # 0004 creates the reservations table from its current definition, indexes included: a
    # database created from scratch has them already.
    op.create_index("reservations_by_seller", "reservations", ["seller_org_id", "line_id"], if_not_exists=True)
    op.create_index("reservations_by_activation", "reservations", ["activation_id"], if_not_exists=True,
                    postgresql_where=sa.text("activation_id IS NOT NULL"))
    # Subscription licences converted before: the customer received them (received == available
    # + transferred + activated again for its holding).
    op.execute(
        "UPDATE holdings h SET received = h.received + c.quantity"
        " FROM (SELECT line_id, customer_org_id, sum(quantity) AS quantity FROM reservations"
        "       WHERE status = 'converted' GROUP BY line_id, customer_org_id) c"
        " WHERE h.line_id = c.line_id AND h.org_id = c.customer_org_id"
        "   AND h.received < h.available + h.transferred + h.activated"
    )


def downgrade() -> None:
    op.drop_index("reservations_by_activation", table_name="reservations")
    op.drop_index("reservations_by_seller", table_name="reservations")
    op.drop_column("ledger_entries", "subscription_id")
