"""The entitlements service's tables (its own database): products, entitlements and their lines,
holdings, the quantity ledger and activations.

Conservation, for every line: sum(holdings.available) + sum(reserved subscription licences'
quantities, entitlements.reservations) + sum(active activations.quantity) ==
entitlement_lines.quantity. Every change of a holding writes a ledger entry in the same
transaction, so each holding is the sum of its entries and `available_after` answers
"who held what on date X".
"""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID

from shared.db import add_messaging_tables
from shared.idempotency import add_idempotency_table
from shared.org_directory import add_org_directory_tables

metadata = sa.MetaData()

outbox, inbox = add_messaging_tables(metadata)
idempotency_keys = add_idempotency_table(metadata)
org_directory, org_directory_representatives = add_org_directory_tables(metadata)

products = sa.Table(
    "products",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("license_type", sa.Text, nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("deployment_type", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    # The device rules (shared.events.entitlements.DeviceRules), for the licenses made from the product.
    sa.Column("max_license_users", sa.Integer, nullable=False, server_default="5"),
    sa.Column("default_user_activation_cap", sa.Integer, nullable=False, server_default="1"),
    sa.Column("grace_period_days", sa.Integer, nullable=False, server_default="14"),
    sa.Column("virtual_machines_allowed", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("offline_allowed", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("device_resets_per_30_days", sa.Integer, nullable=False, server_default="3"),
)

entitlement_number = sa.Sequence("entitlement_number", metadata=metadata)

entitlements = sa.Table(
    "entitlements",
    metadata,
    # Human readable (ENT-2026-000042): the id users see and quote, on every tier.
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("distributor_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("sales_order", sa.Text, nullable=False),
    sa.Column("po_number", sa.Text),
    sa.Column("order_date", sa.Date, nullable=False),
    sa.Column("expiration_date", sa.Date),
    # active, suspended, expired. Expiry also applies by date alone, before the sweeper marks it.
    sa.Column("status", sa.Text, nullable=False, server_default="active"),
    sa.Column("created_by", UUID(as_uuid=True)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

entitlement_lines = sa.Table(
    "entitlement_lines",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("entitlement_id", sa.Text, sa.ForeignKey("entitlements.id"), nullable=False),
    sa.Column("product_id", UUID(as_uuid=True), sa.ForeignKey("products.id"), nullable=False, index=True),
    sa.Column("quantity", sa.Integer, sa.CheckConstraint("quantity > 0", name="line_quantity_positive"), nullable=False),
    sa.UniqueConstraint("entitlement_id", "product_id", name="one_line_per_product"),
)

holdings = sa.Table(
    "holdings",
    metadata,
    sa.Column("line_id", UUID(as_uuid=True), sa.ForeignKey("entitlement_lines.id"), primary_key=True),
    sa.Column("org_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("available", sa.Integer, sa.CheckConstraint("available >= 0", name="holding_not_negative"), nullable=False),
    # Running totals for the licensing overview: received (issued or transferred in), passed on, activated.
    sa.Column("received", sa.Integer, nullable=False, server_default="0"),
    sa.Column("transferred", sa.Integer, nullable=False, server_default="0"),
    sa.Column("activated", sa.Integer, nullable=False, server_default="0"),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Index("holdings_by_org", "org_id"),
)

ledger_entries = sa.Table(
    "ledger_entries",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("line_id", UUID(as_uuid=True), sa.ForeignKey("entitlement_lines.id"), nullable=False),
    sa.Column("org_id", UUID(as_uuid=True), nullable=False),
    # issue, transfer_out, transfer_in, activation (and *_reversal); reservation, reservation_release
    # (a subscription licence's quantity out of and back into the seller's holding), subscription_in
    # (a subscription licence become the customer's: its activation entry follows).
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),  # signed change of the org's available quantity
    sa.Column("available_after", sa.Integer, nullable=False),
    sa.Column("transfer_id", UUID(as_uuid=True)),
    sa.Column("activation_id", UUID(as_uuid=True)),
    sa.Column("counterparty_org_id", UUID(as_uuid=True)),
    sa.Column("actor_user_id", UUID(as_uuid=True)),
    sa.Column("subscription_id", UUID(as_uuid=True)),  # the subscription licence of a reservation's entries
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.clock_timestamp()),
    sa.Index("ledger_by_holding", "line_id", "org_id", "occurred_at"),
    # A transfer writes exactly one entry per side, whatever the redelivery.
    sa.Index("one_entry_per_transfer_side", "transfer_id", "kind", unique=True,
             postgresql_where=sa.text("transfer_id IS NOT NULL")),
)

activations = sa.Table(
    "activations",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("org_id", UUID(as_uuid=True), nullable=False),
    sa.Column("line_id", UUID(as_uuid=True), sa.ForeignKey("entitlement_lines.id"), nullable=False),
    sa.Column("entitlement_id", sa.Text, nullable=False),
    sa.Column("product_id", UUID(as_uuid=True), nullable=False),
    sa.Column("quantity", sa.Integer, sa.CheckConstraint("quantity > 0", name="activation_quantity_positive"),
              nullable=False),
    sa.Column("project_name", sa.Text, nullable=False),
    sa.Column("project_manager", sa.Text),
    sa.Column("serial_number", sa.Text),
    sa.Column("activated_by", UUID(as_uuid=True)),
    sa.Column("activated_by_name", sa.Text),
    # active, or deactivated: its licenses went back to the org's holding (an activation_reversal entry).
    sa.Column("status", sa.Text, nullable=False, server_default="active"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("deactivated_at", sa.DateTime(timezone=True)),
    sa.Column("deactivated_by", UUID(as_uuid=True)),
    sa.Index("activations_by_org", "org_id", "created_at"),
)

# One "expiring soon" event per entitlement and threshold (30, 7, 1 days), whatever the replicas.
expiry_notices = sa.Table(
    "expiry_notices",
    metadata,
    sa.Column("entitlement_id", sa.Text, sa.ForeignKey("entitlements.id"), primary_key=True),
    sa.Column("days_before", sa.Integer, primary_key=True),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)
