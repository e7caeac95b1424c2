"""License keys, fingerprints and license users' passwords: how they are made and how they are
stored so that a copy of the database alone gives nothing usable.

A key is 160 random bits, shown as 8 groups of 4 base32 characters. The database holds an
HMAC-SHA256 of it under a server secret (the lookup: an indexed equality, the same work for a hit
and a miss) and a Fernet-sealed copy for the customer's Admin to read again; the last group is
kept in clear as a hint for searches. Fingerprints are stored as an HMAC under the same secret,
in another domain, so a fingerprint seen in the database cannot be replayed against the API.
"""

import base64
import hashlib
import hmac
import secrets

KEY_GROUPS = 8
KEY_GROUP_LENGTH = 4
MAX_KEY_LENGTH = 64  # what the device API accepts at all
MAX_FINGERPRINT_LENGTH = 512


def new_license_key() -> str:
    text = base64.b32encode(secrets.token_bytes(KEY_GROUPS * KEY_GROUP_LENGTH * 5 // 8)).decode()
    return "-".join(text[i:i + KEY_GROUP_LENGTH] for i in range(0, len(text), KEY_GROUP_LENGTH))


def normalized_key(key: str) -> str:
    """Keys are typed by people: case and surrounding blanks do not matter."""
    return key.strip().upper()


def key_hint(key: str) -> str:
    return normalized_key(key)[-KEY_GROUP_LENGTH:]


def key_digest(secret: bytes, key: str) -> bytes:
    return hmac.new(secret, b"license-key:" + normalized_key(key).encode(), hashlib.sha256).digest()


def fingerprint_digest(secret: bytes, fingerprint: str) -> bytes:
    return hmac.new(secret, b"fingerprint:" + fingerprint.encode(), hashlib.sha256).digest()


def new_initial_password() -> str:
    """Given once to the customer's Admin (and mailed to the license user)."""
    return secrets.token_urlsafe(12)
