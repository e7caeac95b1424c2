"""The entitlements service: products, entitlements, holdings, the quantity ledger, activations."""

from entitlements.handlers import event_handlers
from entitlements.settings import EntitlementsSettings
from shared.service import create_service_app


def create_app(settings: EntitlementsSettings | None = None):
    return create_service_app(settings or EntitlementsSettings(), event_handlers=event_handlers())
