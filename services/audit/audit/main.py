"""The audit service: stores every event once and answers the audit log."""

from audit.api.events import router as events_router
from audit.api.verify import router as verify_router
from audit.handlers import EVENT_HANDLERS
from audit.settings import AuditSettings
from shared.service import create_service_app


def create_app(settings: AuditSettings | None = None):
    return create_service_app(
        settings or AuditSettings(), routers=[verify_router, events_router], event_handlers=EVENT_HANDLERS
    )
