"""The transfers service: transfer requests and their outcome, and the transactions log."""

from shared.service import create_service_app
from transfers.api.transactions import router as transactions_router
from transfers.api.transfers import router as transfers_router
from transfers.handlers import event_handlers
from transfers.settings import TransfersSettings


def create_app(settings: TransfersSettings | None = None):
    settings = settings or TransfersSettings()
    return create_service_app(settings, routers=[transfers_router, transactions_router], event_handlers=event_handlers())
