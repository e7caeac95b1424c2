"""products carry the device rules of the licenses made from them

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# Constant defaults: PostgreSQL adds such columns without rewriting the table.
RULES = (
    ("max_license_users", sa.Integer, "5"),
    ("default_user_activation_cap", sa.Integer, "1"),
    ("grace_period_days", sa.Integer, "14"),
    ("virtual_machines_allowed", sa.Boolean, sa.true()),
    ("offline_allowed", sa.Boolean, sa.true()),
    ("device_resets_per_30_days", sa.Integer, "3"),
)


def upgrade() -> None:
    for name, kind, default in RULES:
        op.add_column("products", sa.Column(name, kind, nullable=False, server_default=default))


def downgrade() -> None:
    for name, _, _ in RULES:
        op.drop_column("products", name)
