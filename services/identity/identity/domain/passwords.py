"""Password hashing: argon2id (BRIEF section 5), with argon2-cffi's recommended parameters.

Hashing is CPU- and memory-heavy by design: call these from a worker thread in async code.
"""

import functools
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, encoded: str) -> bool:
    try:
        return _hasher.verify(encoded, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def dummy_hash() -> str:
    """A hash to verify against when the email is unknown, so both failures take the same time."""
    return hash_password(secrets.token_urlsafe(16))
