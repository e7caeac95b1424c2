"""What callers ask of the service (imperative), as the handlers take it."""

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class ActivateDevice:
    key: str
    fingerprint: str
    name: str | None = None
    platform: str | None = None
    hostname: str | None = None
    virtual_machine: bool = False
    user_email: str | None = None
    user_password: str | None = None


@dataclass(frozen=True)
class AssignLicenseUser:
    org_id: uuid.UUID
    license_id: uuid.UUID
    email: str
    name: str | None = None
    activation_cap: int | None = None  # None: the license's default per-user cap


@dataclass(frozen=True)
class ChangeLicenseUser:
    org_id: uuid.UUID
    license_user_id: uuid.UUID
    email: str | None = None
    name: str | None = None
    activation_cap: int | None = None
