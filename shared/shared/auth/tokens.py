"""Access-token verification against the identity service's published keys (JWKS).

Only asymmetric algorithms are accepted, so `alg=none` and HMAC tokens forged with a public key
are refused. Keys are cached and refetched when an unknown key id appears (key rotation).
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


class JwksVerifier:
    def __init__(self, jwks_url: str, *, audience: str, issuer: str, refresh_after: float = 300.0):
        self._jwks_url = jwks_url
        self._audience = audience
        self._issuer = issuer
        self._refresh_after = refresh_after
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def verify(self, token: str) -> Caller:
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
            return Caller(
                user_id=uuid.UUID(claims["sub"]),
                org_id=uuid.UUID(claims["org"]),
                tier=Tier(claims["tier"]),
                role=Role(claims["role"]),
                email=claims.get("email", ""),
            )
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
