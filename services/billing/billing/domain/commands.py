"""The billing service's commands: what a caller asks for, checked in shape by the API."""

import uuid
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class SavePlan:
    org_id: uuid.UUID
    name: str
    interval_months: int
    unit_price_minor: int
    currency: str
    enabled: bool
    plan_id: uuid.UUID | None = None  # None: a new plan


@dataclass(frozen=True)
class CreateSubscription:
    subscription_id: uuid.UUID
    seller_org_id: uuid.UUID
    plan_id: uuid.UUID
    name: str
    quantity: int
    entitlement_id: str
    product_id: uuid.UUID
    note: str | None = None
    customer_org_id: uuid.UUID | None = None
    auto_renew: bool = True
    created_by: uuid.UUID | None = None


@dataclass(frozen=True)
class RedeemClaim:
    org_id: uuid.UUID
    code: str
    client_address: str | None
    user_id: uuid.UUID | None


@dataclass(frozen=True)
class PauseSubscription:
    org_id: uuid.UUID
    subscription_id: uuid.UUID
    resume_on: date | None = None


@dataclass(frozen=True)
class SendInvoices:
    org_id: uuid.UUID
    subscription_ids: tuple[uuid.UUID, ...]
    sent_by: uuid.UUID | None = None
