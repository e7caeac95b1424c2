"""Whether a transfer request may move licenses, and how many: pure rules, no database."""

from dataclasses import dataclass
from datetime import date

from entitlements.domain.entitlements import Refusal, why_unusable


@dataclass(frozen=True)
class Move:
    quantity: int
    action: str  # "transfer": the whole available quantity; "split": the part the sender chose


def decide_transfer(
    *,
    available: int,
    requested: int | None,
    entitlement_status: str,
    expiration_date: date | None,
    today: date,
    destination_problem: str | None,
    sender_archived: bool = False,
) -> Move | Refusal:
    if sender_archived:  # archived between the request and now: it gives nothing away any more
        return Refusal("sender_archived", "Your organization is archived: it cannot transfer licenses.")
    if destination_problem is not None:
        return Refusal("destination_not_eligible", destination_problem)
    unusable = why_unusable(entitlement_status, expiration_date, today)
    if unusable is not None:
        return unusable
    if requested is None:
        if available <= 0:
            return Refusal("insufficient_quantity", "Nothing of this line is available to transfer.")
        return Move(available, "transfer")
    if requested <= 0:
        return Refusal("invalid_quantity", "The quantity must be at least 1.")
    if requested > available:
        return Refusal("insufficient_quantity", f"Only {available} available; {requested} requested.")
    return Move(requested, "split")

