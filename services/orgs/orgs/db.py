"""The orgs service's tables: organizations and their hierarchy."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID

from shared.db import add_messaging_tables

metadata = sa.MetaData()

organizations = sa.Table(
    "organizations",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("tier", sa.Text, nullable=False),
    sa.Column("parent_id", UUID(as_uuid=True), sa.ForeignKey("organizations.id")),
    sa.Column("status", sa.Text, nullable=False, server_default="active"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    # At most one vendor: the platform operator, created on first start.
    sa.Index("one_vendor", "tier", unique=True, postgresql_where=sa.text("tier = 'vendor'")),
)

outbox, inbox = add_messaging_tables(metadata)
