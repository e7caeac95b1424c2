"""Claim codes (the console's "coupon"): 8 characters of Crockford's base32, shown XXXX-XXXX.

Crockford's alphabet leaves out I, L, O and U, and reads them as what they look like (I and L as
1, O as 0), case-insensitively, with hyphens and spaces ignored: a code read aloud or typed from a
screen still matches. 8 symbols of 32 are 40 random bits; codes are single use, expire, and
guessing is throttled. Only a keyed hash (HMAC-SHA256 with the server's secret) is stored, so the
table alone lets nobody redeem a code."""

import hashlib
import hmac
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 8
_READ_AS = {"I": "1", "L": "1", "O": "0"}


class MalformedCode(ValueError):
    pass


def new_code() -> str:
    """A fresh code from the operating system's cryptographic random source, normalised."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalise(typed: str) -> str:
    """The code as stored: upper case, separators dropped, look-alike letters read as digits."""
    symbols = "".join(_READ_AS.get(c, c) for c in typed.upper() if c not in "- \t")
    if len(symbols) != LENGTH or any(c not in ALPHABET for c in symbols):
        raise MalformedCode(f"A claim code is {LENGTH} letters and digits, such as 7K3Q-M9XD.")
    return symbols


def shown(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def keyed_hash(code: str, secret: str) -> str:
    return hmac.new(secret.encode(), normalise(code).encode(), hashlib.sha256).hexdigest()
