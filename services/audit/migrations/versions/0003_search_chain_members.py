"""audit search (trigram, subjects), per-org hash chains, the members read model

Revision ID: 0003
Revises: 0002
"""

import json

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, BYTEA, UUID

from audit.domain.chain import GENESIS, link_hash, record_digest
from audit.domain.subjects import stored_payload, subject_ids

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.add_column(
        "audit_events",
        sa.Column("subject_ids", ARRAY(UUID(as_uuid=True)), nullable=False, server_default="{}"),
    )
    op.create_index("audit_events_subject_ids", "audit_events", ["subject_ids"], postgresql_using="gin")
    op.create_index("audit_events_actor_user", "audit_events", ["actor_user_id"])
    op.create_index(
        "audit_events_message_trgm", "audit_events", ["message"],
        postgresql_using="gin", postgresql_ops={"message": "gin_trgm_ops"},
    )
    op.create_table(
        "audit_chain",
        sa.Column("org_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prev_hash", BYTEA, nullable=False),
        sa.Column("hash", BYTEA, nullable=False),
        sa.UniqueConstraint("org_id", "event_id", name="audit_chain_once_per_org"),
    )
    op.create_table(
        "audit_chain_heads",
        sa.Column("org_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("last_seq", sa.BigInteger, nullable=False),
        sa.Column("last_hash", BYTEA, nullable=False),
    )
    op.create_table(
        "audit_members",
        sa.Column("member_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("email", sa.Text, nullable=False),
    )
    op.create_index(
        "audit_members_email_trgm", "audit_members", ["email"],
        postgresql_using="gin", postgresql_ops={"email": "gin_trgm_ops"},
    )
    _chain_existing_records()


def _chain_existing_records() -> None:
    """Records stored before this revision get their subjects, lose any secret the payload carried,
    and are chained in the order they were stored, so `verify` holds for them too."""
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT * FROM audit_events ORDER BY recorded_at, event_id")).mappings().all()
    heads: dict = {}
    for row in rows:
        record = dict(row)
        record["payload"] = stored_payload(record["type"], record["payload"])
        record["subject_ids"] = subject_ids(record["payload"], record["actor_org_id"], record["actor_user_id"])
        bind.execute(
            sa.text("UPDATE audit_events SET payload = CAST(:payload AS jsonb), subject_ids = :subjects"
                    " WHERE event_id = :event_id").bindparams(sa.bindparam("subjects", type_=ARRAY(UUID(as_uuid=True)))),
            {"payload": json.dumps(record["payload"]), "subjects": record["subject_ids"], "event_id": record["event_id"]},
        )
        digest = record_digest(record)
        for org_id in sorted(set(record["visible_to"])):
            seq, prev_hash = heads.get(org_id, (0, GENESIS))
            link = link_hash(prev_hash, org_id, seq + 1, digest)
            bind.execute(
                sa.text("INSERT INTO audit_chain VALUES (:org_id, :seq, :event_id, :occurred_at, :prev_hash, :hash)"),
                {"org_id": org_id, "seq": seq + 1, "event_id": record["event_id"],
                 "occurred_at": record["occurred_at"], "prev_hash": prev_hash, "hash": link},
            )
            heads[org_id] = (seq + 1, link)
    for org_id, (seq, last_hash) in heads.items():
        bind.execute(sa.text("INSERT INTO audit_chain_heads VALUES (:org_id, :seq, :hash)"),
                     {"org_id": org_id, "seq": seq, "hash": last_hash})


def downgrade() -> None:
    op.drop_table("audit_members")
    op.drop_table("audit_chain_heads")
    op.drop_table("audit_chain")
    op.drop_index("audit_events_message_trgm", "audit_events")
    op.drop_index("audit_events_actor_user", "audit_events")
    op.drop_index("audit_events_subject_ids", "audit_events")
    op.drop_column("audit_events", "subject_ids")
