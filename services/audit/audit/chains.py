"""Appending records to the orgs' hash chains, in the transaction that stores them.

Replicas append concurrently: each locks the heads of the orgs its batch touches (one upsert in
sorted org order, so two batches never wait on each other in a cycle), extends each chain from its
head and moves the head. A batch is still one round trip for the heads, one for the links, one
for the new heads.
"""

import uuid

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import BYTEA, UUID
from sqlalchemy.ext.asyncio import AsyncSession

from audit.db import audit_chain
from audit.domain.chain import GENESIS, link_hash, record_digest
from shared.db import array_params

_LOCK_HEADS = sa.text(
    "INSERT INTO audit_chain_heads (org_id, last_seq, last_hash)"
    " SELECT org_id, 0, :genesis FROM unnest(:orgs) AS org_id ORDER BY org_id"
    " ON CONFLICT (org_id) DO UPDATE SET last_seq = audit_chain_heads.last_seq"
    " RETURNING org_id, last_seq, last_hash"
).bindparams(*array_params(orgs=UUID(as_uuid=True)), sa.bindparam("genesis", type_=BYTEA))

_MOVE_HEADS = sa.text(
    "UPDATE audit_chain_heads AS h SET last_seq = v.last_seq, last_hash = v.last_hash"
    " FROM unnest(:orgs, :seqs, :hashes) AS v(org_id, last_seq, last_hash) WHERE h.org_id = v.org_id"
).bindparams(*array_params(orgs=UUID(as_uuid=True), seqs=sa.BigInteger, hashes=BYTEA))


async def append_to_chains(session: AsyncSession, records: list[dict]) -> None:
    """`records` are rows just inserted into audit_events (as inserted)."""
    orgs = sorted({org for record in records for org in record["visible_to"]})
    if not orgs:
        return
    locked = await session.execute(_LOCK_HEADS, {"orgs": orgs, "genesis": GENESIS})
    heads: dict[uuid.UUID, tuple[int, bytes]] = {row.org_id: (row.last_seq, row.last_hash) for row in locked}
    links = []
    for record in sorted(records, key=lambda r: (r["occurred_at"], r["event_id"])):
        digest = record_digest(record)
        for org_id in sorted(set(record["visible_to"])):
            seq, prev_hash = heads[org_id]
            link = link_hash(prev_hash, org_id, seq + 1, digest)
            links.append({"org_id": org_id, "seq": seq + 1, "event_id": record["event_id"],
                          "occurred_at": record["occurred_at"], "prev_hash": prev_hash, "hash": link})
            heads[org_id] = (seq + 1, link)
    await session.execute(sa.insert(audit_chain), links)
    await session.execute(_MOVE_HEADS, {
        "orgs": list(heads), "seqs": [seq for seq, _ in heads.values()], "hashes": [h for _, h in heads.values()],
    })
