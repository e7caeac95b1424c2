"""Events produced by the billing service: plans, subscription licences (their reservation in
the ledger, assignment, pause, resume, deletion), claim-code redemption attempts and invoices.

The ledger stays in entitlements: billing asks it to reserve (`SubscriptionReservationRequested`),
to turn the reservation into the customer's activation (`SubscriptionAssigned`) and to give an
unused reservation back (`SubscriptionDeleted`). Devices follows `SubscriptionPaused` and
`SubscriptionResumed` (by `activation_id`, the activation its license key was issued for)."""

import uuid
from datetime import date

from shared.events.envelope import EventPayload


class PlanSaved(EventPayload):
    """A reseller created or changed an entry of its price list."""

    routing_key = "billing.plan.saved"

    plan_id: uuid.UUID
    org_id: uuid.UUID
    name: str
    interval_months: int
    unit_price_minor: int
    currency: str
    enabled: bool


class SubscriptionReservationRequested(EventPayload):
    """An account manager created a subscription licence: entitlements takes `quantity` out of the
    seller's holding as a reservation (and, with `customer_org_id`, turns it at once into that
    customer's activation), or rejects it."""

    routing_key = "billing.subscription.reservation_requested"

    subscription_id: uuid.UUID
    seller_org_id: uuid.UUID
    entitlement_id: str
    product_id: uuid.UUID
    quantity: int
    name: str
    customer_org_id: uuid.UUID | None = None
    requested_by: uuid.UUID | None = None


class SubscriptionAssigned(EventPayload):
    """A reserved licence became a customer's (its claim code redeemed): the ledger turns the
    reservation into the customer's activation."""

    routing_key = "billing.subscription.assigned"

    subscription_id: uuid.UUID
    seller_org_id: uuid.UUID
    customer_org_id: uuid.UUID
    quantity: int
    name: str
    via: str  # claim_code or direct


class SubscriptionDeleted(EventPayload):
    """An unused licence was deleted: its reservation goes back to the seller's holding."""

    routing_key = "billing.subscription.deleted"

    subscription_id: uuid.UUID
    seller_org_id: uuid.UUID
    quantity: int


class SubscriptionPaused(EventPayload):
    """The licence is paused: its devices are told PAUSED when they validate. `activation_id` is
    None while the licence is not assigned (no license key yet)."""

    routing_key = "billing.subscription.paused"

    subscription_id: uuid.UUID
    seller_org_id: uuid.UUID
    customer_org_id: uuid.UUID | None = None
    activation_id: uuid.UUID | None = None
    resume_on: date | None = None


class SubscriptionResumed(EventPayload):
    """The licence runs again (resumed by hand, or on its resume date): its devices validate again."""

    routing_key = "billing.subscription.resumed"

    subscription_id: uuid.UUID
    seller_org_id: uuid.UUID
    customer_org_id: uuid.UUID | None = None
    activation_id: uuid.UUID | None = None
    paused_days: int


class ClaimRedemptionAttempted(EventPayload):
    """Every attempt to redeem a claim code, whatever its outcome, for the audit log. The code
    itself is never carried: only what it was for when it was valid."""

    routing_key = "billing.claim.redemption_attempted"

    org_id: uuid.UUID
    outcome: str  # redeemed, refused or throttled
    client_address: str | None = None
    subscription_id: uuid.UUID | None = None
    seller_org_id: uuid.UUID | None = None


class InvoiceLine(EventPayload):
    description: str
    quantity: int
    unit_price_minor: int
    period_start: date
    period_end: date
    paused_days: int
    amount_minor: int


class InvoiceIssued(EventPayload):
    """An invoice was sent (open): notify mails it, its PDF attached, to the customer's Admins."""

    routing_key = "billing.invoice.issued"
    secret_fields = frozenset({"pdf_base64"})  # the document is for the customer's mail, not for stores

    invoice_id: uuid.UUID
    number: str
    issuer_org_id: uuid.UUID
    issuer_name: str
    customer_org_id: uuid.UUID
    customer_name: str
    subscription_id: uuid.UUID
    currency: str
    total_minor: int
    total: str  # in the currency's units, as printed: "40.00"
    lines: list[InvoiceLine]
    pdf_base64: str


class InvoicePaid(EventPayload):
    routing_key = "billing.invoice.paid"

    invoice_id: uuid.UUID
    number: str
    issuer_org_id: uuid.UUID
    customer_org_id: uuid.UUID
    subscription_id: uuid.UUID


class InvoiceVoided(EventPayload):
    routing_key = "billing.invoice.voided"

    invoice_id: uuid.UUID
    number: str
    issuer_org_id: uuid.UUID
    customer_org_id: uuid.UUID
    subscription_id: uuid.UUID
