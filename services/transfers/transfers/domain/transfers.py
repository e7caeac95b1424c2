"""Pure rules of a transfer request: the command, the checks on its input, and who is told
when it completes (no I/O)."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

MAX_QUANTITY = 1_000_000_000
MAX_CC_EMAILS = 10
MAX_NOTE_LENGTH = 2000

@dataclass(frozen=True)
class RequestTransfer:
    """Move licenses of one entitlement line to a child org; `quantity` None: all available."""

    transfer_id: uuid.UUID
    from_org_id: uuid.UUID
    to_org_id: uuid.UUID
    entitlement_id: str
    product_id: uuid.UUID
    quantity: int | None
    requested_by: uuid.UUID
    notify_representative: bool
    representative_id: uuid.UUID | None
    cc_emails: tuple[str, ...]
    note: str | None = None


@dataclass(frozen=True)
class Representative:
    id: uuid.UUID
    email: str
    is_default: bool
    first_name: str | None = None
    last_name: str | None = None


@dataclass(frozen=True)
class Recipients:
    """Who is mailed when the transfer completes: the representative (None: nobody) and the CCs."""

    representative: str | None
    cc: tuple[str, ...]


class UnknownRepresentative(ValueError):
    """The chosen representative is not one of the destination's."""


def representative_to_notify(
    representatives: Sequence[Representative], *, notify: bool, chosen_id: uuid.UUID | None
) -> str | None:
    """The email told when the transfer completes: the chosen representative, else the default;
    None when the sender asked to notify nobody (or the destination has no representative)."""
    chosen = None
    if chosen_id is not None:
        chosen = next((r for r in representatives if r.id == chosen_id), None)
        if chosen is None:
            raise UnknownRepresentative(f"Representative {chosen_id} is not one of the destination's representatives.")
    if not notify:
        return None
    if chosen is None:
        chosen = next((r for r in representatives if r.is_default), None)
    return chosen.email if chosen else None


def recipients(representatives: Sequence[Representative], *, notify: bool, chosen_id: uuid.UUID | None,
               cc_emails: Sequence[str]) -> Recipients:
    """The CCs are copies of the representative's mail: when nobody is told, nobody is copied."""
    representative = representative_to_notify(representatives, notify=notify, chosen_id=chosen_id)
    return Recipients(representative, tuple(cc_emails) if representative is not None else ())


def representatives_at_request(representatives: Sequence[Representative], notified: str | None) -> list[dict]:
    """The destination's representatives as they are now, kept with the transfer (the default
    first): its detail shows them as they were, whatever the directory says later."""
    ordered = sorted(representatives, key=lambda r: (not r.is_default, r.email))
    return [{"email": r.email, "first_name": r.first_name, "last_name": r.last_name, "is_default": r.is_default,
             "notified": r.email == notified} for r in ordered]
