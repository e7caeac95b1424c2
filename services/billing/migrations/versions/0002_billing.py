"""plans, subscription licences, claim codes, pauses, invoices; the org directory and idempotency keys

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from billing.db import create_billing_tables
from shared.idempotency import create_idempotency_table
from shared.org_directory import create_org_directory_tables

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_org_directory_tables(op)
    create_idempotency_table(op)
    create_billing_tables(op)


def downgrade() -> None:
    for table in ("redemption_attempts", "invoice_counters", "invoices", "subscription_pauses", "claim_codes",
                  "subscriptions", "plans", "idempotency_keys"):
        op.drop_table(table)
