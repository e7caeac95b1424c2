"""The orgs service: organizations, their tiers and hierarchy."""

from fastapi import FastAPI

from orgs.api.distributors import router as distributors_router
from orgs.api.partners import customers_router, integrators_router
from orgs.handlers import ensure_vendor
from orgs.settings import OrgsSettings
from shared.auth.member_tokens import MEMBER_TOKEN_HANDLERS
from shared.db import UnitOfWork
from shared.service import create_service_app


def create_app(settings: OrgsSettings | None = None):
    settings = settings or OrgsSettings()

    async def create_vendor_on_first_start(app: FastAPI) -> None:
        async with UnitOfWork(app.state.session_factory, producer=settings.service_name) as uow:
            app.state.vendor_id = await ensure_vendor(uow, settings.vendor_name)

    return create_service_app(
        settings, routers=[distributors_router, integrators_router, customers_router], on_startup=create_vendor_on_first_start,
        event_handlers=MEMBER_TOKEN_HANDLERS,
    )
