"""Checks of input values every service applies the same way (no I/O), and the annotated types that
carry them: each type puts its rule in the OpenAPI document (a `pattern`) and checks the same rule
with a message that names the value, so what the document allows is exactly what is accepted."""

import re
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic.fields import FieldInfo

# Deliberately strict: local part of common characters, a dotted domain with a 2+ letter TLD.
EMAIL = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
# Digits and the usual separators, optionally an international `+` and an area code in brackets.
PHONE = re.compile(r"^\+?\(?[0-9][0-9 ()./-]{3,30}$")
# PostgreSQL text cannot hold the NUL character: no text we store or search with may contain one.
NO_NUL = re.compile(r"^[^\x00]*$")
# ...and a required text has something besides spaces (models strip them, or the code does). The
# spaces are spelled out as Python's str.strip() sees them: `\s` means less to other regex engines.
_SPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
FILLED = re.compile(rf"^[{_SPACE}]*[^{_SPACE}\x00][^\x00]*$")


class InvalidEmail(ValueError):
    """The message names the address, for the client's 422."""


def check_email(value: str) -> str:
    """The address without surrounding spaces; InvalidEmail if it is not one."""
    value = value.strip()
    if len(value) > 254 or not EMAIL.fullmatch(value):
        raise InvalidEmail(f"'{value}' is not a valid email address")
    return value


def check_phone(value: str) -> str:
    value = value.strip()
    if not PHONE.fullmatch(value):
        raise ValueError(f"'{value}' is not a phone number (digits, spaces, + ( ) - . /)")
    return value


def check_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    return value


def check_filled(value: str) -> str:
    if not FILLED.fullmatch(value):
        raise ValueError("must not be empty")
    return check_text(value)


def documented(pattern: re.Pattern) -> FieldInfo:
    """The pattern in the OpenAPI document; the check beside it refuses what it does not match."""
    return Field(json_schema_extra={"pattern": pattern.pattern})


# Any stored or searched text; add the lengths: Annotated[Text, Field(min_length=1, max_length=100)].
Text = Annotated[str, documented(NO_NUL), AfterValidator(check_text)]
FilledText = Annotated[str, documented(FILLED), AfterValidator(check_filled)]
Email = Annotated[str, Field(max_length=254), documented(EMAIL), AfterValidator(check_email)]
Phone = Annotated[str, Field(max_length=32), documented(PHONE), AfterValidator(check_phone)]
