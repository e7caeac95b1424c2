"""The notify service."""

from notify.settings import NotifySettings
from shared.service import create_service_app


def create_app(settings: NotifySettings | None = None):
    return create_service_app(settings or NotifySettings())
