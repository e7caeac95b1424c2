"""Loading many audit records at once with COPY (tests, benchmarks, imports): the rows and, when
asked, their chain links, computed in bulk exactly as the consumer would compute them one batch at
a time. The target orgs' chains must be empty (it starts them)."""

import json
import uuid
from collections.abc import Iterable, Iterator

import asyncpg

from audit.domain.chain import GENESIS, link_hash, record_digest

EVENT_COLUMNS = (
    "event_id", "type", "category", "message", "occurred_at", "producer", "actor_org_id", "actor_user_id",
    "visible_to", "subject_ids", "correlation_id", "payload",
)


async def copy_records(connection: asyncpg.Connection, records: Iterable[dict], *, chained: bool = True) -> None:
    """`records` hold EVENT_COLUMNS (payload as a dict), chained in the order given; an iterator
    is consumed as COPY goes, so a large load need not sit in memory."""
    heads: dict[uuid.UUID, tuple[int, bytes]] = {}
    links: list[tuple] = []

    def rows() -> Iterator[tuple]:
        for record in records:
            if chained:
                digest = record_digest(record)
                for org_id in sorted(set(record["visible_to"])):
                    seq, prev_hash = heads.get(org_id, (0, GENESIS))
                    link = link_hash(prev_hash, org_id, seq + 1, digest)
                    links.append((org_id, seq + 1, record["event_id"], record["occurred_at"], prev_hash, link))
                    heads[org_id] = (seq + 1, link)
            yield tuple(json.dumps(record[c]) if c == "payload" else record[c] for c in EVENT_COLUMNS)

    await connection.copy_records_to_table("audit_events", records=rows(), columns=EVENT_COLUMNS)
    if not chained:
        return
    await connection.copy_records_to_table(
        "audit_chain", records=links, columns=("org_id", "seq", "event_id", "occurred_at", "prev_hash", "hash")
    )
    await connection.copy_records_to_table(
        "audit_chain_heads", records=[(org, seq, h) for org, (seq, h) in heads.items()],
        columns=("org_id", "last_seq", "last_hash"),
    )
