"""The entitlements service: products, entitlements, holdings, the quantity ledger, activations."""

from entitlements.api.activations import router as activations_router
from entitlements.api.entitlements import router as entitlements_router
from entitlements.api.history import router as history_router
from entitlements.api.licenses import router as licenses_router
from entitlements.api.products import router as products_router
from entitlements.expiry import expiry_worker
from entitlements.handlers import event_handlers
from entitlements.settings import EntitlementsSettings
from shared.service import create_service_app


def create_app(settings: EntitlementsSettings | None = None):
    return create_service_app(
        settings or EntitlementsSettings(),
        routers=[products_router, entitlements_router, licenses_router, history_router, activations_router],
        event_handlers=event_handlers(),
        background_workers={"expiry sweeper": expiry_worker},
    )
