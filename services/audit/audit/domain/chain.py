"""The tamper-evident chain of an org's audit records (pure).

Each org's records are linked in the order they were stored: link `seq` of org O holds
`hash = sha256(prev_hash || O || seq || digest(record))`, where `digest` covers every stored
field of the record. Changing, removing or inserting a record, or a link, breaks the chain at that
point. (Someone who can rewrite the whole tail and the head can hide it: record the head hash that
`verify` answers somewhere else to anchor it.)
"""

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

GENESIS = bytes(32)  # the prev_hash of each org's first link


def record_digest(record: Mapping) -> bytes:
    """sha256 of a canonical JSON form of the record's stored fields (independent of key order)."""
    canonical = {
        "event_id": str(record["event_id"]),
        "type": record["type"],
        "category": record["category"],
        "message": record["message"],
        "occurred_at": _utc(record["occurred_at"]),
        "producer": record["producer"],
        "actor_org_id": _optional_id(record["actor_org_id"]),
        "actor_user_id": _optional_id(record["actor_user_id"]),
        "visible_to": sorted(str(org) for org in record["visible_to"]),
        "subject_ids": sorted(str(subject) for subject in record["subject_ids"]),
        "correlation_id": record["correlation_id"],
        "payload": record["payload"],
    }
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).digest()


def link_hash(prev_hash: bytes, org_id: uuid.UUID, seq: int, digest: bytes) -> bytes:
    return hashlib.sha256(prev_hash + org_id.bytes + seq.to_bytes(8, "big") + digest).digest()


@dataclass(frozen=True)
class ChainLink:
    """One stored link with the record it points to (None when that record is gone)."""

    seq: int
    event_id: uuid.UUID
    occurred_at: datetime
    prev_hash: bytes
    hash: bytes
    record: Mapping | None


@dataclass(frozen=True)
class ChainBreak:
    seq: int | None
    event_id: uuid.UUID | None
    occurred_at: datetime | None
    reason: str


class ChainCheck:
    """Walks one org's links in `seq` order and stops at the first that does not hold."""

    def __init__(self, org_id: uuid.UUID):
        self.org_id = org_id
        self.checked = 0
        self.first_broken: ChainBreak | None = None
        self._prev_hash = GENESIS
        self._next_seq = 1

    def add(self, link: ChainLink) -> bool:
        """Checks the next link; False once the chain is broken (later links prove nothing)."""
        if self.first_broken is not None:
            return False
        if link.seq != self._next_seq:
            return self._broken(ChainBreak(self._next_seq, None, None, "a record is missing from the chain here"))
        self.checked += 1
        if link.prev_hash != self._prev_hash:
            return self._broken(self._at(link, "the link does not follow the previous record"))
        if link.record is None:
            return self._broken(self._at(link, "the record was deleted"))
        if link_hash(self._prev_hash, self.org_id, link.seq, record_digest(link.record)) != link.hash:
            return self._broken(self._at(link, "the record was altered"))
        self._prev_hash, self._next_seq = link.hash, link.seq + 1
        return True

    def finish(self, head_seq: int, head_hash: bytes) -> None:
        """Compares the end of the walk with the head the writers keep (catches a removed tail)."""
        if self.first_broken is None and (head_seq, head_hash) != (self._next_seq - 1, self._prev_hash):
            self._broken(ChainBreak(self._next_seq, None, None, "records are missing at the end of the chain"))

    def unchained(self, event_id: uuid.UUID, occurred_at: datetime) -> None:
        """A record the org can see that no link covers: inserted behind the chain's back."""
        if self.first_broken is None:
            self._broken(ChainBreak(None, event_id, occurred_at, "the record is not in the chain"))

    @property
    def intact(self) -> bool:
        return self.first_broken is None

    @property
    def head_hash(self) -> bytes:
        return self._prev_hash

    def _at(self, link: ChainLink, reason: str) -> ChainBreak:
        return ChainBreak(link.seq, link.event_id, link.occurred_at, reason)

    def _broken(self, where: ChainBreak) -> bool:
        self.first_broken = where
        return False


def _utc(moment: datetime) -> str:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _optional_id(value: uuid.UUID | str | None) -> str | None:
    return None if value is None else str(value)
