"""The signing keys: kept in identity's database, created on first start, published as JWKS.

One key is active (it signs); every stored key is published so tokens signed before a rotation
still verify. Replicas starting together race to insert the first key; a partial unique index
lets exactly one win, and every replica then loads the winner.
"""

import time
import uuid
from dataclasses import dataclass

import jwt
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from identity.db import signing_keys
from shared.auth.tokens import JwksVerifier

ALGORITHM = "RS256"


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey

    def public_jwk(self) -> dict:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {**public, "kid": self.kid, "alg": ALGORITHM, "use": "sig"}

    def sign(self, claims: dict) -> str:
        return jwt.encode(claims, self.private_key, algorithm=ALGORITHM, headers={"kid": self.kid})


class KeyRing:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]):
        self._session_factory = session_factory
        self.active: SigningKey | None = None
        self.all: list[SigningKey] = []

    async def ensure_and_load(self) -> None:
        async with self._session_factory() as session:
            candidate = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = candidate.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ).decode()
            await session.execute(
                insert(signing_keys)
                .values(kid=uuid.uuid4().hex, private_pem=pem, active=True)
                .on_conflict_do_nothing(index_elements=["active"], index_where=sa.text("active"))
            )
            await session.commit()
        await self.load()

    async def load(self) -> None:
        async with self._session_factory() as session:
            rows = (await session.execute(sa.select(signing_keys).order_by(signing_keys.c.created_at))).all()
        keys = [(row.active, SigningKey(row.kid, serialization.load_pem_private_key(row.private_pem.encode(), None)))
                for row in rows]
        self.all = [key for _, key in keys]
        self.active = next(key for active, key in keys if active)

    def jwks(self) -> dict:
        return {"keys": [key.public_jwk() for key in self.all]}


class OwnKeysVerifier(JwksVerifier):
    """Identity verifies its own access tokens with the shared verifier, reading the keys it
    publishes from its database instead of fetching its own JWKS over HTTP."""

    def __init__(self, ring: KeyRing, *, audience: str, issuer: str):
        super().__init__("", audience=audience, issuer=issuer)
        self._ring = ring

    async def _fetch(self) -> None:
        await self._ring.load()
        self._keys = {k["kid"]: jwt.PyJWK(k) for k in self._ring.jwks()["keys"]}
        self._fetched_at = time.monotonic()
