"""The identity service's tables (its own database)."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID

from shared.db import add_messaging_tables
from shared.idempotency import add_idempotency_table
from shared.org_directory import add_org_directory_tables

metadata = sa.MetaData()

outbox, inbox = add_messaging_tables(metadata)

signing_keys = sa.Table(
    "signing_keys",
    metadata,
    sa.Column("kid", sa.Text, primary_key=True),
    sa.Column("private_pem", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("active", sa.Boolean, nullable=False),
    # At most one active (signing) key: concurrent replicas starting at once create only one.
    sa.Index("signing_keys_one_active", "active", unique=True, postgresql_where=sa.text("active")),
)

members = sa.Table(
    "members",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("org_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("tier", sa.Text, nullable=False),
    sa.Column("email", sa.Text, nullable=False),  # stored lowercased
    sa.Column("first_name", sa.Text, nullable=False),
    sa.Column("last_name", sa.Text, nullable=False),
    sa.Column("phone", sa.Text),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    # Raised when the role changes: access tokens carry it, and older ones are void (shared.auth.member_tokens).
    sa.Column("token_version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint("email = lower(email)", name="members_email_lowercase"),
    sa.Index("members_by_email", "email"),
    # One person, one organization; a removed member's row stays, and the email may join again.
    sa.Index("members_one_active_per_email", "email", unique=True, postgresql_where=sa.text("status = 'active'")),
)

refresh_tokens = sa.Table(
    "refresh_tokens",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("family_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("member_id", UUID(as_uuid=True), sa.ForeignKey("members.id", ondelete="CASCADE"), nullable=False),
    sa.Column("token_hash", sa.Text, nullable=False, unique=True),  # sha256 hex; the token itself is never stored
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("used_at", sa.DateTime(timezone=True)),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
)

invites = sa.Table(
    "invites",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("org_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("tier", sa.Text, nullable=False),
    sa.Column("email", sa.Text, nullable=False),  # stored lowercased
    sa.Column("phone", sa.Text),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("token_hash", sa.Text, nullable=False, unique=True),  # sha256 hex; the token itself is never stored
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("accepted_at", sa.DateTime(timezone=True)),
    sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
    # The email joined another organization: this link says so.
    sa.Column("withdrawn_at", sa.DateTime(timezone=True)),
    sa.CheckConstraint("email = lower(email)", name="invites_email_lowercase"),
    sa.Index("invites_by_email", "email"),
    # Invites are per organization: any number of orgs may invite one email, each at most once at a time.
    sa.Index("invites_one_pending_per_org_and_email", "org_id", "email", unique=True,
             postgresql_where=sa.text("accepted_at IS NULL AND withdrawn_at IS NULL AND NOT deleted")),
)

# Sign-in attempts counted against an account (email) and a client address, in the database so
# that every replica sees the same counts. A row is written before the password is checked and
# kept when the check fails; a successful sign-in deletes its own rows and its account's.
sign_in_attempts = sa.Table(
    "sign_in_attempts",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),  # "account" or "address"
    sa.Column("subject", sa.Text, nullable=False),  # the lowercased email, or the client address
    sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("sign_in_attempts_by_subject", "kind", "subject", "attempted_at"),
    sa.Index("sign_in_attempts_by_age", "attempted_at"),
)

idempotency_keys = add_idempotency_table(metadata)

# The organizations as the orgs events describe them: an archived one invites no one.
org_directory, org_directory_representatives = add_org_directory_tables(metadata)
