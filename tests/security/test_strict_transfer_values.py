"""A transfer body means one thing: a quantity is a JSON number ("2", true and 2.0 are refused), a
flag a JSON boolean, an id a UUID string in its usual form, and no key appears twice (a proxy or a
log reading the first `quantity` would see another transfer than the service applying the last).
Each is refused with the field named and writes nothing; the plain spelling is taken."""

import json

import pytest

from shared.auth.permissions import Tier
from tests.security.cast import Cast
from tests.security.transfer_helpers import line, transfer_ids

pytestmark = [pytest.mark.system, pytest.mark.timeout(180)]

JSON = {"Content-Type": "application/json"}


def fields(cast: Cast, **changed) -> dict:
    return {**line(cast), "quantity": 1, "to_org_id": cast.own.ids[("integrators", "org_id")],
            "notify_representative": False, **changed}


COERCED = {
    "quantity as a string": ({"quantity": "2"}, "quantity"),
    "quantity as true": ({"quantity": True}, "quantity"),
    "flag as a string": ({"notify_representative": "no"}, "notify_representative"),
    "flag as a number": ({"notify_representative": 0}, "notify_representative"),
}


@pytest.mark.parametrize("attack", COERCED, ids=str)
async def test_a_value_in_another_type_is_refused(cast: Cast, attack):
    sender = cast.own.admins[Tier.DISTRIBUTOR].http
    changed, field = COERCED[attack]
    before = await transfer_ids(sender)

    answer = await sender.post("/api/v1/transfers", json=fields(cast, **changed))

    assert answer.status_code == 422, answer.text
    assert field in answer.json()["detail"]
    assert await transfer_ids(sender) == before


async def test_an_id_in_an_unusual_spelling_is_refused(cast: Cast):
    sender = cast.own.admins[Tier.DISTRIBUTOR].http
    to_org_id = cast.own.ids[("integrators", "org_id")]
    before = await transfer_ids(sender)
    for spelling in ("{" + to_org_id + "}", "urn:uuid:" + to_org_id, to_org_id.replace("-", "")):
        answer = await sender.post("/api/v1/transfers", json=fields(cast, to_org_id=spelling))
        assert answer.status_code == 422, answer.text
        assert "to_org_id" in answer.json()["detail"]
    assert await transfer_ids(sender) == before


async def test_a_key_given_twice_is_refused(cast: Cast):
    sender = cast.own.admins[Tier.DISTRIBUTOR].http
    body = json.dumps(fields(cast)).encode()
    before = await transfer_ids(sender)

    answer = await sender.post("/api/v1/transfers", content=body[:-1] + b', "quantity": 60}', headers=JSON)

    assert answer.status_code == 400, answer.text
    assert "the key 'quantity' appears more than once" in answer.json()["detail"]
    assert await transfer_ids(sender) == before


async def test_the_plain_spelling_is_taken(cast: Cast):
    sender = cast.own.admins[Tier.DISTRIBUTOR].http
    answer = await sender.post("/api/v1/transfers", json=fields(cast))
    assert answer.status_code == 202, answer.text
