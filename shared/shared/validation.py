"""Checks of input values every service applies the same way (no I/O)."""

import re

# Deliberately strict: local part of common characters, a dotted domain with a 2+ letter TLD.
EMAIL = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)


class InvalidEmail(ValueError):
    """The message names the address, for the client's 422."""


def check_email(value: str) -> str:
    """The address without surrounding spaces; InvalidEmail if it is not one."""
    value = value.strip()
    if len(value) > 254 or not EMAIL.fullmatch(value):
        raise InvalidEmail(f"'{value}' is not a valid email address")
    return value
