"""Refresh tokens (opaque, stored only as a sha256) and the claims of an access token."""

import hashlib
import secrets
import uuid


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def access_claims(*, member_id: uuid.UUID, org_id: uuid.UUID, tier: str, role: str, email: str, token_version: int,
                  issuer: str, audience: str, now: int, lifetime: int) -> dict:
    """`ver`: the member's token version; a role change raises it and voids older tokens."""
    return {
        "sub": str(member_id),
        "org": str(org_id),
        "tier": tier,
        "role": role,
        "email": email,
        "ver": token_version,
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "exp": now + lifetime,
        "jti": uuid.uuid4().hex,
    }


def normalize_email(email: str) -> str:
    return email.strip().lower()
