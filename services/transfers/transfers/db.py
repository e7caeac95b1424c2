"""The transfers service's tables (its own database): the transfer requests and their outcome,
which double as the transactions log once completed; the org directory copy; idempotency keys."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from shared.db import add_messaging_tables
from shared.idempotency import add_idempotency_table
from shared.org_directory import add_org_directory_tables

metadata = sa.MetaData()

outbox, inbox = add_messaging_tables(metadata)
idempotency_keys = add_idempotency_table(metadata)
org_directory, org_directory_representatives = add_org_directory_tables(metadata)

COMPLETED = sa.text("status = 'completed'")

transfers = sa.Table(
    "transfers",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("from_org_id", UUID(as_uuid=True), nullable=False),
    sa.Column("to_org_id", UUID(as_uuid=True), nullable=False),
    sa.Column("entitlement_id", sa.Text, nullable=False),  # human readable: ENT-2026-000001
    sa.Column("product_id", UUID(as_uuid=True), nullable=False),
    # What the sender asked for; None: all that is available when the ledger applies it.
    sa.Column("quantity_requested", sa.Integer),
    # What the ledger moved and how (transfer: all available; split: a chosen part), on completion.
    sa.Column("quantity", sa.Integer),
    sa.Column("action", sa.Text),
    sa.Column("status", sa.Text, nullable=False, server_default="pending"),  # pending, completed, rejected
    sa.Column("reason_code", sa.Text),
    sa.Column("reason", sa.Text),
    sa.Column("notify_representative", sa.Text),  # the representative's email, or None: nobody told
    sa.Column("cc_emails", ARRAY(sa.Text), nullable=False, server_default="{}"),
    # The destination's representatives when the transfer was asked for (email, names, default,
    # notified), shown with it whatever the directory says later; and the sender's note.
    sa.Column("representatives", JSONB, nullable=False, server_default="[]"),
    sa.Column("note", sa.Text),
    sa.Column("requested_by", UUID(as_uuid=True)),
    sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("completed_at", sa.DateTime(timezone=True)),
    # What the transactions log shows, as the ledger reported it on completion.
    sa.Column("product_name", sa.Text),
    sa.Column("product_description", sa.Text),
    sa.Column("po_number", sa.Text),
    sa.Column("sales_order", sa.Text),
    sa.CheckConstraint("status IN ('pending', 'completed', 'rejected')", name="transfer_status_known"),
    sa.CheckConstraint(
        "status <> 'completed' OR (quantity > 0 AND action IS NOT NULL AND completed_at IS NOT NULL)",
        name="completed_transfer_has_outcome",
    ),
    # The sender's list of its requests, newest first.
    sa.Index("transfers_sent", "from_org_id", "requested_at", "id"),
    # The transactions log: completed transfers of one org, on either side, by date.
    sa.Index("transactions_sent", "from_org_id", "completed_at", "id", postgresql_where=COMPLETED),
    sa.Index("transactions_received", "to_org_id", "completed_at", "id", postgresql_where=COMPLETED),
)
