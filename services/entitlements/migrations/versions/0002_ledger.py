"""products, entitlements, holdings, the ledger, activations; the org directory and idempotency keys

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from entitlements.db import (
    activations,
    entitlement_lines,
    entitlement_number,
    entitlements,
    expiry_notices,
    holdings,
    idempotency_keys,
    ledger_entries,
    metadata,
    org_directory,
    org_directory_representatives,
    products,
)

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = [
    products, entitlements, entitlement_lines, holdings, ledger_entries, activations, expiry_notices,
    org_directory, org_directory_representatives, idempotency_keys,
]


def upgrade() -> None:
    bind = op.get_bind()
    entitlement_number.create(bind)
    metadata.create_all(bind=bind, tables=TABLES)


def downgrade() -> None:
    bind = op.get_bind()
    metadata.drop_all(bind=bind, tables=TABLES)
    entitlement_number.drop(bind)
