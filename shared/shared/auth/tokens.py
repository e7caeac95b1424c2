"""Access-token verification against the identity service's published keys (JWKS).

Only asymmetric algorithms are accepted, so `alg=none` and HMAC tokens forged with a public key
are refused. Keys are cached and refetched when an unknown key id appears (key rotation).

A token once verified is remembered until it expires: a client sends the same access token with
every request, and checking its signature again (and decoding it) each time would be work repeated
for the same answer. What is remembered is the signature's answer only: whether the
member's token has been voided since (a role change, a removal) is asked on every request
(shared.auth.member_tokens). Refetched keys forget them all.
"""

import asyncio
import time
import uuid
from dataclasses import dataclass

import httpx
import jwt
from jwt import PyJWK

from shared.auth.permissions import Role, Tier

ALLOWED_ALGORITHMS = ["RS256", "ES256", "EdDSA"]
_REMEMBERED_TOKENS = 10_000  # at most; past it the memory starts again


class InvalidToken(Exception):
    pass


class SigningKeysUnavailable(Exception):
    """The identity service could not be asked for its keys: the token may well be valid."""


@dataclass(frozen=True)
class Caller:
    user_id: uuid.UUID
    org_id: uuid.UUID
    tier: Tier
    role: Role
    email: str
    token_version: int = 0  # the member's token version when the token was issued (shared.auth.member_tokens)


class JwksVerifier:
    def __init__(self, jwks_url: str, *, audience: str, issuer: str, refresh_after: float = 300.0):
        self._jwks_url = jwks_url
        self._audience = audience
        self._issuer = issuer
        self._refresh_after = refresh_after
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()
        self._verified: dict[str, tuple[Caller, float]] = {}  # token -> (caller, its expiry)

    async def verify(self, token: str) -> Caller:
        remembered = self._verified.get(token)
        if remembered is not None and time.time() < remembered[1]:
            return remembered[0]
        caller, expires_at = await self._verify(token)
        if len(self._verified) >= _REMEMBERED_TOKENS:
            self._verified.clear()
        self._verified[token] = (caller, expires_at)
        return caller

    async def _verify(self, token: str) -> tuple[Caller, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise InvalidToken(f"malformed token: {error}") from error
        if header.get("alg") not in ALLOWED_ALGORITHMS:
            raise InvalidToken("token algorithm not accepted")
        key = await self._key(header.get("kid"))
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[key.algorithm_name] if key.algorithm_name else ALLOWED_ALGORITHMS,
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["exp", "iat", "sub", "aud", "iss"]},
            )
            caller = Caller(
                user_id=uuid.UUID(claims["sub"]),
                org_id=uuid.UUID(claims["org"]),
                tier=Tier(claims["tier"]),
                role=Role(claims["role"]),
                email=claims.get("email", ""),
                token_version=int(claims.get("ver", 0)),
            )
            return caller, float(claims["exp"])
        except (jwt.PyJWTError, KeyError, ValueError) as error:
            raise InvalidToken(f"token refused: {error}") from error

    async def _key(self, kid: str | None) -> PyJWK:
        if kid in self._keys and time.monotonic() - self._fetched_at < self._refresh_after:
            return self._keys[kid]
        async with self._lock:
            if kid not in self._keys or time.monotonic() - self._fetched_at >= self._refresh_after:
                await self._fetch()
        if kid not in self._keys:
            raise InvalidToken("token signed with an unknown key")
        return self._keys[kid]

    async def _fetch(self) -> None:
        try:
            async with httpx.AsyncClient(timeout=5) as client:
                response = await client.get(self._jwks_url)
                response.raise_for_status()
        except httpx.HTTPError as error:
            if self._keys:
                return  # keep verifying with the keys we have while identity is unreachable
            raise SigningKeysUnavailable(f"cannot fetch signing keys: {error!r}") from error
        self._verified.clear()  # a key may have been withdrawn
        self._keys = {
            k["kid"]: PyJWK(k) for k in response.json().get("keys", []) if k.get("kid") and k.get("use", "sig") == "sig"
        }
        self._fetched_at = time.monotonic()


def verifier_for(settings) -> JwksVerifier:
    """The verifier of a service's settings: the identity service's published keys."""
    return JwksVerifier(
        f"{settings.identity_url.rstrip('/')}/.well-known/jwks.json",
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
    )
