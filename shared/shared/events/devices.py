"""Events produced by the devices service: licenses (what an activation becomes for the licensed
software), the devices activated on them and their license users."""

import uuid
from datetime import date

from shared.events.envelope import EventPayload


class LicenseCreated(EventPayload):
    routing_key = "devices.license.created"

    license_id: uuid.UUID
    org_id: uuid.UUID
    activation_id: uuid.UUID
    entitlement_id: str
    product_id: uuid.UUID
    product_name: str
    project_name: str
    key_hint: str  # the key's last group; the key itself never leaves the service in an event
    max_devices: int
    expires_on: date | None = None


class LicenseRevoked(EventPayload):
    """Its activation was deactivated: the license works nowhere any more."""

    routing_key = "devices.license.revoked"

    license_id: uuid.UUID
    org_id: uuid.UUID
    activation_id: uuid.UUID


class LicenseSuspended(EventPayload):
    routing_key = "devices.license.suspended"

    license_id: uuid.UUID
    org_id: uuid.UUID


class LicenseReinstated(EventPayload):
    routing_key = "devices.license.reinstated"

    license_id: uuid.UUID
    org_id: uuid.UUID


class DeviceActivated(EventPayload):
    routing_key = "devices.device.activated"

    device_id: uuid.UUID
    license_id: uuid.UUID
    org_id: uuid.UUID
    name: str | None = None
    platform: str | None = None
    hostname: str | None = None
    user_email: str | None = None
    active_devices: int  # on the license, this one included
    max_devices: int


class DeviceDeactivated(EventPayload):
    """The licensed software released its own device."""

    routing_key = "devices.device.deactivated"

    device_id: uuid.UUID
    license_id: uuid.UUID
    org_id: uuid.UUID


class DeviceReset(EventPayload):
    """A customer's Admin reset a device (alone, or with all of a license user's): its slot is free."""

    routing_key = "devices.device.reset"

    device_id: uuid.UUID
    license_id: uuid.UUID
    org_id: uuid.UUID
    license_user_id: uuid.UUID | None = None


class LicenseUserAssigned(EventPayload):
    """A license user was created; notify mails the initial password (sealed in transit)."""

    routing_key = "devices.license_user.assigned"
    secret_fields = frozenset({"initial_password"})

    license_user_id: uuid.UUID
    license_id: uuid.UUID
    org_id: uuid.UUID
    email: str
    name: str | None = None
    activation_cap: int
    product_name: str
    project_name: str
    initial_password: str


class LicenseUserChanged(EventPayload):
    routing_key = "devices.license_user.changed"

    license_user_id: uuid.UUID
    license_id: uuid.UUID
    org_id: uuid.UUID
    email: str
    name: str | None = None
    activation_cap: int


class LicenseUserPasswordSet(EventPayload):
    """A customer's Admin set a new password; notify mails it (sealed in transit)."""

    routing_key = "devices.license_user.password_set"
    secret_fields = frozenset({"password"})

    license_user_id: uuid.UUID
    license_id: uuid.UUID
    org_id: uuid.UUID
    email: str
    product_name: str
    project_name: str
    password: str


class LicenseUserRemoved(EventPayload):
    routing_key = "devices.license_user.removed"

    license_user_id: uuid.UUID
    license_id: uuid.UUID
    org_id: uuid.UUID
    email: str
    devices_reset: int
