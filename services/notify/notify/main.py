"""The notify service: emails people about the events that concern them."""

from notify.api.notifications import router as notifications_router
from notify.handlers import build_event_handlers
from notify.invoices import invoice_handlers
from notify.sender import run_sender
from notify.settings import NotifySettings
from shared.service import create_service_app


def create_app(settings: NotifySettings | None = None):
    settings = settings or NotifySettings()
    return create_service_app(
        settings,
        routers=[notifications_router],
        event_handlers={**build_event_handlers(settings), **invoice_handlers(settings)},
        background_workers={"mail sender": run_sender},
    )
