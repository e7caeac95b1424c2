"""Failed sign-ins slowed per account and per address (counted in the database), sign-out, and a
removed member's tokens, over the real database."""

import asyncio
import ipaddress
import time
import uuid

import httpx
import jwt
import pytest
import sqlalchemy as sa

from identity.db import refresh_tokens, sign_in_attempts
from shared.auth.tokens import InvalidToken, JwksVerifier
from shared.testing import serving

PASSWORD = "correct horse battery staple"


def an_address() -> str:
    """A client address of the test's own (documentation range), so tests never share counters."""
    return str(ipaddress.ip_address(f"2001:db8::{uuid.uuid4().hex[:4]}"))


async def login(identity, email: str, password: str = PASSWORD, address: str | None = None) -> httpx.Response:
    headers = {"X-Forwarded-For": address} if address else {}
    return await identity.post("/api/v1/auth/login", json={"email": email, "password": password}, headers=headers)


async def attempts(identity, **where) -> int:
    async with identity.app.state.session_factory() as session:
        query = sa.select(sa.func.count()).select_from(sign_in_attempts)
        for column, value in where.items():
            query = query.where(sign_in_attempts.c[column] == value)
        return (await session.execute(query)).scalar_one()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_past_the_limit_the_failing_address_waits_and_the_account_still_signs_in_elsewhere(
        start_identity, new_member):
    async with start_identity(sign_in_failures_per_account=3, sign_in_failures_per_address=100) as identity:
        _, email = await new_member(identity, uuid.uuid4())
        address = an_address()
        for _ in range(3):
            assert (await login(identity, email, "wrong password", address)).status_code == 401
        blocked = await login(identity, email, PASSWORD, address)
        assert blocked.status_code == 429
        assert blocked.headers["content-type"].startswith("application/problem+json")
        assert 1 <= int(blocked.headers["Retry-After"]) <= 900
        assert blocked.json()["detail"] == ("Too many failed sign-ins for this account from this address."
                                            f" Try again in {blocked.headers['Retry-After']} seconds.")
        # No lockout by anyone: the right password from an address that has not been failing works.
        assert (await login(identity, email.upper(), PASSWORD, an_address())).status_code == 200
        # Another account from the same address is not held up.
        _, other = await new_member(identity, uuid.uuid4())
        assert (await login(identity, other, PASSWORD, address)).status_code == 200
        # A refused attempt is not counted as a failure.
        assert await attempts(identity, kind="account-address", subject=f"{email} {address}") == 3


async def test_a_successful_sign_in_clears_the_account_counter(start_identity, new_member):
    async with start_identity(sign_in_failures_per_account=3, sign_in_failures_per_address=100) as identity:
        _, email = await new_member(identity, uuid.uuid4())
        address = an_address()
        for _ in range(2):
            assert (await login(identity, email, "wrong password", address)).status_code == 401
        assert (await login(identity, email, PASSWORD, address)).status_code == 200
        assert await attempts(identity, kind="account-address", subject=f"{email} {address}") == 0
        assert await attempts(identity, kind="address", subject=address) == 2  # the address keeps its failures
        statuses = [(await login(identity, email, "wrong password", address)).status_code for _ in range(4)]
        assert statuses == [401, 401, 401, 429]


async def test_past_the_address_limit_every_account_from_it_waits(start_identity, new_member):
    async with start_identity(sign_in_failures_per_account=100, sign_in_failures_per_address=4) as identity:
        _, email = await new_member(identity, uuid.uuid4())
        address = an_address()
        for _ in range(4):  # guessing across many accounts
            assert (await login(identity, f"guess-{uuid.uuid4().hex[:6]}@example.com", "x", address)).status_code == 401
        blocked = await login(identity, email, PASSWORD, address)
        assert blocked.status_code == 429 and "from this address" in blocked.json()["detail"]
        assert int(blocked.headers["Retry-After"]) >= 1
        assert (await login(identity, email, PASSWORD, an_address())).status_code == 200


async def test_x_forwarded_for_counts_only_from_a_trusted_proxy(start_identity, new_member):
    async with start_identity(trusted_proxies="192.0.2.1", sign_in_failures_per_address=2,
                              sign_in_failures_per_account=100) as identity:
        peer = an_address()  # a direct client, not the trusted proxy, that forges X-Forwarded-For
        transport = httpx.ASGITransport(app=identity.app, client=(peer, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://identity") as direct:
            for _ in range(2):
                forged = await login(direct, f"g-{uuid.uuid4().hex[:6]}@example.com", "x", an_address())
                assert forged.status_code == 401
            _, email = await new_member(identity, uuid.uuid4())
            blocked = await login(direct, email, PASSWORD, an_address())  # a new forged address does not help
            assert blocked.status_code == 429
        assert await attempts(identity, kind="address", subject=peer) == 2


async def test_the_block_ends_when_the_failures_leave_the_window(start_identity, new_member):
    async with start_identity(sign_in_failures_per_account=1, sign_in_failure_window_seconds=600) as identity:
        _, email = await new_member(identity, uuid.uuid4())
        address = an_address()
        assert (await login(identity, email, "wrong password", address)).status_code == 401
        blocked = await login(identity, email, PASSWORD, address)
        assert blocked.status_code == 429 and 590 <= int(blocked.headers["Retry-After"]) <= 600
        # Ten minutes pass for the recorded failure (moved back in time rather than slept through,
        # so a slow machine cannot make the test flaky).
        async with identity.app.state.session_factory() as session, session.begin():
            await session.execute(
                sa.update(sign_in_attempts).where(sign_in_attempts.c.subject.in_([address, f"{email} {address}"]))
                .values(attempted_at=sign_in_attempts.c.attempted_at - sa.text("interval '601 seconds'")))
        assert (await login(identity, email, PASSWORD, address)).status_code == 200


async def test_concurrent_guesses_get_no_more_password_checks_than_the_limit(start_identity, new_member):
    async with start_identity(sign_in_failures_per_account=3, sign_in_failures_per_address=100) as identity:
        _, email = await new_member(identity, uuid.uuid4())
        address = an_address()
        answers = await asyncio.gather(*(login(identity, email, f"guess {i}", address) for i in range(10)))
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses == [401] * 3 + [429] * 7


async def test_sign_out_revokes_the_whole_family_and_only_it(identity, new_member):
    _, email = await new_member(identity, uuid.uuid4())
    first = (await login(identity, email, address=an_address())).json()
    other_session = (await login(identity, email, address=an_address())).json()
    rotated = (await identity.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})).json()

    out = await identity.post("/api/v1/auth/logout", json={"refresh_token": rotated["refresh_token"]})
    assert out.status_code == 204 and out.content == b""
    for token in (first["refresh_token"], rotated["refresh_token"]):
        assert (await identity.post("/api/v1/auth/refresh", json={"refresh_token": token})).status_code == 401
    # The member's other session goes on.
    assert (await identity.post("/api/v1/auth/refresh",
                                json={"refresh_token": other_session["refresh_token"]})).status_code == 200

    again = await identity.post("/api/v1/auth/logout", json={"refresh_token": rotated["refresh_token"]})
    assert again.status_code == 204
    assert (await identity.post("/api/v1/auth/logout", json={"refresh_token": "never-issued"})).status_code == 204
    assert (await identity.post("/api/v1/auth/logout", json={})).status_code == 422
    assert (await identity.post("/api/v1/auth/logout", json={"refresh_token": "x", "all": True})).status_code == 422


async def test_sign_out_everywhere_revokes_every_session_of_the_caller_only(identity, new_member):
    org_id = uuid.uuid4()
    member_id, email = await new_member(identity, org_id)
    _, colleague = await new_member(identity, org_id)
    sessions = [(await login(identity, email, address=an_address())).json() for _ in range(2)]
    theirs = (await login(identity, colleague, address=an_address())).json()

    assert (await identity.post("/api/v1/auth/logout-all")).status_code == 401
    out = await identity.post("/api/v1/auth/logout-all", headers=bearer(sessions[0]["access_token"]))
    assert out.status_code == 204
    for session in sessions:
        refused = await identity.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
        assert refused.status_code == 401
    async with identity.app.state.session_factory() as db:
        live = (await db.execute(sa.select(sa.func.count()).select_from(refresh_tokens).where(
            refresh_tokens.c.member_id == member_id, refresh_tokens.c.revoked_at.is_(None)))).scalar_one()
    assert live == 0
    assert (await identity.post("/api/v1/auth/refresh", json={"refresh_token": theirs["refresh_token"]})).status_code == 200


async def test_a_removed_members_refresh_fails_at_once_and_access_ends_with_its_short_lifetime(
        start_identity, new_member):
    async with start_identity(access_token_ttl_seconds=8) as identity:
        org_id = uuid.uuid4()
        _, admin_email = await new_member(identity, org_id)
        member_id, email = await new_member(identity, org_id, role="technician")
        admin = (await login(identity, admin_email, address=an_address())).json()
        tokens = (await login(identity, email, address=an_address())).json()
        assert tokens["expires_in"] == 8
        claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
        assert claims["exp"] - claims["iat"] == 8

        removed = await identity.delete(f"/api/v1/members/{member_id}", headers=bearer(admin["access_token"]))
        assert removed.status_code == 204
        refused = await identity.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refused.status_code == 401
        assert (await identity.get("/api/v1/me", headers=bearer(tokens["access_token"]))).status_code == 401
        assert (await login(identity, email, address=an_address())).status_code == 401

        # The verifier alone checks the signature and expiry; the services' token dependency also
        # refuses it at once from the removal event on (tests/security/test_revoked_roles.py).
        async with serving(identity.app) as url:
            verifier = JwksVerifier(f"{url}/.well-known/jwks.json", audience="licensing", issuer="licensing-identity")
            assert (await verifier.verify(tokens["access_token"])).user_id == member_id
            await asyncio.sleep(max(0.0, claims["exp"] + 1.1 - time.time()))
            with pytest.raises(InvalidToken, match="expired"):
                await verifier.verify(tokens["access_token"])
