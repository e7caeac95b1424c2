"""Password hashing behind one small interface.

The rule (BRIEF section 5) is argon2id. argon2-cffi is not a dependency yet, so this uses the
standard library's scrypt, which is also memory-hard. When argon2-cffi is added, argon2id replaces
it here: new hashes start with `$argon2id$`, and `verify` keeps accepting `scrypt$` hashes (rehash
on the next successful sign-in) so no one has to reset a password.

Hashing is CPU- and memory-heavy (about 32 MiB): call these from a worker thread in async code.
"""

import base64
import functools
import hashlib
import hmac
import secrets

# OWASP's scrypt option N=2^15, r=8, p=3: 128 * N * r bytes = 32 MiB of memory per hash.
_N, _R, _P = 2**15, 8, 3
_LENGTH = 32
_PREFIX = "scrypt"


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, _N, _R, _P)
    return "$".join([_PREFIX, str(_N), str(_R), str(_P), _b64(salt), _b64(digest)])


def verify_password(password: str, encoded: str) -> bool:
    try:
        prefix, n, r, p, salt, expected = encoded.split("$")
        if prefix != _PREFIX:
            return False
        digest = _scrypt(password, _unb64(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, _unb64(expected))


@functools.cache
def dummy_hash() -> str:
    """A hash to verify against when the email is unknown, so both failures take the same time."""
    return hash_password(secrets.token_urlsafe(16))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=_LENGTH, maxmem=2 * 128 * n * r + 2**20)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
