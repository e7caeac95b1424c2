"""The transfers service: transfer requests and their outcome, and the transactions log."""

from shared.lean_path import lean_route
from shared.service import create_service_app
from transfers.api.transactions import router as transactions_router
from transfers.api.transfers import TRANSFERS_PATH, create_transfer_lean
from transfers.api.transfers import router as transfers_router
from transfers.handlers import event_handlers
from transfers.settings import TransfersSettings


def create_app(settings: TransfersSettings | None = None, *, lean: bool = True):
    """lean=False answers the POST through the whole FastAPI stack too (to compare the two)."""
    settings = settings or TransfersSettings()
    app = create_service_app(settings, routers=[transfers_router, transactions_router], event_handlers=event_handlers())
    if lean:  # the service's busiest request (shared.lean_path)
        app.lean_path = lean_route(app, settings.service_name, transfers_router, "POST", TRANSFERS_PATH,
                                   create_transfer_lean)
    return app
