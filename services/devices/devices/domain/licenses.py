"""A license's pure rules: its status on a given day, the answer a validation gets, and the checks
an activation must pass. No database, no web framework: the handlers feed these with rows."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

# A license is "expiring" this many days before its expiration date.
EXPIRING_WITHIN_DAYS = 30
# The window of the device reset budget.
RESET_WINDOW = timedelta(days=30)


class Status(StrEnum):
    ACTIVE = "active"
    EXPIRING = "expiring"
    IN_GRACE = "in_grace"
    EXPIRED = "expired"
    SUSPENDED = "suspended"
    PAUSED = "paused"
    REVOKED = "revoked"


class Code(StrEnum):
    """What the device API answers; VALID and IN_GRACE are the valid ones."""

    VALID = "VALID"
    IN_GRACE = "IN_GRACE"
    NOT_FOUND = "NOT_FOUND"
    DEVICE_NOT_ACTIVATED = "DEVICE_NOT_ACTIVATED"
    TOO_MANY_DEVICES = "TOO_MANY_DEVICES"
    USER_DEVICE_LIMIT = "USER_DEVICE_LIMIT"
    EXPIRED = "EXPIRED"
    SUSPENDED = "SUSPENDED"
    PAUSED = "PAUSED"  # a paused subscription licence (billing)
    REVOKED = "REVOKED"
    VIRTUAL_MACHINE_NOT_ALLOWED = "VIRTUAL_MACHINE_NOT_ALLOWED"
    OFFLINE_NOT_ALLOWED = "OFFLINE_NOT_ALLOWED"


DETAILS: dict[Code, str] = {
    Code.VALID: "The license is valid on this device.",
    Code.IN_GRACE: "The license has expired and is in its grace period: renew it before the grace period ends.",
    Code.NOT_FOUND: "No license matches this key (or these credentials).",
    Code.DEVICE_NOT_ACTIVATED: "This device is not activated on the license: activate it first.",
    Code.TOO_MANY_DEVICES: "The license is active on as many devices as it allows: reset one to free a slot.",
    Code.USER_DEVICE_LIMIT: "This license user has activated as many devices as the cap allows.",
    Code.EXPIRED: "The license has expired and its grace period is over.",
    Code.SUSPENDED: "The license is suspended by its owner.",
    Code.PAUSED: "The subscription of this license is paused.",
    Code.REVOKED: "The license was revoked: its activation was deactivated.",
    Code.VIRTUAL_MACHINE_NOT_ALLOWED: "The license may not be used on virtual machines.",
    Code.OFFLINE_NOT_ALLOWED: "The license does not allow offline use.",
}

VALID_CODES = frozenset({Code.VALID, Code.IN_GRACE})


@dataclass(frozen=True)
class Rules:
    """What the vendor set on the product; a license copies them when it is created."""

    max_devices: int
    max_license_users: int
    default_user_activation_cap: int
    grace_period_days: int
    virtual_machines_allowed: bool
    offline_allowed: bool
    device_resets_per_30_days: int


@dataclass(frozen=True)
class Lifecycle:
    expires_on: date | None
    grace_period_days: int
    suspended: bool = False
    paused: bool = False
    revoked: bool = False

    @property
    def grace_ends_on(self) -> date | None:
        return None if self.expires_on is None else self.expires_on + timedelta(days=self.grace_period_days)


def status_on(lifecycle: Lifecycle, today: date) -> Status:
    """Revoked wins over everything, then the owner's suspension and a pause, then the calendar.
    A license expires at the end of its expiration date; it is in grace until its grace end date."""
    if lifecycle.revoked:
        return Status.REVOKED
    if lifecycle.suspended:
        return Status.SUSPENDED
    if lifecycle.paused:
        return Status.PAUSED
    if lifecycle.expires_on is None:
        return Status.ACTIVE
    if today <= lifecycle.expires_on:
        expiring = lifecycle.expires_on - today <= timedelta(days=EXPIRING_WITHIN_DAYS)
        return Status.EXPIRING if expiring else Status.ACTIVE
    return Status.IN_GRACE if today <= lifecycle.grace_ends_on else Status.EXPIRED


_BLOCKING: dict[Status, Code] = {
    Status.REVOKED: Code.REVOKED,
    Status.SUSPENDED: Code.SUSPENDED,
    Status.PAUSED: Code.PAUSED,
    Status.EXPIRED: Code.EXPIRED,
}


def blocking_code(status: Status) -> Code | None:
    """The code of a status that stops the license from working anywhere, or None."""
    return _BLOCKING.get(status)


def validation_code(status: Status | None, device_active: bool) -> Code:
    """A validation's answer: `status` None is a miss (no such key)."""
    if status is None:
        return Code.NOT_FOUND
    blocked = blocking_code(status)
    if blocked is not None:
        return blocked
    if not device_active:
        return Code.DEVICE_NOT_ACTIVATED
    return Code.IN_GRACE if status is Status.IN_GRACE else Code.VALID


@dataclass(frozen=True)
class Usage:
    """What a license uses when a new device asks to be activated (read under the license's lock)."""

    active_devices: int
    user_devices: int | None  # the activating license user's active devices; None: no user named
    user_cap: int | None


def activation_refusal(status: Status, rules: Rules, usage: Usage, virtual_machine: bool) -> Code | None:
    """Why a new device may not be activated, or None when it may."""
    blocked = blocking_code(status)
    if blocked is not None:
        return blocked
    if virtual_machine and not rules.virtual_machines_allowed:
        return Code.VIRTUAL_MACHINE_NOT_ALLOWED
    if usage.active_devices >= rules.max_devices:
        return Code.TOO_MANY_DEVICES
    if usage.user_cap is not None and usage.user_devices >= usage.user_cap:
        return Code.USER_DEVICE_LIMIT
    return None


def resets_left(allowed_per_window: int, resets_in_window: int) -> int:
    return max(0, allowed_per_window - resets_in_window)


def reset_window_start(now: datetime) -> datetime:
    return now - RESET_WINDOW
