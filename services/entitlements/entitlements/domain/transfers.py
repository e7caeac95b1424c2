"""Whether a transfer request may move licenses, and how many: pure rules, no database."""

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Move:
    quantity: int
    action: str  # "transfer": the whole available quantity; "split": the part the sender chose


@dataclass(frozen=True)
class Refusal:
    code: str
    reason: str


def decide_transfer(
    *,
    available: int,
    requested: int | None,
    entitlement_status: str,
    expiration_date: date | None,
    today: date,
    destination_problem: str | None,
) -> Move | Refusal:
    if destination_problem is not None:
        return Refusal("destination_not_eligible", destination_problem)
    if is_expired(expiration_date, today) or entitlement_status == "expired":
        return Refusal("entitlement_expired", f"The entitlement expired on {expiration_date}.")
    if entitlement_status != "active":
        return Refusal("entitlement_not_active", f"The entitlement is {entitlement_status}.")
    if requested is None:
        if available <= 0:
            return Refusal("insufficient_quantity", "Nothing of this line is available to transfer.")
        return Move(available, "transfer")
    if requested <= 0:
        return Refusal("invalid_quantity", "The quantity must be at least 1.")
    if requested > available:
        return Refusal("insufficient_quantity", f"Only {available} available; {requested} requested.")
    return Move(requested, "split")


def is_expired(expiration_date: date | None, today: date) -> bool:
    """An entitlement is valid through its expiration date (UTC) and expired from the day after."""
    return expiration_date is not None and today > expiration_date
