"""products, entitlements, holdings, the ledger, activations; the org directory and idempotency keys

A frozen snapshot of db.py at this revision: later changes need a migration of their own.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sa.schema.CreateSequence(sa.Sequence("entitlement_number")))
    op.create_table('entitlements',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('distributor_id', sa.UUID(), nullable=False),
    sa.Column('sales_order', sa.Text(), nullable=False),
    sa.Column('po_number', sa.Text(), nullable=True),
    sa.Column('order_date', sa.Date(), nullable=False),
    sa.Column('expiration_date', sa.Date(), nullable=True),
    sa.Column('status', sa.Text(), server_default='active', nullable=False),
    sa.Column('created_by', sa.UUID(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_entitlements_distributor_id'), 'entitlements', ['distributor_id'], unique=False)
    op.create_table('idempotency_keys',
    sa.Column('scope', sa.Text(), nullable=False),
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('request_hash', sa.Text(), nullable=False),
    sa.Column('status', sa.Integer(), nullable=True),
    sa.Column('body', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('scope', 'key')
    )
    op.create_table('org_directory',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('tier', sa.Text(), nullable=False),
    sa.Column('parent_id', sa.UUID(), nullable=True),
    sa.Column('status', sa.Text(), server_default='active', nullable=False),
    sa.Column('country', sa.Text(), nullable=True),
    sa.Column('email_domain', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('org_directory_children', 'org_directory', ['parent_id'], unique=False)
    op.create_table('org_directory_representatives',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('org_id', sa.UUID(), nullable=False),
    sa.Column('email', sa.Text(), nullable=False),
    sa.Column('first_name', sa.Text(), nullable=True),
    sa.Column('last_name', sa.Text(), nullable=True),
    sa.Column('phone', sa.Text(), nullable=True),
    sa.Column('is_default', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_org_directory_representatives_org_id'), 'org_directory_representatives', ['org_id'], unique=False)
    op.create_table('products',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('license_type', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('deployment_type', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('entitlement_lines',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('entitlement_id', sa.Text(), nullable=False),
    sa.Column('product_id', sa.UUID(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.CheckConstraint('quantity > 0', name='line_quantity_positive'),
    sa.ForeignKeyConstraint(['entitlement_id'], ['entitlements.id'], ),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('entitlement_id', 'product_id', name='one_line_per_product')
    )
    op.create_index(op.f('ix_entitlement_lines_product_id'), 'entitlement_lines', ['product_id'], unique=False)
    op.create_table('expiry_notices',
    sa.Column('entitlement_id', sa.Text(), nullable=False),
    sa.Column('days_before', sa.Integer(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['entitlement_id'], ['entitlements.id'], ),
    sa.PrimaryKeyConstraint('entitlement_id', 'days_before')
    )
    op.create_table('activations',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('org_id', sa.UUID(), nullable=False),
    sa.Column('line_id', sa.UUID(), nullable=False),
    sa.Column('entitlement_id', sa.Text(), nullable=False),
    sa.Column('product_id', sa.UUID(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('project_name', sa.Text(), nullable=False),
    sa.Column('project_manager', sa.Text(), nullable=True),
    sa.Column('serial_number', sa.Text(), nullable=True),
    sa.Column('activated_by', sa.UUID(), nullable=True),
    sa.Column('activated_by_name', sa.Text(), nullable=True),
    sa.Column('status', sa.Text(), server_default='active', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('quantity > 0', name='activation_quantity_positive'),
    sa.ForeignKeyConstraint(['line_id'], ['entitlement_lines.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('activations_by_org', 'activations', ['org_id', 'created_at'], unique=False)
    op.create_table('holdings',
    sa.Column('line_id', sa.UUID(), nullable=False),
    sa.Column('org_id', sa.UUID(), nullable=False),
    sa.Column('available', sa.Integer(), nullable=False),
    sa.Column('received', sa.Integer(), server_default='0', nullable=False),
    sa.Column('transferred', sa.Integer(), server_default='0', nullable=False),
    sa.Column('activated', sa.Integer(), server_default='0', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('available >= 0', name='holding_not_negative'),
    sa.ForeignKeyConstraint(['line_id'], ['entitlement_lines.id'], ),
    sa.PrimaryKeyConstraint('line_id', 'org_id')
    )
    op.create_index('holdings_by_org', 'holdings', ['org_id'], unique=False)
    op.create_table('ledger_entries',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('line_id', sa.UUID(), nullable=False),
    sa.Column('org_id', sa.UUID(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('available_after', sa.Integer(), nullable=False),
    sa.Column('transfer_id', sa.UUID(), nullable=True),
    sa.Column('activation_id', sa.UUID(), nullable=True),
    sa.Column('counterparty_org_id', sa.UUID(), nullable=True),
    sa.Column('actor_user_id', sa.UUID(), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), server_default=sa.text('clock_timestamp()'), nullable=False),
    sa.ForeignKeyConstraint(['line_id'], ['entitlement_lines.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ledger_by_holding', 'ledger_entries', ['line_id', 'org_id', 'occurred_at'], unique=False)
    op.create_index('one_entry_per_transfer_side', 'ledger_entries', ['transfer_id', 'kind'], unique=True, postgresql_where=sa.text('transfer_id IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('one_entry_per_transfer_side', table_name='ledger_entries', postgresql_where=sa.text('transfer_id IS NOT NULL'))
    op.drop_index('ledger_by_holding', table_name='ledger_entries')
    op.drop_table('ledger_entries')
    op.drop_index('holdings_by_org', table_name='holdings')
    op.drop_table('holdings')
    op.drop_index('activations_by_org', table_name='activations')
    op.drop_table('activations')
    op.drop_table('expiry_notices')
    op.drop_index(op.f('ix_entitlement_lines_product_id'), table_name='entitlement_lines')
    op.drop_table('entitlement_lines')
    op.drop_table('products')
    op.drop_index(op.f('ix_org_directory_representatives_org_id'), table_name='org_directory_representatives')
    op.drop_table('org_directory_representatives')
    op.drop_index('org_directory_children', table_name='org_directory')
    op.drop_table('org_directory')
    op.drop_table('idempotency_keys')
    op.drop_index(op.f('ix_entitlements_distributor_id'), table_name='entitlements')
    op.drop_table('entitlements')
    op.execute(sa.schema.DropSequence(sa.Sequence("entitlement_number")))
