"""The billing service's tables (its own database): plans, subscription licences, their claim
codes and pauses, invoices and their per-org counters, redemption attempts (for throttling), the
org directory copy and idempotency keys."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

from shared.db import add_messaging_tables
from shared.idempotency import add_idempotency_table
from shared.org_directory import add_org_directory_tables

metadata = sa.MetaData()

outbox, inbox = add_messaging_tables(metadata)
idempotency_keys = add_idempotency_table(metadata)
org_directory, org_directory_representatives = add_org_directory_tables(metadata)


def _tables(metadata: sa.MetaData) -> dict[str, sa.Table]:
    """Defined once, for the service and for its migration."""
    plans = sa.Table(
        "plans", metadata,
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("interval_months", sa.Integer, sa.CheckConstraint("interval_months BETWEEN 1 AND 60"),
                  nullable=False),
        sa.Column("unit_price_minor", sa.BigInteger, sa.CheckConstraint("unit_price_minor >= 0"), nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("org_id", "name", name="plan_name_unique_per_org"),
    )
    subscriptions = sa.Table(
        "subscriptions", metadata,
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("seller_org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("plan_id", UUID(as_uuid=True), sa.ForeignKey("plans.id"), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("quantity", sa.Integer, sa.CheckConstraint("quantity > 0"), nullable=False),
        sa.Column("entitlement_id", sa.Text, nullable=False),
        sa.Column("product_id", UUID(as_uuid=True), nullable=False),
        sa.Column("customer_org_id", UUID(as_uuid=True)),
        # The ledger's answer: pending, reserved (out of the holding), rejected (with the reason).
        sa.Column("reservation", sa.Text, nullable=False, server_default="pending"),
        sa.Column("reservation_reason", sa.Text),
        sa.Column("activation_id", UUID(as_uuid=True)),  # the customer's activation, once converted
        sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("resume_on", sa.Date),
        sa.Column("auto_renew", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("period_end", sa.Date, nullable=False),
        sa.Column("billing_status", sa.Text, nullable=False, server_default="none"),  # none, invoiced, paid
        sa.Column("created_by", UUID(as_uuid=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("activated_at", sa.DateTime(timezone=True)),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("reservation IN ('pending', 'reserved', 'rejected')", name="subscription_reservation_known"),
        sa.Index("subscriptions_by_seller", "seller_org_id", "created_at", "id"),
        sa.Index("subscriptions_by_customer", "customer_org_id", "created_at", "id"),
    )
    claim_codes = sa.Table(
        "claim_codes", metadata,
        sa.Column("subscription_id", UUID(as_uuid=True), sa.ForeignKey("subscriptions.id"), primary_key=True),
        sa.Column("code_hash", sa.Text, nullable=False, unique=True),  # HMAC-SHA256 with the server's secret
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        sa.Column("used_by_org_id", UUID(as_uuid=True)),
    )
    pauses = sa.Table(
        "subscription_pauses", metadata,
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("subscription_id", UUID(as_uuid=True), sa.ForeignKey("subscriptions.id"), nullable=False,
                  index=True),
        sa.Column("started_on", sa.Date, nullable=False),
        sa.Column("ended_on", sa.Date),
        sa.Column("resume_on", sa.Date),
    )
    invoices = sa.Table(
        "invoices", metadata,
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("issuer_org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("customer_org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("subscription_id", UUID(as_uuid=True), sa.ForeignKey("subscriptions.id"), nullable=False),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("number", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False, server_default="open"),  # open, paid, void
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("total_minor", sa.BigInteger, nullable=False),
        sa.Column("lines", JSONB, nullable=False),
        sa.Column("issuer_name", sa.Text, nullable=False),
        sa.Column("customer_name", sa.Text, nullable=False),
        sa.Column("pdf", sa.LargeBinary, nullable=False),
        sa.Column("created_by", UUID(as_uuid=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("paid_at", sa.DateTime(timezone=True)),
        sa.Column("voided_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("issuer_org_id", "sequence", name="invoice_number_unique_per_issuer"),
        sa.CheckConstraint("state IN ('open', 'paid', 'void')", name="invoice_state_known"),
        sa.Index("invoices_by_issuer", "issuer_org_id", "created_at", "id"),
        sa.Index("invoices_by_customer", "customer_org_id", "created_at", "id"),
        sa.Index("invoices_by_subscription", "subscription_id", "created_at"),
    )
    # The last number each org gave: locked FOR UPDATE while numbering, so numbers have no gaps.
    invoice_counters = sa.Table(
        "invoice_counters", metadata,
        sa.Column("org_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("last_sequence", sa.Integer, nullable=False, server_default="0"),
    )
    redemption_attempts = sa.Table(
        "redemption_attempts", metadata,
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("client_address", sa.Text),
        sa.Column("outcome", sa.Text, nullable=False),  # redeemed, refused, throttled
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Index("attempts_by_org", "org_id", "attempted_at"),
        sa.Index("attempts_by_address", "client_address", "attempted_at"),
        sa.Index("attempts_by_time", "attempted_at"),
    )
    return dict(plans=plans, subscriptions=subscriptions, claim_codes=claim_codes, pauses=pauses, invoices=invoices,
                invoice_counters=invoice_counters, redemption_attempts=redemption_attempts)


def create_billing_tables(op) -> None:
    """Called from the service's migration: the tables as defined here."""
    own = sa.MetaData()
    _tables(own)
    own.create_all(bind=op.get_bind())


_TABLES = _tables(metadata)
plans = _TABLES["plans"]
subscriptions = _TABLES["subscriptions"]
claim_codes = _TABLES["claim_codes"]
pauses = _TABLES["pauses"]
invoices = _TABLES["invoices"]
invoice_counters = _TABLES["invoice_counters"]
redemption_attempts = _TABLES["redemption_attempts"]
