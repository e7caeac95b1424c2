"""Signed license files for offline use: a compact JWS (RFC 7515) signed with Ed25519 (EdDSA,
RFC 8037), the signing key named by `kid` in the header, the public keys published as a JWKS.
The format is documented in docs/license-files.md; `python -m devices.verify` checks a file."""

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

FILE_TYPE = "license+jwt"  # the `typ` header: what the token is, so no other JWT passes for one
ISSUER = "licensing-devices"
ALGORITHM = "EdDSA"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(public_key: Ed25519PublicKey) -> str:
    """Derived from the key itself, so every replica names a key the same way."""
    return _b64url(hashlib.sha256(_raw_public(public_key)).digest())[:16]


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey

    @classmethod
    def from_seed(cls, seed_b64url: str) -> "SigningKey":
        seed = base64.urlsafe_b64decode(seed_b64url + "=" * (-len(seed_b64url) % 4))
        if len(seed) != 32:
            raise ValueError("an Ed25519 signing key is 32 bytes (base64url)")
        private_key = Ed25519PrivateKey.from_private_bytes(seed)
        return cls(key_id(private_key.public_key()), private_key)

    def jwk(self) -> dict[str, str]:
        return {"kty": "OKP", "crv": "Ed25519", "alg": ALGORITHM, "use": "sig", "kid": self.kid,
                "x": _b64url(_raw_public(self.private_key.public_key()))}


def new_seed() -> str:
    """A new signing key, as LICENSE_SIGNING_KEYS holds it."""
    return _b64url(Ed25519PrivateKey.generate().private_bytes_raw())


def jwks(keys: list[SigningKey]) -> dict[str, Any]:
    return {"keys": [key.jwk() for key in keys]}


def sign(claims: Mapping[str, Any], key: SigningKey, issued_at: datetime, expires_at: datetime) -> str:
    payload = {**claims, "iss": ISSUER, "iat": int(issued_at.timestamp()), "exp": int(expires_at.timestamp())}
    return jwt.encode(payload, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": FILE_TYPE})


class InvalidLicenseFile(Exception):
    """The file is not one the keys vouch for, has expired, or is for another device."""


def verify(token: str, public_keys: Mapping[str, Ed25519PublicKey], fingerprint: str | None = None,
           now: datetime | None = None) -> dict[str, Any]:
    """The file's claims, once its signature, type, expiry and (if given) device check out."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise InvalidLicenseFile(f"not a license file: {error}") from error
    if header.get("typ") != FILE_TYPE or header.get("alg") != ALGORITHM:
        raise InvalidLicenseFile("not a license file: wrong type or algorithm")
    public_key = public_keys.get(header.get("kid"))
    if public_key is None:
        raise InvalidLicenseFile(f"signed with an unknown key ({header.get('kid')!r})")
    # Expiry is checked below against `now` (the verifier's clock, or a test's).
    options = {"require": ["exp", "iat", "iss", "license", "device"], "verify_exp": False}
    try:
        claims = jwt.decode(token, public_key, algorithms=[ALGORITHM], issuer=ISSUER, options=options)
    except jwt.PyJWTError as error:
        raise InvalidLicenseFile(f"the signature or the claims do not check out: {error}") from error
    if (now or datetime.now(UTC)).timestamp() >= claims["exp"]:
        raise InvalidLicenseFile("the license file has expired: check out a new one")
    if fingerprint is not None and claims["device"].get("fingerprint") != fingerprint:
        raise InvalidLicenseFile("the license file is for another device")
    return claims


def public_keys_from_jwks(document: Mapping[str, Any]) -> dict[str, Ed25519PublicKey]:
    keys = {}
    for jwk in document.get("keys", []):
        if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519" and "kid" in jwk:
            raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
            keys[jwk["kid"]] = Ed25519PublicKey.from_public_bytes(raw)
    return keys
