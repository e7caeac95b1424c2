"""Rules of an entitlement (an order the vendor issues to a distributor): its id and its status."""

from collections import Counter
from collections.abc import Iterable
from datetime import date

from entitlements.domain.transfers import is_expired

STATUSES = ("active", "suspended", "expired")


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
