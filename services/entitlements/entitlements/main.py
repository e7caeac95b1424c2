"""The entitlements service."""

from entitlements.settings import EntitlementsSettings
from shared.service import create_service_app


def create_app(settings: EntitlementsSettings | None = None):
    return create_service_app(settings or EntitlementsSettings())
