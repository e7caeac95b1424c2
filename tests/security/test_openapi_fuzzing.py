"""schemathesis against the combined OpenAPI document the gateway serves, signed in as the vendor's
Admin, with all its checks: no 5xx, status codes, content types, headers and bodies as the document
says, input outside the document refused, input the document allows accepted
(`positive_data_acceptance`), and no operation that ignores a missing or bad token. Few examples
per operation, derandomized: the same run every time.

The document is as strict as the services' validation: sort columns, roles, time zones and audit
types are enums, emails, phones, countries, cursors and every stored text (no NUL character) carry
the pattern their check applies, dates their bounds, lists their sizes. Three things it cannot say,
so the valid examples keep clear of them:
- a cursor is opaque: one that has the right alphabet but was not given out by the API is refused
  (400), as it must be; valid examples carry none (invalid ones still do).
- rules between two fields (an expiration before its order date, a range that ends before it
  starts, one representative or line twice): JSON Schema has no words for them; the services answer
  422 naming the fields.
- an Idempotency-Key sent again with another body is refused (422, as the IETF draft has it): each
  valid example sends a key of its own."""

import asyncio
import itertools
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.security.cast import Cast
from tests.security.routes import ROUTES

pytestmark = [
    pytest.mark.system, pytest.mark.timeout(180),  # alone, it also starts and stops the platform
    # schemathesis's own strategies draw from `random`; nothing this suite can change.
    pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies"),
]

EXAMPLES_PER_OPERATION = 2


# The ranges the services refuse to see reversed: (path prefix, start parameter, end parameter).
RANGES = (("/api/v1/audit-events", "from", "to"), ("/api/v1/licenses/ledger", "occurred_from", "occurred_to"))


def _moment(text: str, zone: ZoneInfo) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def keeps_rules_across_fields(case) -> bool:
    """Whether a valid example also keeps the services' rules between two of its fields."""
    body = case.body if isinstance(case.body, dict) else {}
    query = case.query or {}
    try:
        if case.operation.label == "POST /api/v1/entitlements":
            products = [line.get("product_id") for line in body.get("lines", []) if isinstance(line, dict)]
            ordered, expires = body.get("order_date"), body.get("expiration_date")
            return len(set(products)) == len(products) and not (ordered and expires and expires < ordered)
        if case.operation.label in ("POST /api/v1/integrators", "POST /api/v1/customers"):
            emails = [rep.get("email", "").lower() for rep in body.get("representatives", []) if isinstance(rep, dict)]
            return len(set(emails)) == len(emails)
        for prefix, start, end in RANGES:  # a moment without a zone is read in `tz` (the audit log) or UTC
            if case.operation.path.startswith(prefix) and query.get(start) and query.get(end):
                zone = ZoneInfo(query.get("tz", "UTC"))
                return _moment(query[start], zone) <= _moment(query[end], zone)
    except (TypeError, ValueError, OverflowError, AttributeError):
        return True
    return True


def fuzz(document: dict, base_url: str, authorization: str) -> list[str]:
    """Runs in a worker thread: schemathesis calls over plain blocking HTTP while the platform keeps
    serving on the test's event loop."""
    schema = schemathesis.openapi.from_dict(document)
    # The Admin's token goes with every call (headers= below): schemathesis is not to make up, leave
    # out or spoil one of its own, which it would count as the invalid part of a request we signed.
    # `ignored_auth` still sends each operation without the token and with a bad one.
    schema.config.generation.update(with_security_parameters=False)
    fresh = itertools.count()
    failures = []
    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                @settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, database=None, deadline=None,
                          phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
                @given(case=operation.as_strategy(generation_mode=mode))
                def exercise(case):
                    if mode is GenerationMode.POSITIVE:  # what the document cannot say: see the docstring
                        assume(keeps_rules_across_fields(case))
                        if case.query:
                            case.query.pop("cursor", None)
                        if case.headers and "Idempotency-Key" in case.headers:
                            case.headers["Idempotency-Key"] = f"{next(fresh)}:{case.headers['Idempotency-Key']}"[:255]
                    case.call_and_validate(base_url=base_url, session=session, headers={"Authorization": authorization})

                try:
                    exercise()
                except Unsatisfiable as error:
                    if mode is GenerationMode.POSITIVE:  # none of the valid examples kept the rules
                        failures.append(f"{operation.label} (positive): {error}")
                    continue  # negative mode, for an operation that takes no input to get wrong
                except (Exception, BaseExceptionGroup) as error:  # every operation's failures are reported
                    failures.append(f"{operation.label} ({mode.value}): {error}")
    return failures


async def test_the_public_api_keeps_to_its_openapi_document(cast: Cast):
    document = (await cast.platform.http.get("/api/v1/openapi.json")).json()
    # Every route of the services is fuzzed (the gateway does not document its own routes).
    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert {(r.method, r.path) for r in ROUTES if r.service != "gateway"} <= documented
    authorization = cast.vendor.http.headers["authorization"]

    failures = await asyncio.to_thread(fuzz, document, str(cast.platform.http.base_url), authorization)

    assert not failures, "\n\n".join(failures)
