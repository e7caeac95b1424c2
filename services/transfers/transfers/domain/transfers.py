"""Pure rules of a transfer request: the command, the checks on its input, and who is told
when it completes (no I/O)."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

MAX_QUANTITY = 1_000_000_000
MAX_CC_EMAILS = 10

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


@dataclass(frozen=True)
class Representative:
    id: uuid.UUID
    email: str
    is_default: bool


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
