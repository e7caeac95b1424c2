"""The identity service."""

from identity.settings import IdentitySettings
from shared.service import create_service_app


def create_app(settings: IdentitySettings | None = None):
    return create_service_app(settings or IdentitySettings())
