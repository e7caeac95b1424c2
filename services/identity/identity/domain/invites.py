"""Pure invite rules: the single-use token, its expiry, and which roles a tier may hand out."""

import secrets
from datetime import datetime, timedelta

from shared.auth.permissions import ROLES_BY_TIER, Role, Tier

DEFAULT_TTL_DAYS = 7
MIN_PASSWORD_LENGTH = 12


def new_invite_token() -> str:
    """256 random bits, URL-safe; only its sha256 is stored."""
    return secrets.token_urlsafe(32)


def expiry(now: datetime, ttl_days: int = DEFAULT_TTL_DAYS) -> datetime:
    return now + timedelta(days=ttl_days)


def role_allowed(tier: Tier | str, role: str) -> bool:
    try:
        return Role(role) in ROLES_BY_TIER[Tier(tier)]
    except ValueError:
        return False


def is_expired(expires_at: datetime, now: datetime) -> bool:
    return expires_at <= now
