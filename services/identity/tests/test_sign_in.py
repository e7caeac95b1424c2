"""Identity over the real database and broker: the vendor's first Admin, sign-in, JWKS, refresh
rotation with reuse detection, and /me."""

import asyncio
import hashlib
import uuid

import aio_pika
import httpx
import pytest
import sqlalchemy as sa

from identity.db import inbox, members, outbox, refresh_tokens, signing_keys
from identity.handlers import create_first_admin
from identity.keys import KeyRing
from shared.auth.permissions import Role, Tier
from shared.auth.tokens import JwksVerifier
from shared.bus.topology import declare_topology
from shared.db import UnitOfWork
from shared.events.envelope import Envelope
from shared.events.orgs import OrganizationCreated
from shared.testing import eventually, serving

PASSWORD = "correct horse battery staple"


@pytest.fixture
async def publish(infrastructure):
    connection = await aio_pika.connect(infrastructure.amqp_url)
    channel = await connection.channel()
    exchange = await declare_topology(channel, "licensing.events")

    async def publish(envelope: Envelope) -> Envelope:
        await exchange.publish(aio_pika.Message(envelope.model_dump_json().encode()), routing_key=envelope.type)
        return envelope

    yield publish
    await connection.close()


def vendor_created(org_id: uuid.UUID) -> Envelope:
    return Envelope.wrap(OrganizationCreated(org_id=org_id, name="Vendor", tier="vendor"), producer="orgs",
                         actor_org_id=org_id, visible_to=[org_id])


async def rows(identity, query):
    async with identity.app.state.session_factory() as session:
        return (await session.execute(query)).all()


@pytest.fixture
async def vendor_admin(identity, publish):
    """(org id, email) of the vendor Admin, created by the vendor's OrganizationCreated event."""
    org_id = uuid.uuid4()
    await publish(vendor_created(org_id))
    email = identity.settings.admin_email.lower()
    await eventually(lambda: rows(identity, sa.select(members.c.id).where(members.c.email == email)))
    return org_id, email


async def sign_in(identity, email, password=PASSWORD) -> httpx.Response:
    return await identity.post("/api/v1/auth/login", json={"email": email, "password": password})


async def test_the_vendor_admin_is_created_once_however_often_the_event_arrives(identity, publish):
    org_id = uuid.uuid4()
    first = vendor_created(org_id)
    again = vendor_created(org_id)  # the same fact, published a second time (another event id)
    for envelope in (first, first, again):
        await publish(envelope)
    await eventually(lambda: _count(identity, sa.select(inbox.c.event_id).where(
        inbox.c.event_id.in_([first.event_id, again.event_id])), 2))

    email = identity.settings.admin_email.lower()
    admins = await rows(identity, sa.select(members).where(members.c.email == email))
    assert len(admins) == 1
    admin = admins[0]
    assert (admin.org_id, admin.tier, admin.role, admin.status) == (org_id, "vendor", "admin", "active")
    assert "correct horse" not in admin.password_hash

    created = await rows(identity, sa.select(outbox.c.body).where(outbox.c.routing_key == "identity.member.created"))
    mine = [body for (body,) in created if body["payload"]["email"] == email]
    assert len(mine) == 1
    assert mine[0]["payload"] == {"member_id": str(admin.id), "org_id": str(org_id), "email": email, "role": "admin"}
    assert mine[0]["visible_to"] == [str(org_id)]

    # A second replica handling its own copy directly: nothing new.
    async with UnitOfWork(identity.app.state.session_factory, producer="identity") as uow:
        assert await create_first_admin(uow, identity.settings, org_id) is None
        await uow.commit()
    assert len(await rows(identity, sa.select(members).where(members.c.email == email))) == 1


async def test_other_tiers_get_no_admin_from_the_settings(identity, publish):
    org_id = uuid.uuid4()
    event = await publish(Envelope.wrap(OrganizationCreated(org_id=org_id, name="D", tier="distributor"),
                                        producer="orgs", actor_org_id=org_id))
    await eventually(lambda: _count(identity, sa.select(inbox.c.event_id).where(inbox.c.event_id == event.event_id), 1))
    assert await rows(identity, sa.select(members).where(members.c.org_id == org_id)) == []


async def test_sign_in_gives_a_token_that_verifies_with_the_published_keys(identity, vendor_admin):
    org_id, email = vendor_admin
    response = await sign_in(identity, email.upper())  # emails are compared lowercased
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 900 and tokens["refresh_token"]

    keys = (await identity.get("/.well-known/jwks.json")).json()["keys"]
    assert keys and all(k["kty"] == "RSA" and k["alg"] == "RS256" and k["use"] == "sig" and k["kid"] for k in keys)
    assert all("d" not in k for k in keys)  # public parts only

    async with serving(identity.app) as url:
        verifier = JwksVerifier(f"{url}/.well-known/jwks.json", audience="licensing", issuer="licensing-identity")
        caller = await verifier.verify(tokens["access_token"])
    assert (caller.org_id, caller.tier, caller.role, caller.email) == (org_id, Tier.VENDOR, Role.ADMIN, email)

    started = await rows(identity, sa.select(outbox.c.body).where(outbox.c.routing_key == "identity.session.started"))
    assert {"member_id": str(caller.user_id), "org_id": str(org_id), "email": email} in [
        body["payload"] for (body,) in started]


async def test_wrong_password_and_unknown_email_get_the_same_401(identity, vendor_admin):
    _, email = vendor_admin
    wrong_password = await sign_in(identity, email, "not the password")
    unknown_email = await sign_in(identity, f"nobody-{uuid.uuid4().hex[:6]}@example.com")
    for response in (wrong_password, unknown_email):
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")
    assert wrong_password.json()["detail"] == unknown_email.json()["detail"]


async def test_bad_login_input_is_a_clear_4xx(identity):
    malformed = await identity.post("/api/v1/auth/login", content=b"{not json",
                                    headers={"content-type": "application/json"})
    assert malformed.status_code == 400
    unknown_field = await identity.post("/api/v1/auth/login", json={"email": "a@b.c", "password": "x", "admin": True})
    assert unknown_field.status_code == 422
    wrong_type = await identity.post("/api/v1/auth/login", json={"email": 5, "password": "x"})
    assert wrong_type.status_code == 422
    too_long = await identity.post("/api/v1/auth/login", json={"email": "a" * 300 + "@b.c", "password": "x"})
    assert too_long.status_code == 422


async def test_refresh_rotates_and_reuse_revokes_the_whole_family(identity, vendor_admin):
    _, email = vendor_admin
    first = (await sign_in(identity, email)).json()["refresh_token"]

    rotated = await identity.post("/api/v1/auth/refresh", json={"refresh_token": first})
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()["refresh_token"]
    assert second != first
    assert (await identity.get("/api/v1/me", headers=_bearer(rotated.json()["access_token"]))).status_code == 200

    reused = await identity.post("/api/v1/auth/refresh", json={"refresh_token": first})
    assert reused.status_code == 401
    newer = await identity.post("/api/v1/auth/refresh", json={"refresh_token": second})
    assert newer.status_code == 401  # the family is revoked

    family = await rows(identity, sa.select(refresh_tokens).where(
        refresh_tokens.c.token_hash.in_([_sha(first), _sha(second)])))
    assert len(family) == 2 and len({row.family_id for row in family}) == 1
    assert all(row.revoked_at is not None for row in family)
    never_issued = await identity.post("/api/v1/auth/refresh", json={"refresh_token": "never-issued"})
    assert never_issued.status_code == 401


async def test_me_answers_the_signed_in_member(identity, vendor_admin):
    org_id, email = vendor_admin
    access = (await sign_in(identity, email)).json()["access_token"]
    response = await identity.get("/api/v1/me", headers=_bearer(access))
    assert response.status_code == 200, response.text
    me = response.json()
    assert me["email"] == email and me["org_id"] == str(org_id)
    assert (me["role"], me["tier"], me["first_name"], me["last_name"]) == ("admin", "vendor", "Vendor", "Admin")
    assert uuid.UUID(me["id"])

    assert (await identity.get("/api/v1/me")).status_code == 401
    tampered = access[:-4] + ("AAAA" if not access.endswith("AAAA") else "BBBB")
    assert (await identity.get("/api/v1/me", headers=_bearer(tampered))).status_code == 401


async def test_replicas_starting_together_share_one_signing_key(identity):
    rings = [KeyRing(identity.app.state.session_factory) for _ in range(4)]
    await asyncio.gather(*(ring.ensure_and_load() for ring in rings))
    assert len({ring.active.kid for ring in rings}) == 1
    assert rings[0].active.kid == identity.app.state.key_ring.active.kid
    active = await rows(identity, sa.select(signing_keys.c.kid).where(signing_keys.c.active))
    assert len(active) == 1


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def _count(identity, query, expected: int) -> bool:
    return len(await rows(identity, query)) == expected
