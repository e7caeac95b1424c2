"""Checks of input values every service applies the same way (no I/O), and the annotated types that
carry them: each type puts its rule in the OpenAPI document (a `pattern`) and checks the same rule
with a message that names the value, so what the document allows is exactly what is accepted.

Request bodies are taken as they were sent, not coerced: `whole_number` and `Flag` refuse `"2"` or
`true` for a number and `1` or `"true"` for a boolean, and `StrictId` takes an id only in its canonical
spelling. How a body itself is read (one reading or a 400) is shared.strict_json's."""

import re
import uuid
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, Strict, WithJsonSchema
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
# A single-line field (a name, a reference) holds no control character: no CR or LF that would
# split a mail header or a CSV row, no vertical tab, no C1 control, no Unicode line separator.
_CONTROL = r"\x00-\x1f\x7f-\x9f\u2028\u2029"
_LINE_SPACE = r"\x20\xa0\u1680\u2000-\u200a\u202f\u205f\u3000"
SINGLE_LINE = re.compile(rf"^[^{_CONTROL}]*$")
FILLED_LINE = re.compile(rf"^[{_LINE_SPACE}]*[^{_LINE_SPACE}{_CONTROL}][^{_CONTROL}]*$")


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


def check_line(value: str) -> str:
    control = re.search(rf"[{_CONTROL}]", value)
    if control:
        raise ValueError(f"must be a single line without control characters (found U+{ord(control[0]):04X})")
    return value


def check_filled_line(value: str) -> str:
    return check_filled(check_line(value))


def documented(pattern: re.Pattern) -> FieldInfo:
    """The pattern in the OpenAPI document; the check beside it refuses what it does not match."""
    return Field(json_schema_extra={"pattern": pattern.pattern})


# Any stored or searched text; add the lengths: Annotated[Text, Field(min_length=1, max_length=100)].
Text = Annotated[str, documented(NO_NUL), AfterValidator(check_text)]
FilledText = Annotated[str, documented(FILLED), AfterValidator(check_filled)]
# Single-line text (names, references, ids users type); add the lengths as for Text.
Line = Annotated[str, documented(SINGLE_LINE), AfterValidator(check_line)]
FilledLine = Annotated[str, documented(FILLED_LINE), AfterValidator(check_filled_line)]
Email = Annotated[str, Field(max_length=254), documented(EMAIL), AfterValidator(check_email)]
Phone = Annotated[str, Field(max_length=32), documented(PHONE), AfterValidator(check_phone)]


def check_json_number(value: Any) -> Any:
    """Before int's own check: a string or a boolean is not taken for a number. (A JSON number with
    a zero fraction, 2.0, is an integer to JSON Schema, and int takes it too.)"""
    if isinstance(value, str | bool):
        raise ValueError(f"must be a JSON number, not {type(value).__name__} {value!r}")
    return value


def whole_number(*, ge: int | None = None, le: int | None = None) -> Any:
    """The type of a whole number in a request body, taken only as JSON writes one (no "2", no
    true), between its bounds: `quantity: whole_number(ge=1, le=1000)`. The bounds come before the
    check so that the document states them (`minimum`, `maximum`)."""
    return Annotated[int, Field(ge=ge, le=le), BeforeValidator(check_json_number)]


# A boolean in a request body, taken only as JSON writes one: no "true" or 1 for true.
Flag = Annotated[bool, Strict()]


# An id as JSON spells it: the canonical 8-4-4-12 hex form, nothing pydantic would also take
# (braces, a urn: prefix, no hyphens, bytes).
CANONICAL_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def check_canonical_uuid(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str) or not CANONICAL_UUID.fullmatch(value):
        raise ValueError("must be a UUID string such as 3fa85f64-5717-4562-b3fc-2c963f66afa6")
    return value


StrictId = Annotated[uuid.UUID, BeforeValidator(check_canonical_uuid),
                     WithJsonSchema({"type": "string", "format": "uuid", "pattern": CANONICAL_UUID.pattern})]
