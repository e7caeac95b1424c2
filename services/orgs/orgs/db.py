"""The orgs service's tables: organizations, their hierarchy and their representatives."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID

from shared.db import add_messaging_tables
from shared.idempotency import add_idempotency_table

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
    # Company fields of integrators and customers (lengths enforced by the API models).
    sa.Column("email_domain", sa.Text),
    sa.Column("address", sa.Text),
    sa.Column("country", sa.Text),
    sa.Column("phone", sa.Text),
    sa.Column("contact_name", sa.Text),
    sa.Column("contact_email", sa.Text),
    sa.Column("tax_id", sa.Text),
    sa.Column("note", sa.Text),
    # At most one vendor: the platform operator, created on first start.
    sa.Index("one_vendor", "tier", unique=True, postgresql_where=sa.text("tier = 'vendor'")),
    sa.Index("organizations_children", "parent_id", "tier", "status", "created_at", "id"),
)

representatives = sa.Table(
    "representatives",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("org_id", UUID(as_uuid=True), sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("first_name", sa.Text),
    sa.Column("last_name", sa.Text),
    sa.Column("phone", sa.Text),
    sa.Column("note", sa.Text),
    sa.Column("is_default", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)
# Emails unique within an org whatever their case; exactly one default is kept by the handlers,
# at most one by the database.
sa.Index("representative_email_per_org", representatives.c.org_id, sa.func.lower(representatives.c.email), unique=True)
sa.Index("one_default_representative", representatives.c.org_id, unique=True, postgresql_where=sa.text("is_default"))

outbox, inbox = add_messaging_tables(metadata)
idempotency_keys = add_idempotency_table(metadata)
