"""When an entitlement's "expiring soon" notices are due: pure rules, no database."""

from datetime import date

NOTICE_DAYS = (30, 7, 1)


def days_left(expiration_date: date, today: date) -> int:
    """0 on the last valid day (an entitlement is valid through its expiration date)."""
    return (expiration_date - today).days


def notices_due(expiration_date: date, today: date, thresholds=NOTICE_DAYS) -> list[int]:
    """The thresholds (days before expiry) reached by today, while the entitlement is still valid.
    An entitlement issued 5 days before it expires has reached both 30 and 7: both are due, and
    one notice (saying 5 days) covers them."""
    left = days_left(expiration_date, today)
    if left < 0:
        return []
    return sorted((t for t in thresholds if left <= t), reverse=True)
