"""Issue 20, item 6: no one can lock anyone out. Wrong passwords slow down the address that sends
them (per account and per address); the right password from an address that has not been failing
is always checked. Item 14: sign-out needs the refresh token only."""

import uuid

import pytest

from shared.auth.permissions import Tier
from tests.security.cast import Cast
from tests.security.members import an_address, identity_alone, signed_in_member
from tests.system.platform import PASSWORD



@pytest.fixture
async def identity(infrastructure):
    async with identity_alone(infrastructure, sign_in_failures_per_account=5, sign_in_failures_per_address=20,
                              trusted_proxies="127.0.0.1/32") as client:
        yield client


async def login(identity, email: str, password: str, address: str):
    return await identity.post("/api/v1/auth/login", json={"email": email, "password": password},
                               headers={"X-Forwarded-For": address})


async def test_wrong_passwords_from_anywhere_do_not_lock_the_owner_out(identity):
    attacker, owner = an_address(), an_address()
    victim = await signed_in_member(identity, uuid.uuid4())
    statuses = [(await login(identity, victim["email"], f"guess {i}", attacker)).status_code for i in range(8)]
    assert statuses == [401] * 5 + [429] * 3  # the attacker's address is slowed down
    # The owner, from an address that has not been failing, signs in with the right password.
    assert (await login(identity, victim["email"], PASSWORD, owner)).status_code == 200
    # Even the attacker's address waits for this account, right password or not: it has been failing.
    assert (await login(identity, victim["email"], PASSWORD, attacker)).status_code == 429


async def test_spraying_many_accounts_from_one_address_is_slowed_per_address(identity):
    attacker, owner = an_address(), an_address()
    victims = [await signed_in_member(identity, uuid.uuid4()) for _ in range(5)]
    # Four guesses per account, under the per-account limit: the address limit is what stops it.
    statuses = [(await login(identity, victims[i % 5]["email"], f"spray {i}", attacker)).status_code
                for i in range(22)]
    assert statuses[:20] == [401] * 20 and statuses[20:] == [429, 429]
    for victim in victims:
        assert (await login(identity, victim["email"], PASSWORD, owner)).status_code == 200


async def test_sign_out_with_the_refresh_token_alone(identity):
    member = await signed_in_member(identity, uuid.uuid4())
    out = await identity.post("/api/v1/auth/logout", json={"refresh_token": member["refresh_token"]})
    assert out.status_code == 204  # no access token sent
    refused = await identity.post("/api/v1/auth/refresh", json={"refresh_token": member["refresh_token"]})
    assert refused.status_code == 401


@pytest.mark.system
async def test_sign_out_through_the_gateway_with_the_refresh_token_alone(cast: Cast):
    email = cast.own.admins[Tier.INTEGRATOR].email
    session = (await cast.platform.http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})).json()
    out = await cast.platform.http.post("/api/v1/auth/logout", json={"refresh_token": session["refresh_token"]})
    assert out.status_code == 204, out.text  # the access token may have expired: it is not asked for
    refused = await cast.platform.http.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert refused.status_code == 401
