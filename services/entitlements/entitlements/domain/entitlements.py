"""Rules of an entitlement (an order the vendor issues to a distributor): its id, its status, and
whether its licenses may be used (transferred or activated)."""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

STATUSES = ("active", "suspended", "expired")


@dataclass(frozen=True)
class Refusal:
    """Why a change of holdings is refused: a code clients may branch on, and a reason to show."""

    code: str
    reason: str


def is_expired(expiration_date: date | None, today: date) -> bool:
    """An entitlement is valid through its expiration date (UTC) and expired from the day after."""
    return expiration_date is not None and today > expiration_date


def why_unusable(status: str, expiration_date: date | None, today: date) -> Refusal | None:
    """None when the entitlement's licenses may move or be activated; else why not. Expired by
    date counts before the expiry sweeper has marked it."""
    if is_expired(expiration_date, today) or status == "expired":
        return Refusal("entitlement_expired", f"The entitlement expired on {expiration_date}.")
    if status != "active":
        return Refusal("entitlement_not_active", f"The entitlement is {status}.")
    return None


def entitlement_id_for(order_date: date, number: int) -> str:
    """The human-readable id users quote: ENT-<order year>-<number, 6 digits at least>."""
    return f"ENT-{order_date.year}-{number:06d}"


def effective_status(stored_status: str, expiration_date: date | None, today: date) -> str:
    """What the user sees: expired from the day after the expiration date, even before the
    expiry sweeper has marked it."""
    if is_expired(expiration_date, today):
        return "expired"
    return stored_status


def repeated(items: Iterable) -> list:
    """The items that appear more than once, in order of first repetition."""
    return [item for item, count in Counter(items).items() if count > 1]
