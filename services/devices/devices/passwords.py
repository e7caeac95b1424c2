"""License users' passwords: argon2id. Hashing is slow by design: the handlers call these in a
worker thread, never on the event loop."""

import functools
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import Argon2Error, InvalidHashError

_argon2 = PasswordHasher()


def hashed(password: str) -> str:
    return _argon2.hash(password)


def matches(password: str, stored: str) -> bool:
    try:
        _argon2.verify(stored, password)
    except (Argon2Error, InvalidHashError):
        return False
    return True


@functools.cache
def decoy() -> str:
    """Checked against when no license user matches, so a miss costs what a wrong password costs."""
    return hashed(secrets.token_hex(16))
