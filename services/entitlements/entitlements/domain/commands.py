"""What the entitlements service is asked to do (imperative, validated by the API before they are
made): each is carried out by one function of entitlements.handlers."""

import uuid
from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class CreateProduct:
    vendor_id: uuid.UUID
    created_by: uuid.UUID | None
    name: str
    license_type: str
    description: str | None = None
    deployment_type: str | None = None
    # What the licenses of this product allow their devices (shared.events.entitlements.DeviceRules).
    device_rules: dict = field(default_factory=dict)


@dataclass(frozen=True)
class OrderLine:
    product_id: uuid.UUID
    quantity: int


@dataclass(frozen=True)
class IssueEntitlement:
    vendor_id: uuid.UUID
    issued_by: uuid.UUID | None
    distributor_id: uuid.UUID
    sales_order: str
    po_number: str | None
    order_date: date
    expiration_date: date | None
    lines: tuple[OrderLine, ...]


@dataclass(frozen=True)
class ActivateLicenses:
    org_id: uuid.UUID
    activated_by: uuid.UUID | None
    activated_by_name: str | None
    entitlement_id: str
    product_id: uuid.UUID
    quantity: int
    project_name: str
    project_manager: str | None = None
    serial_number: str | None = None


@dataclass(frozen=True)
class DeactivateActivation:
    org_id: uuid.UUID
    activation_id: uuid.UUID
    deactivated_by: uuid.UUID | None
