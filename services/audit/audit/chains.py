"""Appending records to the orgs' hash chains, in the transaction that stores them.

Replicas append concurrently: each locks the heads of the orgs its batch touches (one upsert in
sorted org order, so two batches never wait on each other in a cycle), extends each chain from its
head and moves the head. A batch is still one round trip for the heads, one for the links, one
for the new heads.
"""

import uuid

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import BYTEA, UUID
from audit.db import audit_chain
from audit.domain.chain import GENESIS, link_hash, record_digest
from shared.db import DriverStatement, UnitOfWork, array_params

_LOCK_HEADS = DriverStatement(sa.text(
    "INSERT INTO audit_chain_heads (org_id, last_seq, last_hash)"
    " SELECT org_id, 0, :genesis FROM unnest(:orgs) AS org_id ORDER BY org_id"
    " ON CONFLICT (org_id) DO UPDATE SET last_seq = audit_chain_heads.last_seq"
    " RETURNING org_id, last_seq, last_hash"
).bindparams(*array_params(orgs=UUID(as_uuid=True)), sa.bindparam("genesis", type_=BYTEA)))

# The links of a batch, one column per array.
_LINK_COLUMNS = ("org_id", "seq", "event_id", "occurred_at", "prev_hash", "hash")
_ADD_LINKS = DriverStatement(sa.insert(audit_chain).from_select(
    _LINK_COLUMNS,
    sa.select(sa.text("*")).select_from(sa.func.unnest(*array_params(**{
        name: audit_chain.c[name].type for name in _LINK_COLUMNS})).alias("link")),
))

_MOVE_HEADS = DriverStatement(sa.text(
    "UPDATE audit_chain_heads AS h SET last_seq = v.last_seq, last_hash = v.last_hash"
    " FROM unnest(:orgs, :seqs, :hashes) AS v(org_id, last_seq, last_hash) WHERE h.org_id = v.org_id"
).bindparams(*array_params(orgs=UUID(as_uuid=True), seqs=sa.BigInteger, hashes=BYTEA)))


async def append_to_chains(uow: UnitOfWork, records: list[dict]) -> None:
    """`records` are rows just inserted into audit_events (as inserted)."""
    orgs = sorted({org for record in records for org in record["visible_to"]})
    if not orgs:
        return
    locked = await uow.fetch(_LOCK_HEADS, {"orgs": orgs, "genesis": GENESIS})
    heads: dict[uuid.UUID, tuple[int, bytes]] = {row.org_id: (row.last_seq, row.last_hash) for row in locked}
    links: dict[str, list] = {name: [] for name in _LINK_COLUMNS}
    for record in sorted(records, key=lambda r: (r["occurred_at"], r["event_id"])):
        digest = record_digest(record)
        for org_id in sorted(set(record["visible_to"])):
            seq, prev_hash = heads[org_id]
            link = link_hash(prev_hash, org_id, seq + 1, digest)
            for name, value in zip(_LINK_COLUMNS, (org_id, seq + 1, record["event_id"], record["occurred_at"],
                                                   prev_hash, link), strict=True):
                links[name].append(value)
            heads[org_id] = (seq + 1, link)
    await uow.execute(_ADD_LINKS, links)
    await uow.execute(_MOVE_HEADS, {
        "orgs": list(heads), "seqs": [seq for seq, _ in heads.values()], "hashes": [h for _, h in heads.values()],
    })
