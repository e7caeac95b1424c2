"""shared.strict_json: a body has one reading, or a JSONDecodeError that says why; and the strict
types of shared.validation take only what JSON itself writes."""

import json
import uuid

import pytest
from pydantic import BaseModel, ValidationError

from shared.strict_json import strict_loads
from shared.validation import Flag, StrictId, whole_number


@pytest.mark.parametrize("body, reason", [
    (b'{"a": 1, "b": {"c": 2, "c": 3}}', "the key 'c' appears more than once"),
    (b'{"a": "\xff"}', "not UTF-8"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"a": ' + b"1" * 21 + b"}", "more than 20 digits"),
    (b'{"a": -1e400}', "too large"),
    (b'{"a": Infinity}', "Infinity is not a JSON value"),
    (b'{"a": 1', "Expecting"),
])
def test_what_has_no_single_reading_is_refused_with_the_reason(body, reason):
    with pytest.raises(json.JSONDecodeError, match=reason):
        strict_loads(body)


def test_ordinary_json_reads_as_json_does():
    body = b'{"a": [1, -2.5, "x", true, null, {"b": ' + b"9" * 20 + b"}]}"
    assert strict_loads(body) == json.loads(body)


class Body(BaseModel):
    quantity: whole_number(ge=1, le=10) | None = None
    flag: Flag = True
    id: StrictId | None = None


@pytest.mark.parametrize("values", [
    {"quantity": "2"}, {"quantity": True}, {"quantity": 2.5}, {"quantity": 11}, {"quantity": 0},
    {"flag": "true"}, {"flag": 1}, {"id": "urn:uuid:3fa85f64-5717-4562-b3fc-2c963f66afa6"},
    {"id": "3fa85f6457174562b3fc2c963f66afa6"}, {"id": 42},
])
def test_strict_types_refuse_what_pydantic_would_coerce(values):
    with pytest.raises(ValidationError):
        Body.model_validate(values)


def test_strict_types_take_json_values():
    taken = Body.model_validate({"quantity": 2, "flag": False, "id": "3FA85F64-5717-4562-B3FC-2C963F66AFA6"})
    assert (taken.quantity, taken.flag, taken.id) == (2, False, uuid.UUID("3fa85f64-5717-4562-b3fc-2c963f66afa6"))
