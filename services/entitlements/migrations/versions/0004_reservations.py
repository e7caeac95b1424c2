"""subscription licences' reservations: quantities out of a holding until assigned or released

Revision ID: 0004
Revises: 0003
"""

from alembic import op

from entitlements.db import metadata
from entitlements.reservations import reservations

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    metadata.create_all(bind=op.get_bind(), tables=[reservations])


def downgrade() -> None:
    op.drop_table("reservations")
