"""The billing service: plans, subscription licences, claim codes, invoices."""

from billing.api.claims import router as claims_router
from billing.api.invoices import router as invoices_router
from billing.api.plans import router as plans_router
from billing.api.subscriptions import router as subscriptions_router
from billing.handlers import event_handlers
from billing.lifecycle import lifecycle_worker
from billing.settings import BillingSettings
from shared.service import create_service_app


def create_app(settings: BillingSettings | None = None):
    return create_service_app(
        settings or BillingSettings(),
        routers=[plans_router, subscriptions_router, claims_router, invoices_router],
        event_handlers=event_handlers(),
        background_workers={"lifecycle": lifecycle_worker},
    )
