"""The transfers service."""

from transfers.settings import TransfersSettings
from shared.service import create_service_app


def create_app(settings: TransfersSettings | None = None):
    return create_service_app(settings or TransfersSettings())
