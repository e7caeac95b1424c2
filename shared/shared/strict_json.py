"""Request bodies read strictly: one meaning per body, or a 400 that says why.

Python's json module takes the last of two equal keys (`{"quantity": 1, "quantity": 500}` means
what a proxy or a log that reads the first one does not), NaN and Infinity, and numbers of any
length; pydantic's lax mode turns `"2"` and `true` into quantities. A router declared with
`route_class=StrictJsonRoute` parses its JSON bodies with `strict_loads`, and its models use the
strict types of shared.validation, so a body is read one way by everyone who reads it.
"""

import json
import math
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute

# Longer integers are no quantity or id any route takes, and converting them costs quadratic time.
MAX_INTEGER_DIGITS = 20


class _Refused(ValueError):
    pass


def _object(pairs: list[tuple[str, Any]]) -> dict:
    values = dict(pairs)
    if len(values) != len(pairs):
        seen: set[str] = set()
        repeated = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise _Refused(f"the key '{repeated}' appears more than once in one object")
    return values


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise _Refused(f"a number has more than {MAX_INTEGER_DIGITS} digits")
    return int(text)


def _real(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused("a number is too large")
    return value


def _constant(name: str):
    raise _Refused(f"{name} is not a JSON value")


def strict_loads(body: bytes) -> Any:
    """The body's JSON value; json.JSONDecodeError (FastAPI's 400 "Malformed JSON") when it is not
    UTF-8, not JSON, nested too deeply, repeats a key in one object, or has a number out of range."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise json.JSONDecodeError("the body is not UTF-8 text", "", error.start) from error
    try:
        return json.loads(text, object_pairs_hook=_object, parse_int=_integer, parse_float=_real,
                          parse_constant=_constant)
    except json.JSONDecodeError:
        raise
    except _Refused as error:
        raise json.JSONDecodeError(str(error), text, 0) from error
    except RecursionError as error:
        raise json.JSONDecodeError("the body is nested too deeply", text, 0) from error


class StrictJsonRequest(Request):
    async def json(self) -> Any:
        return strict_loads(await self.body())


class StrictJsonRoute(APIRoute):
    """A route whose JSON body is read by `strict_loads` (FastAPI's custom route class)."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def strict_handler(request: Request):
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict_handler


__all__ = ["StrictJsonRoute", "strict_loads"]
