"""Invites (hashed single-use tokens that expire), members (list, role, remove) and the rules that
guard them: tenant isolation, the permission table and the last Admin."""

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import aio_pika
import httpx
import pytest
import sqlalchemy as sa

from identity.db import invites, members, outbox
from identity.domain.passwords import hash_password
from identity.domain.tokens import token_hash
from identity.handlers import invite_first_admin
from shared.bus.topology import declare_topology
from shared.db import UnitOfWork
from shared.events.secrets import EventSecrets
from shared.testing import eventually

PASSWORD = "correct horse battery staple"
_HASH = hash_password(PASSWORD)


async def rows(identity, query):
    async with identity.app.state.session_factory() as session:
        return (await session.execute(query)).all()


async def add_member(identity, org_id, tier="distributor", role="admin") -> dict:
    """A member inserted directly, signed in: {id, email, headers, refresh}."""
    email = f"m-{uuid.uuid4().hex[:10]}@example.com"
    member_id = uuid.uuid4()
    async with identity.app.state.session_factory() as session:
        await session.execute(sa.insert(members).values(
            id=member_id, org_id=org_id, tier=tier, email=email, first_name="F", last_name="L", role=role,
            password_hash=_HASH, status="active"))
        await session.commit()
    tokens = (await identity.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})).json()
    return {"id": member_id, "email": email, "headers": {"Authorization": f"Bearer {tokens['access_token']}"},
            "refresh": tokens["refresh_token"]}


async def invite(identity, admin, role="technician", email=None) -> tuple[httpx.Response, str | None]:
    """Creates an invite; returns the response and the plain token (read from the outbox event)."""
    email = email or f"new-{uuid.uuid4().hex[:10]}@Example.com"
    response = await identity.post("/api/v1/invites", json={"email": email, "role": role}, headers=admin["headers"])
    if response.status_code != 201:
        return response, None
    return response, await _latest_token(identity, response.json()["id"])


async def _latest_token(identity, invite_id: str) -> str:
    """The plain token, opened from its sealed copy in the outbox event (as notify opens it for the mail)."""
    bodies = await rows(identity, sa.select(outbox.c.body).where(
        outbox.c.routing_key.in_(["identity.invite.created", "identity.invite.resent"])).order_by(outbox.c.id))
    mine = [body["payload"] for (body,) in bodies if body["payload"]["invite_id"] == invite_id]
    return EventSecrets.from_settings(identity.settings).open(mine[-1]["token"])


def accept_body(token):
    return {"token": token, "first_name": "Ada", "last_name": "Lovelace", "password": "a long enough password"}


@pytest.fixture
async def org(identity):
    org_id = uuid.uuid4()
    return org_id, await add_member(identity, org_id)


async def test_invite_accept_then_the_new_member_signs_in(identity, org):
    org_id, admin = org
    response, token = await invite(identity, admin, role="project_manager")
    assert response.status_code == 201, response.text
    created = response.json()
    assert "token" not in created and "token_hash" not in created
    assert created["email"].islower() and created["role"] == "project_manager"

    stored = (await rows(identity, sa.select(invites).where(invites.c.id == uuid.UUID(created["id"]))))[0]
    assert stored.token_hash == token_hash(token) and token not in tuple(stored)
    assert len(token) >= 43  # 32 random bytes

    listed = (await identity.get("/api/v1/invites", headers=admin["headers"])).json()["items"]
    assert [i["id"] for i in listed] == [created["id"]]

    accepted = await identity.post("/api/v1/invites/accept", json=accept_body(token))
    assert accepted.status_code == 201, accepted.text
    member = accepted.json()
    assert (member["org_id"], member["role"], member["tier"]) == (str(org_id), "project_manager", "distributor")
    login = await identity.post("/api/v1/auth/login", json={"email": created["email"], "password": "a long enough password"})
    assert login.status_code == 200

    again = await identity.post("/api/v1/invites/accept", json=accept_body(token))
    assert again.status_code == 410 and again.headers["content-type"].startswith("application/problem+json")
    assert (await identity.get("/api/v1/invites", headers=admin["headers"])).json()["items"] == []
    listed_members = (await identity.get("/api/v1/members", headers=admin["headers"])).json()["items"]
    assert {m["email"] for m in listed_members} == {admin["email"], created["email"]}
    created_events = await rows(identity, sa.select(outbox.c.body).where(outbox.c.routing_key == "identity.member.created"))
    assert member["id"] in [body["payload"]["member_id"] for (body,) in created_events]


async def test_an_invite_token_leaves_identity_sealed_in_the_outbox_and_on_the_broker(identity, org, infrastructure):
    """Someone who reads identity's outbox or the broker's messages finds no usable token: only
    its sealed form, which EVENT_SECRETS_KEY opens into the token that works."""
    _, admin = org
    connection = await aio_pika.connect(infrastructure.amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True)
        exchange = await declare_topology(channel, identity.settings.events_exchange)
        await queue.bind(exchange, routing_key="identity.invite.*")
        response, token = await invite(identity, admin)
        invite_id = response.json()["id"]
        assert (await identity.post(f"/api/v1/invites/{invite_id}/resend", headers=admin["headers"])).status_code == 200
        resent_token = await _latest_token(identity, invite_id)

        stored = [text for (text,) in await rows(identity, sa.select(sa.cast(outbox.c.body, sa.Text)).where(
            outbox.c.body["payload"]["invite_id"].astext == invite_id))]
        assert len(stored) == 2
        messages = []

        async def both_published():
            while (message := await queue.get(fail=False, no_ack=True)) is not None:
                if invite_id in message.body.decode():
                    messages.append(message.body.decode())
            return len(messages) == 2

        await eventually(both_published)
    finally:
        await connection.close()
    for text in stored + messages:
        assert token not in text and resent_token not in text
        assert json.loads(text)["payload"]["token"].startswith("sealed:")
    assert (await identity.post("/api/v1/invites/accept", json=accept_body(resent_token))).status_code == 201


async def test_member_list_filters_by_role_and_searches_name_email_and_phone(identity, org):
    org_id, admin = org
    response = await identity.post("/api/v1/invites", json={"email": f"p-{uuid.uuid4().hex[:8]}@example.com",
                                   "phone": "+44 20 7946 0001", "role": "auditor"}, headers=admin["headers"])
    assert response.status_code == 201, response.text
    token = await _latest_token(identity, response.json()["id"])
    assert (await identity.post("/api/v1/invites/accept", json=accept_body(token))).status_code == 201
    await add_member(identity, org_id, role="viewer")
    h = admin["headers"]
    by_phone = (await identity.get("/api/v1/members", params={"q": "7946"}, headers=h)).json()["items"]
    assert [(m["role"], m["phone"]) for m in by_phone] == [("auditor", "+44 20 7946 0001")]
    assert len((await identity.get("/api/v1/members", params={"q": "lovelace"}, headers=h)).json()["items"]) == 1
    assert len((await identity.get("/api/v1/members", params={"role": "viewer"}, headers=h)).json()["items"]) == 1
    first = (await identity.get("/api/v1/members", params={"limit": 2}, headers=h)).json()
    rest = (await identity.get("/api/v1/members", params={"limit": 2, "cursor": first["next_cursor"]}, headers=h)).json()
    assert len(first["items"]) == 2 and len(rest["items"]) == 1 and rest["next_cursor"] is None


async def test_duplicates_bad_roles_and_short_passwords_are_refused(identity, org):
    _, admin = org
    response, token = await invite(identity, admin)
    email = response.json()["email"]
    assert (await invite(identity, admin, email=email.upper()))[0].status_code == 409
    member_email = (await invite(identity, admin, email=admin["email"]))[0]
    assert member_email.status_code == 409
    assert member_email.headers["content-type"].startswith("application/problem+json")
    assert (await invite(identity, admin, role="wizard"))[0].status_code == 422
    customer_admin = await add_member(identity, uuid.uuid4(), tier="customer")
    assert (await invite(identity, customer_admin, role="technician"))[0].status_code == 422
    assert (await invite(identity, customer_admin, role="viewer"))[0].status_code == 201
    short = accept_body(token) | {"password": "short"}
    assert (await identity.post("/api/v1/invites/accept", json=short)).status_code == 422


async def test_resend_kills_the_old_token_and_expired_invites_are_refused(identity, org):
    _, admin = org
    response, old = await invite(identity, admin)
    invite_id = response.json()["id"]
    resent = await identity.post(f"/api/v1/invites/{invite_id}/resend", headers=admin["headers"])
    assert resent.status_code == 200, resent.text
    new = await _latest_token(identity, invite_id)
    assert new != old
    assert (await identity.post("/api/v1/invites/accept", json=accept_body(old))).status_code == 404

    async with identity.app.state.session_factory() as session:
        await session.execute(sa.update(invites).where(invites.c.id == uuid.UUID(invite_id))
                              .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        await session.commit()
    expired = await identity.post("/api/v1/invites/accept", json=accept_body(new))
    assert expired.status_code == 410 and "expired" in expired.json()["detail"]


async def test_a_viewer_cannot_invite_and_another_org_sees_nothing(identity, org):
    org_id, admin = org
    viewer = await add_member(identity, org_id, role="viewer")
    assert (await invite(identity, viewer))[0].status_code == 403
    response, _ = await invite(identity, admin)
    invite_id = response.json()["id"]

    stranger = await add_member(identity, uuid.uuid4())
    h = stranger["headers"]
    assert (await identity.post(f"/api/v1/invites/{invite_id}/resend", headers=h)).status_code == 404
    assert (await identity.delete(f"/api/v1/invites/{invite_id}", headers=h)).status_code == 404
    assert (await identity.get("/api/v1/invites", headers=h)).json()["items"] == []
    assert [m["id"] for m in (await identity.get("/api/v1/members", headers=h)).json()["items"]] == [str(stranger["id"])]
    for method, path, body in [("GET", "", None), ("PATCH", "", {"role": "viewer"}), ("DELETE", "", None)]:
        answer = await identity.request(method, f"/api/v1/members/{viewer['id']}{path}", json=body, headers=h)
        assert answer.status_code == 404, (method, answer.text)

    assert (await identity.delete(f"/api/v1/invites/{invite_id}", headers=admin["headers"])).status_code == 204
    assert (await identity.get("/api/v1/invites", headers=admin["headers"])).json()["items"] == []
    deleted = await rows(identity, sa.select(outbox.c.body).where(outbox.c.routing_key == "identity.invite.deleted"))
    assert invite_id in [body["payload"]["invite_id"] for (body,) in deleted]


async def test_the_last_admin_stays_and_a_removed_member_cannot_refresh(identity, org):
    org_id, admin = org
    for answer in (await identity.patch(f"/api/v1/members/{admin['id']}", json={"role": "viewer"}, headers=admin["headers"]),
                   await identity.delete(f"/api/v1/members/{admin['id']}", headers=admin["headers"])):
        assert answer.status_code == 409 and "last Admin" in answer.json()["detail"]

    tech = await add_member(identity, org_id, role="technician")
    changed = await identity.patch(f"/api/v1/members/{tech['id']}", json={"role": "support"}, headers=admin["headers"])
    assert changed.status_code == 200 and changed.json()["role"] == "support"
    assert (await identity.delete(f"/api/v1/members/{tech['id']}", headers=admin["headers"])).status_code == 204
    assert (await identity.post("/api/v1/auth/refresh", json={"refresh_token": tech["refresh"]})).status_code == 401
    assert (await identity.get(f"/api/v1/members/{tech['id']}", headers=admin["headers"])).status_code == 404
    kinds = {key for (key,) in await rows(identity, sa.select(outbox.c.routing_key))}
    assert {"identity.member.role_changed", "identity.member.removed"} <= kinds
    changes = [body["payload"] for (body,) in await rows(identity, sa.select(outbox.c.body).where(
        outbox.c.routing_key == "identity.member.role_changed"))]
    # The new token version voids the member's older access tokens in every service.
    assert {"member_id": str(tech["id"]), "org_id": str(org_id), "old_role": "technician", "new_role": "support",
            "email": tech["email"], "token_version": 1} in changes


async def test_two_concurrent_demotions_leave_one_admin(identity, org):
    org_id, first = org
    second = await add_member(identity, org_id)
    answers = await asyncio.gather(
        identity.patch(f"/api/v1/members/{first['id']}", json={"role": "viewer"}, headers=second["headers"]),
        identity.patch(f"/api/v1/members/{second['id']}", json={"role": "viewer"}, headers=first["headers"]),
    )
    # The second to run finds its caller demoted by the first: no longer an Admin, it may not.
    assert sorted(a.status_code for a in answers) == [200, 403]
    admins = await rows(identity, sa.select(members.c.id).where(members.c.org_id == org_id, members.c.role == "admin"))
    assert len(admins) == 1


async def test_a_new_organization_invites_its_first_admin_once(identity):
    org_id = uuid.uuid4()
    email = f"First-{uuid.uuid4().hex[:8]}@Example.com"
    for _ in range(2):  # a second call (redelivery, another replica) invites nobody new
        async with UnitOfWork(identity.app.state.session_factory, producer="identity") as uow:
            await invite_first_admin(uow, org_id, "integrator", email)
            await uow.commit()
    made = await rows(identity, sa.select(invites).where(invites.c.org_id == org_id))
    assert [(i.email, i.role, i.tier) for i in made] == [(email.lower(), "admin", "integrator")]
    token = await _latest_token(identity, str(made[0].id))
    accepted = await identity.post("/api/v1/invites/accept", json=accept_body(token))
    assert accepted.status_code == 201 and accepted.json()["role"] == "admin"
