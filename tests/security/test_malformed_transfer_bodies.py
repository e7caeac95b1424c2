"""Malformed transfer bodies (deep nesting, bytes that are not UTF-8, a 5,001-digit number, a
number too large for a float, NaN) are refused with a 400 problem that says why, never a 500, and
write nothing; the same transfer, well formed, is taken."""

import json

import pytest

from shared.auth.permissions import Tier
from tests.security.cast import Cast
from tests.security.transfer_helpers import line, transfer_ids

pytestmark = [pytest.mark.system, pytest.mark.timeout(180)]

JSON = {"Content-Type": "application/json"}


def well_formed(cast: Cast) -> bytes:
    return json.dumps({**line(cast), "quantity": 1, "to_org_id": cast.own.ids[("integrators", "org_id")],
                       "notify_representative": False}).encode()


ATTACKS = {
    "deep nesting": (lambda body: body[:-1] + b', "cc_emails": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
                     "nested too deeply"),
    "invalid UTF-8": (lambda body: body[:-1] + b', "entitlement_id": "ENT-\xc3\x28"}', "not UTF-8"),
    "a 5,001-digit number": (lambda body: body.replace(b'"quantity": 1', b'"quantity": ' + b"9" * 5001),
                             "more than 20 digits"),
    "a float past its range": (lambda body: body.replace(b'"quantity": 1', b'"quantity": 1e999'), "too large"),
    "NaN": (lambda body: body.replace(b'"quantity": 1', b'"quantity": NaN'), "not a JSON value"),
}


@pytest.mark.parametrize("attack", ATTACKS, ids=str)
async def test_a_malformed_transfer_body_is_a_400_problem_and_writes_nothing(cast: Cast, attack):
    sender = cast.own.admins[Tier.DISTRIBUTOR].http
    malform, reason = ATTACKS[attack]
    before = await transfer_ids(sender)

    answer = await sender.post("/api/v1/transfers", content=malform(well_formed(cast)), headers=JSON)

    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert reason in answer.json()["detail"]
    assert await transfer_ids(sender) == before


async def test_the_well_formed_transfer_is_taken(cast: Cast):
    sender = cast.own.admins[Tier.DISTRIBUTOR].http
    answer = await sender.post("/api/v1/transfers", content=well_formed(cast), headers=JSON)
    assert answer.status_code == 202, answer.text
