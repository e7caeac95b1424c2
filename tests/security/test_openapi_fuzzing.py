"""schemathesis against the combined OpenAPI document the gateway serves, signed in as the vendor's
Admin, with its checks: no 5xx, status codes, content types, headers and bodies as the document
says, input outside the document refused, and no operation that ignores a missing or bad token.
Few examples per operation, derandomized: the same run every time.

One check is left out: `positive_data_acceptance` (input the document allows is never refused). The
document is looser than the services' validation in many places (sort columns, emails, phones, time
zones, roles, dates before 1990, at least one representative, opaque cursors), so it fails on 26
operations; making every schema as strict as its validation is a change across all services,
reported rather than made here."""

import asyncio

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.security.cast import Cast
from tests.security.routes import ROUTES

pytestmark = [
    pytest.mark.system, pytest.mark.timeout(120),
    # schemathesis's own strategies draw from `random`; nothing this suite can change.
    pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies"),
]

EXAMPLES_PER_OPERATION = 2


def fuzz(document: dict, base_url: str, authorization: str) -> list[str]:
    """Runs in a worker thread: schemathesis calls over plain blocking HTTP while the platform keeps
    serving on the test's event loop."""
    schema = schemathesis.openapi.from_dict(document)
    failures = []
    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                @settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, database=None, deadline=None,
                          phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
                @given(case=operation.as_strategy(generation_mode=mode))
                def exercise(case):
                    case.call_and_validate(base_url=base_url, session=session, headers={"Authorization": authorization},
                                           excluded_checks=[positive_data_acceptance])

                try:
                    exercise()
                except Unsatisfiable:
                    continue  # negative mode, for an operation that takes no input to get wrong
                except (Exception, BaseExceptionGroup) as error:  # every operation's failures are reported
                    failures.append(f"{operation.label} ({mode.value}): {error}")
    return failures


async def test_the_public_api_keeps_to_its_openapi_document(cast: Cast):
    document = (await cast.platform.http.get("/api/v1/openapi.json")).json()
    # Every route of the services is fuzzed (the gateway documents neither its own routes nor notify's).
    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert {(r.method, r.path) for r in ROUTES if r.service not in ("gateway", "notify")} <= documented
    authorization = cast.vendor.http.headers["authorization"]

    failures = await asyncio.to_thread(fuzz, document, str(cast.platform.http.base_url), authorization)

    assert not failures, "\n\n".join(failures)
