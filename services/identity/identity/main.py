"""The identity service: members, sign-in and the signing keys every service verifies with."""

from fastapi import FastAPI

from identity.api.auth import router as auth_router
from identity.api.invites import router as invites_router
from identity.api.members import router as members_router
from identity.handlers import current_member, event_handlers
from identity.keys import KeyRing, OwnKeysVerifier
from identity.settings import IdentitySettings
from shared.service import create_service_app


def create_app(settings: IdentitySettings | None = None) -> FastAPI:
    settings = settings or IdentitySettings()

    async def on_startup(app: FastAPI) -> None:
        await app.state.key_ring.ensure_and_load()

    app = create_service_app(settings, routers=[auth_router, invites_router, members_router], event_handlers=event_handlers(settings),
                             on_startup=on_startup)
    app.state.key_ring = KeyRing(app.state.session_factory)

    async def caller_as_it_stands(request, caller):
        async with request.app.state.session_factory() as session:
            return await current_member(session, caller)

    # Identity's own routes act on the caller's current row, not on the token's claims.
    app.state.current_member = caller_as_it_stands
    app.state.token_verifier = OwnKeysVerifier(app.state.key_ring, audience=settings.jwt_audience,
                                               issuer=settings.jwt_issuer)
    return app
