"""The devices service's tables (its own database): the products' device rules and the
entitlements' expiration dates (copies, fed by entitlements' events), the licenses, their
devices and license users; the org directory copy; idempotency keys."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import BYTEA, UUID

from shared.db import add_messaging_tables
from shared.idempotency import add_idempotency_table
from shared.org_directory import add_org_directory_tables

metadata = sa.MetaData()

outbox, inbox = add_messaging_tables(metadata)
idempotency_keys = add_idempotency_table(metadata)
org_directory, org_directory_representatives = add_org_directory_tables(metadata)


def _rule_columns() -> list[sa.Column]:
    return [
        sa.Column("max_license_users", sa.Integer, nullable=False),
        sa.Column("default_user_activation_cap", sa.Integer, nullable=False),
        sa.Column("grace_period_days", sa.Integer, nullable=False),
        sa.Column("virtual_machines_allowed", sa.Boolean, nullable=False),
        sa.Column("offline_allowed", sa.Boolean, nullable=False),
        sa.Column("device_resets_per_30_days", sa.Integer, nullable=False),
    ]


products = sa.Table(
    "products",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("license_type", sa.Text, nullable=False),
    *_rule_columns(),
)

entitlement_expirations = sa.Table(
    "entitlement_expirations",
    metadata,
    sa.Column("entitlement_id", sa.Text, primary_key=True),
    sa.Column("expires_on", sa.Date),
)

licenses = sa.Table(
    "licenses",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("key_digest", BYTEA, nullable=False, unique=True),  # HMAC of the key (devices.domain.keys)
    sa.Column("key_sealed", sa.Text, nullable=False),  # Fernet: for the customer's Admin to read
    sa.Column("key_hint", sa.Text, nullable=False),  # the key's last group
    sa.Column("org_id", UUID(as_uuid=True), nullable=False),  # the end customer
    sa.Column("activation_id", UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column("entitlement_id", sa.Text, nullable=False),
    sa.Column("product_id", UUID(as_uuid=True), nullable=False),
    sa.Column("product_name", sa.Text, nullable=False),
    sa.Column("license_type", sa.Text),
    sa.Column("project_name", sa.Text, nullable=False),
    sa.Column("serial_number", sa.Text),
    sa.Column("max_devices", sa.Integer, nullable=False),
    *_rule_columns(),
    sa.Column("expires_on", sa.Date),
    sa.Column("suspended", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("first_activated_at", sa.DateTime(timezone=True)),
    sa.Index("licenses_of_org", "org_id", "created_at", "id"),
    sa.Index("licenses_of_entitlement", "entitlement_id"),
)

license_users = sa.Table(
    "license_users",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("license_id", UUID(as_uuid=True), sa.ForeignKey("licenses.id"), nullable=False),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("name", sa.Text),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("activation_cap", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Index("one_license_user_per_email", "license_id", sa.func.lower(sa.column("email")), unique=True),
)

devices = sa.Table(
    "devices",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("license_id", UUID(as_uuid=True), sa.ForeignKey("licenses.id"), nullable=False),
    sa.Column("fingerprint_digest", BYTEA, nullable=False),
    sa.Column("name", sa.Text),
    sa.Column("platform", sa.Text),
    sa.Column("hostname", sa.Text),
    sa.Column("virtual_machine", sa.Boolean, nullable=False, server_default=sa.false()),
    # The license user who activated it; removing the user keeps the device's history (and email).
    sa.Column("license_user_id", UUID(as_uuid=True), sa.ForeignKey("license_users.id", ondelete="SET NULL")),
    sa.Column("user_email", sa.Text),
    sa.Column("status", sa.Text, nullable=False, server_default="active"),  # active, reset, deactivated
    sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("last_validated_at", sa.DateTime(timezone=True)),
    sa.Column("released_at", sa.DateTime(timezone=True)),  # reset or deactivated
    sa.CheckConstraint("status IN ('active', 'reset', 'deactivated')", name="device_status_known"),
    sa.CheckConstraint("(status = 'active') = (released_at IS NULL)", name="released_device_has_a_date"),
    # One active device per fingerprint on a license: the validation's lookup.
    sa.Index("active_device_by_fingerprint", "license_id", "fingerprint_digest", unique=True,
             postgresql_where=sa.text("status = 'active'")),
    sa.Index("devices_of_license", "license_id", "activated_at", "id"),
    # The reset budget: the resets of a license in the last 30 days.
    sa.Index("resets_of_license", "license_id", "released_at", postgresql_where=sa.text("status = 'reset'")),
)
