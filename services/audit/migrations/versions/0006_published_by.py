"""audit_events.published_by: the broker user that published each event, as the broker validated it

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, no default: adding it rewrites nothing, and the records stored before it say nothing.
    op.add_column("audit_events", sa.Column("published_by", sa.Text))


def downgrade() -> None:
    op.drop_column("audit_events", "published_by")
