"""The portal session: the API's access and refresh tokens kept in HttpOnly, SameSite=Strict
cookies (script cannot read them; other sites cannot send them). An access token close to its
expiry is renewed with the refresh token before the page calls the API."""

import asyncio
import time
from dataclasses import dataclass

import jwt
from starlette.requests import Request
from starlette.responses import Response

from gateway.portal.api_client import PortalApi, SignInRequired
from shared.auth.tokens import Caller, InvalidToken

ACCESS_COOKIE = "portal_access"
REFRESH_COOKIE = "portal_refresh"
# Renewed this long before expiry, so the token cannot run out between the check and the API call.
RENEW_BEFORE_SECONDS = 30
# A refresh token is single-use (reuse revokes the session): pages that load several parts at once
# share one renewal. The answer is kept this long for the requests that raced it.
_SHARED_RENEWAL_SECONDS = 30.0


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str


@dataclass(frozen=True)
class Session:
    caller: Caller
    access_token: str


async def signed_in(request: Request) -> Session:
    """The signed-in person of this request, renewing the access token when needed."""
    access = request.cookies.get(ACCESS_COOKIE)
    refresh = request.cookies.get(REFRESH_COOKIE)
    verifier = request.app.state.token_verifier
    if access and not _expiring(access):
        try:
            return Session(await verifier.verify(access), access)
        except InvalidToken:
            pass  # e.g. signed with a retired key: the refresh token may still renew the session
    if not refresh:
        raise SignInRequired
    tokens = await _renewals(request).renew(request, refresh)
    if tokens is None:
        raise SignInRequired
    remember(request, tokens)
    try:
        return Session(await verifier.verify(tokens.access_token), tokens.access_token)
    except InvalidToken as error:
        raise SignInRequired from error


def remember(request: Request, tokens: Tokens) -> None:
    """Tokens to store in the cookies of this request's answer (the portal route sets them)."""
    request.state.portal_tokens = tokens


def forget(request: Request) -> None:
    """This request's answer clears the session cookies."""
    request.state.portal_tokens = None


def apply_session_cookies(request: Request, response: Response) -> None:
    if not hasattr(request.state, "portal_tokens"):
        return
    tokens: Tokens | None = request.state.portal_tokens
    if tokens is None:
        for name in (ACCESS_COOKIE, REFRESH_COOKIE):
            response.delete_cookie(name, path="/", secure=_secure(request), httponly=True, samesite="strict")
        return
    for name, value in ((ACCESS_COOKIE, tokens.access_token), (REFRESH_COOKIE, tokens.refresh_token)):
        # Session cookies: closing the browser ends the portal session.
        response.set_cookie(name, value, path="/", secure=_secure(request), httponly=True, samesite="strict")


def tokens_from(body: dict) -> Tokens:
    return Tokens(access_token=body["access_token"], refresh_token=body["refresh_token"])


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"


def _expiring(access_token: str) -> bool:
    try:
        claims = jwt.decode(access_token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return True
    return float(claims.get("exp", 0)) - time.time() < RENEW_BEFORE_SECONDS


class _Renewals:
    """Single flight per refresh token within this gateway process."""

    def __init__(self):
        self._pending: dict[str, tuple[float, asyncio.Future]] = {}

    async def renew(self, request: Request, refresh_token: str) -> Tokens | None:
        now = time.monotonic()
        self._pending = {k: v for k, v in self._pending.items() if now - v[0] < _SHARED_RENEWAL_SECONDS}
        if refresh_token not in self._pending:
            task = asyncio.ensure_future(_refresh(request, refresh_token))
            self._pending[refresh_token] = (now, task)
        return await asyncio.shield(self._pending[refresh_token][1])

    def end(self, refresh_token: str) -> None:
        """Sign-out: the renewals of this session, the one that gave `refresh_token` and those it
        gave, are no longer handed to anyone who presents one of its older refresh tokens."""
        ended = {refresh_token}
        while True:
            linked = {key for key, (_, renewal) in self._pending.items()
                      if key in ended or _renewed_to(renewal) in ended}
            if linked <= ended:
                break
            ended |= linked | {_renewed_to(self._pending[key][1]) for key in linked}
        for key in ended:
            self._pending.pop(key, None)


def _renewed_to(renewal: asyncio.Future) -> str | None:
    if not renewal.done() or renewal.cancelled() or renewal.exception() is not None or renewal.result() is None:
        return None
    return renewal.result().refresh_token


def end_renewals(request: Request, refresh_token: str) -> None:
    _renewals(request).end(refresh_token)


async def _refresh(request: Request, refresh_token: str) -> Tokens | None:
    answer = await PortalApi(request).post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})
    return tokens_from(answer.json()) if answer.status_code == 200 else None


def _renewals(request: Request) -> _Renewals:
    state = request.app.state
    if not hasattr(state, "portal_renewals"):
        state.portal_renewals = _Renewals()
    return state.portal_renewals
