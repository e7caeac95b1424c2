"""Sign-in, refresh-token rotation, the caller's own profile, and the published keys."""

import asyncio
import time
import uuid
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from identity import handlers
from identity.db import members
from identity.domain.passwords import dummy_hash, verify_password
from identity.domain.tokens import access_claims, normalize_email
from identity.keys import KeyRing
from identity.settings import IdentitySettings
from identity.sign_in_limits import address_of, clear_after_success, reserve_attempt, sign_in_counters
from shared.auth.dependencies import CurrentCaller
from shared.db import UnitOfWork
from shared.problems import Problem
from shared.validation import Text

router = APIRouter()

_BAD_CREDENTIALS = "The email or password is not correct."
_BAD_REFRESH = "The refresh token is not valid. Sign in again."


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Annotated[Text, Field(min_length=3, max_length=254)]  # any text: an unknown email is a 401
    password: str = Field(min_length=1, max_length=1024)


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=512)


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "bearer"


class Me(BaseModel):
    id: uuid.UUID
    email: str
    first_name: str
    last_name: str
    role: str
    org_id: uuid.UUID
    tier: str


@router.get("/.well-known/jwks.json")
async def jwks(request: Request) -> dict:
    return _ring(request).jwks()


@router.post("/api/v1/auth/login")
async def login(body: LoginRequest, request: Request) -> TokenPair:
    settings: IdentitySettings = request.app.state.settings
    email = normalize_email(body.email)
    counters = sign_in_counters(settings, email, address_of(request))
    async with request.app.state.session_factory() as session:
        # Past a limit this answers 429 before any password is checked.
        attempt_ids = await reserve_attempt(session, settings, counters)
        member = await handlers.active_member_by_email(session, email)
    # Verified outside any transaction (it takes a while); an unknown email costs the same time.
    stored_hash = member.password_hash if member is not None else dummy_hash()
    password_ok = await asyncio.to_thread(verify_password, body.password, stored_hash)
    if member is None or not password_ok:
        raise Problem(401, _BAD_CREDENTIALS, headers={"WWW-Authenticate": "Bearer"})
    async with UnitOfWork(request.app.state.session_factory, producer="identity") as uow:
        await clear_after_success(uow.session, counters, attempt_ids)
        refresh = await handlers.start_session(uow, member, settings.refresh_token_ttl_seconds)
        await uow.commit()
    return _token_pair(request, member, refresh)


@router.post("/api/v1/auth/refresh")
async def refresh(body: RefreshRequest, request: Request) -> TokenPair:
    async with UnitOfWork(request.app.state.session_factory, producer="identity") as uow:
        member, new_refresh = await handlers.rotate_refresh_token(
            uow, body.refresh_token, request.app.state.settings.refresh_token_ttl_seconds)
        await uow.commit()
    if member is None:
        raise Problem(401, _BAD_REFRESH)
    return _token_pair(request, member, new_refresh)


@router.post("/api/v1/auth/logout", status_code=204)
async def logout(body: RefreshRequest, request: Request) -> Response:
    """Ends the session of this refresh token: its whole family (every rotation of it) is revoked.
    The refresh token alone is enough (no access token: it may have expired, and the refresh token
    proves the session). An unknown or already revoked token also answers 204 (as RFC 7009 does):
    nothing to end."""
    async with UnitOfWork(request.app.state.session_factory, producer="identity") as uow:
        await handlers.end_session(uow, body.refresh_token)
        await uow.commit()
    return Response(status_code=204)


@router.post("/api/v1/auth/logout-all", status_code=204)
async def logout_all(caller: CurrentCaller, request: Request) -> Response:
    """Signs the caller out everywhere: every refresh token of theirs is revoked. Access tokens
    already given out run until they expire (ACCESS_TOKEN_TTL_SECONDS)."""
    async with UnitOfWork(request.app.state.session_factory, producer="identity") as uow:
        await handlers.end_every_session(uow, caller.user_id)
        await uow.commit()
    return Response(status_code=204)


@router.get("/api/v1/me")
async def me(caller: CurrentCaller, request: Request) -> Me:
    async with request.app.state.session_factory() as session:
        member = (
            await session.execute(
                sa.select(members).where(members.c.id == caller.user_id, members.c.org_id == caller.org_id)
            )
        ).one_or_none()
    if member is None or member.status != "active":
        raise Problem(401, "This account no longer exists. Sign in again.", headers={"WWW-Authenticate": "Bearer"})
    return Me(id=member.id, email=member.email, first_name=member.first_name, last_name=member.last_name,
              role=member.role, org_id=member.org_id, tier=member.tier)


def _token_pair(request: Request, member, refresh: str) -> TokenPair:
    settings: IdentitySettings = request.app.state.settings
    claims = access_claims(
        member_id=member.id, org_id=member.org_id, tier=member.tier, role=member.role, email=member.email,
        token_version=member.token_version, issuer=settings.jwt_issuer, audience=settings.jwt_audience, now=int(time.time()),
        lifetime=settings.access_token_ttl_seconds,
    )
    access = _ring(request).active.sign(claims)
    return TokenPair(access_token=access, refresh_token=refresh, expires_in=settings.access_token_ttl_seconds)


def _ring(request: Request) -> KeyRing:
    return request.app.state.key_ring
