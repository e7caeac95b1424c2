"""Issue 20, item 2: accepting an invite with made-up tokens costs no password hash, and an
address that keeps presenting dead links is slowed down as failed sign-ins are; a live invite is
still accepted, from anywhere. Issue 21: the accept page can ask what a link is for."""

import uuid

import pytest

from identity.api import invites as invites_api
from identity.domain.passwords import hash_password
from tests.security.members import accept_body, an_address, identity_alone, invite_token, signed_in_member
from tests.system.platform import unique_email



@pytest.fixture
async def identity(infrastructure):
    # Requests come through a trusted proxy that names the client (as the gateway does).
    async with identity_alone(infrastructure, sign_in_failures_per_address=5, trusted_proxies="127.0.0.1/32") as client:
        yield client


@pytest.fixture
def hashes(monkeypatch) -> list[str]:
    """Every password the accept route hashes."""
    hashed = []

    def counting(password: str) -> str:
        hashed.append(password)
        return hash_password(password)

    monkeypatch.setattr(invites_api, "hash_password", counting)
    return hashed


def sent_from(address: str) -> dict:
    return {"X-Forwarded-For": address}


async def test_made_up_tokens_hash_nothing_and_the_address_is_slowed(identity, hashes):
    attacker, invitee = an_address(), an_address()
    answers = [await identity.post("/api/v1/invites/accept", json=accept_body(f"made-up-{i}"),
                                   headers=sent_from(attacker)) for i in range(7)]
    assert [a.status_code for a in answers] == [404] * 5 + [429] * 2
    assert hashes == []  # the link is checked before the password is hashed
    assert int(answers[-1].headers["Retry-After"]) >= 1
    assert "invalid invite links from this address" in answers[-1].json()["detail"]
    # Asking the accept page's question with made-up tokens counts the same way.
    looked = await identity.get("/api/v1/invites/accept", params={"token": "made-up"}, headers=sent_from(attacker))
    assert looked.status_code == 429

    # The legitimate invitee, from its own address, is not held up, and its password is hashed once.
    admin = await signed_in_member(identity, uuid.uuid4())
    hashes.clear()
    created = await identity.post("/api/v1/invites", json={"email": unique_email("real"), "role": "viewer"},
                                  headers=admin["headers"])
    token = await invite_token(identity.app, created.json()["id"])
    accepted = await identity.post("/api/v1/invites/accept", json=accept_body(token), headers=sent_from(invitee))
    assert accepted.status_code == 201, accepted.text
    assert hashes == [accept_body(token)["password"]]


async def test_the_accept_page_learns_what_the_link_is_for_and_a_dead_link_says_so(identity):
    invitee = an_address()
    admin = await signed_in_member(identity, uuid.uuid4())
    email = unique_email("page")
    created = await identity.post("/api/v1/invites", json={"email": email, "role": "auditor"}, headers=admin["headers"])
    token = await invite_token(identity.app, created.json()["id"])

    shown = await identity.get("/api/v1/invites/accept", params={"token": token}, headers=sent_from(invitee))
    assert shown.status_code == 200, shown.text
    assert {k: shown.json()[k] for k in ("email", "role", "tier", "org_id")} == {
        "email": email, "role": "auditor", "tier": "distributor", "org_id": created.json()["org_id"]}
    assert "token" not in shown.json()

    accepted = await identity.post("/api/v1/invites/accept", json=accept_body(token), headers=sent_from(invitee))
    assert accepted.status_code == 201, accepted.text
    used = await identity.get("/api/v1/invites/accept", params={"token": token}, headers=sent_from(invitee))
    assert used.status_code == 410 and "already been used" in used.json()["detail"]
    assert used.headers["content-type"].startswith("application/problem+json")
    unknown = await identity.get("/api/v1/invites/accept", params={"token": "x" * 40}, headers=sent_from(invitee))
    assert unknown.status_code == 404 and "not valid" in unknown.json()["detail"]
