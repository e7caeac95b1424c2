"""How the audit log shows a moment: `DD MMM YYYY, HH:MM:SS` in the reader's time zone (pure)."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# English month abbreviations, independent of the server's locale.
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class UnknownTimeZone(ValueError):
    pass


def time_zone(name: str) -> ZoneInfo:
    """The IANA zone called `name` ("Europe/Paris", "UTC")."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise UnknownTimeZone(f"{name!r} is not an IANA time zone (e.g. 'UTC', 'Europe/Paris')") from error


def display_moment(moment: datetime, zone: ZoneInfo) -> str:
    local = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(zone)
    return f"{local.day:02d} {_MONTHS[local.month - 1]} {local.year:04d}, {local:%H:%M:%S}"


def in_zone(moment: datetime, zone: ZoneInfo) -> datetime:
    """A moment given without a zone is read in the reader's zone."""
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)
