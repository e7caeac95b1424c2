"""Events produced by the entitlements service: products, entitlements, the outcome of a transfer
request (the ledger is the one place that decides), and activations."""

import uuid
from datetime import date

from pydantic import BaseModel, Field

from shared.events.envelope import EventPayload


class DeviceRules(BaseModel):
    """What a product allows the licenses made from it (the devices service copies them onto each
    license; the maximum number of devices is the activation's quantity). Defaults for products
    created without them."""

    max_license_users: int = Field(default=5, ge=0, le=10_000)
    default_user_activation_cap: int = Field(default=1, ge=1, le=10_000)
    grace_period_days: int = Field(default=14, ge=0, le=365)
    virtual_machines_allowed: bool = True
    offline_allowed: bool = True
    device_resets_per_30_days: int = Field(default=3, ge=0, le=1000)


class ProductCreated(EventPayload, DeviceRules):
    routing_key = "entitlements.product.created"

    product_id: uuid.UUID
    name: str
    license_type: str
    description: str | None = None
    deployment_type: str | None = None


class EntitlementLine(EventPayload):
    product_id: uuid.UUID
    product_name: str
    quantity: int


class EntitlementIssued(EventPayload):
    """The vendor issued an order to a distributor, which now holds every line's whole quantity."""

    routing_key = "entitlements.entitlement.issued"

    entitlement_id: str  # human readable, shown to users, follows the licenses down the tiers
    distributor_id: uuid.UUID
    sales_order: str
    po_number: str | None = None
    order_date: date
    expiration_date: date | None = None
    lines: list[EntitlementLine]


class EntitlementExpiringSoon(EventPayload):
    """Sent once per entitlement 30, 7 and 1 days before it expires, to the orgs holding some of it."""

    routing_key = "entitlements.entitlement.expiring_soon"

    entitlement_id: str
    expiration_date: date
    days_left: int
    holder_org_ids: list[uuid.UUID]


class EntitlementExpired(EventPayload):
    routing_key = "entitlements.entitlement.expired"

    entitlement_id: str
    expiration_date: date
    holder_org_ids: list[uuid.UUID]


class TransferCompleted(EventPayload):
    """The ledger moved `quantity` of one entitlement line from one org to its child, in one
    transaction. Carries what the transactions log and the emails show."""

    routing_key = "entitlements.transfer.completed"

    transfer_id: uuid.UUID
    from_org_id: uuid.UUID
    to_org_id: uuid.UUID
    entitlement_id: str
    product_id: uuid.UUID
    product_name: str
    product_description: str | None = None
    quantity: int
    action: str  # "transfer" (the whole available quantity) or "split" (a chosen part)
    po_number: str | None = None
    sales_order: str | None = None
    # Added: copied from the request, so a consumer mails from the outcome alone. The email of the
    # receiving org's representative to tell (None: the sender asked to tell nobody), the CCs of
    # that mail, and the member who asked. An event without them predates them.
    notify_representative: str | None = None
    cc_emails: list[str] = []
    requested_by: uuid.UUID | None = None


class TransferRejected(EventPayload):
    """The ledger refused a transfer request; nothing moved."""

    routing_key = "entitlements.transfer.rejected"

    transfer_id: uuid.UUID
    from_org_id: uuid.UUID
    to_org_id: uuid.UUID
    entitlement_id: str
    product_id: uuid.UUID
    quantity: int | None = None
    # insufficient_quantity, entitlement_expired, entitlement_not_active, destination_not_eligible,
    # unknown_line
    reason_code: str
    reason: str
    # Added: copied from the request, as on TransferCompleted.
    notify_representative: str | None = None
    cc_emails: list[str] = []
    requested_by: uuid.UUID | None = None


class LicensesActivated(EventPayload):
    routing_key = "entitlements.activation.created"

    activation_id: uuid.UUID
    org_id: uuid.UUID
    entitlement_id: str
    product_id: uuid.UUID
    product_name: str
    quantity: int
    project_name: str
    project_manager: str | None = None
    serial_number: str | None = None
    # Set when the activation is a subscription licence's (billing): its devices follow the licence's pause.
    subscription_id: uuid.UUID | None = None


class ActivationDeactivated(EventPayload):
    """An end customer deactivated an activation: its quantity went back to the org's available
    licenses (an `activation_reversal` ledger entry, in the same transaction)."""

    routing_key = "entitlements.activation.deactivated"

    activation_id: uuid.UUID
    org_id: uuid.UUID
    entitlement_id: str
    product_id: uuid.UUID
    product_name: str
    quantity: int
    project_name: str
    serial_number: str | None = None
    available_after: int  # what the org has available of the line once the licenses are back


class ReservationMade(EventPayload):
    """A subscription licence's quantity left the seller's holding as a reservation."""

    routing_key = "entitlements.reservation.made"

    subscription_id: uuid.UUID
    seller_org_id: uuid.UUID
    entitlement_id: str
    product_id: uuid.UUID
    product_name: str
    quantity: int
    available_after: int


class ReservationRejected(EventPayload):
    routing_key = "entitlements.reservation.rejected"

    subscription_id: uuid.UUID
    seller_org_id: uuid.UUID
    entitlement_id: str
    product_id: uuid.UUID
    quantity: int
    reason_code: str
    reason: str


class ReservationConverted(EventPayload):
    """A reservation became the customer's activation (`entitlements.activation.created` follows
    with the same `activation_id`)."""

    routing_key = "entitlements.reservation.converted"

    subscription_id: uuid.UUID
    seller_org_id: uuid.UUID
    customer_org_id: uuid.UUID
    activation_id: uuid.UUID
    quantity: int


class ReservationReleased(EventPayload):
    """An unused reservation went back to the seller's holding."""

    routing_key = "entitlements.reservation.released"

    subscription_id: uuid.UUID
    seller_org_id: uuid.UUID
    quantity: int
    available_after: int
