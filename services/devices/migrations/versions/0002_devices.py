"""licenses, devices, license users, and the copies of products' rules and entitlements' expiry

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from devices.db import devices, entitlement_expirations, license_users, licenses, products
from shared.idempotency import create_idempotency_table
from shared.org_directory import create_org_directory_tables

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_idempotency_table(op)
    create_org_directory_tables(op)
    bind = op.get_bind()
    for table in (products, entitlement_expirations, licenses, license_users, devices):
        table.create(bind)


def downgrade() -> None:
    for name in ("devices", "license_users", "licenses", "entitlement_expirations", "products",
                 "org_directory_representatives", "org_directory", "idempotency_keys"):
        op.drop_table(name)
