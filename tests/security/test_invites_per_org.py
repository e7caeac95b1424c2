"""Issue 20, items 4 and 5, and issue 21's re-invites: invites are per organization. No org can
squat an email (another org's pending or expired invite blocks nothing), an Admin learns nothing
about other orgs' members or invites, and the invited person is told at acceptance what stands in
the way; when the person accepts one invite, the other orgs' links say they are no longer valid."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from identity.db import invites, outbox
from identity.handlers import event_handlers
from shared.db import UnitOfWork
from shared.events.envelope import Envelope
from shared.events.orgs import OrganizationCreated
from tests.security.members import accept_body, identity_alone, invite_token, signed_in_member
from tests.system.platform import unique_email


@pytest.fixture
async def identity(infrastructure):
    # Dead links are this file's subject, not their count per address (test_invite_acceptance.py).
    async with identity_alone(infrastructure, sign_in_failures_per_address=100_000) as client:
        yield client


async def invite(identity, admin, email: str, role: str = "viewer"):
    return await identity.post("/api/v1/invites", json={"email": email, "role": role}, headers=admin["headers"])


async def token_of(identity, answer) -> str:
    assert answer.status_code == 201, answer.text
    return await invite_token(identity.app, answer.json()["id"])


async def test_an_org_cannot_squat_an_email_and_an_expired_invite_blocks_nothing(identity):
    squatter = await signed_in_member(identity, uuid.uuid4())
    victim_org = await signed_in_member(identity, uuid.uuid4())
    email = unique_email("wanted")
    assert (await invite(identity, squatter, email, "admin")).status_code == 201
    # The squat: another org's pending invite does not stop this org's.
    second = await invite(identity, victim_org, email, "admin")
    assert second.status_code == 201, second.text

    # Within one org the pending invite still answers 409 (resend it instead)...
    again = await invite(identity, victim_org, email.upper())
    assert again.status_code == 409 and "your organization" in again.json()["detail"]
    # ...until it has expired: then it blocks nothing, and its old link is dead.
    old_token = await token_of(identity, second)
    async with identity.app.state.session_factory() as session, session.begin():
        await session.execute(sa.update(invites).where(invites.c.id == uuid.UUID(second.json()["id"]))
                              .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    fresh = await invite(identity, victim_org, email, "admin")
    assert fresh.status_code == 201, fresh.text
    assert (await identity.post("/api/v1/invites/accept", json=accept_body(old_token))).status_code == 404
    listed = (await identity.get("/api/v1/invites", headers=victim_org["headers"])).json()["items"]
    assert [i["id"] for i in listed] == [fresh.json()["id"]]


async def test_accepting_one_invite_ends_the_other_orgs_links_with_a_reason(identity):
    first_org, second_org = await signed_in_member(identity, uuid.uuid4()), await signed_in_member(identity, uuid.uuid4())
    email = unique_email("popular")
    first = await token_of(identity, await invite(identity, first_org, email))
    second_answer = await invite(identity, second_org, email)
    second = await token_of(identity, second_answer)

    assert (await identity.post("/api/v1/invites/accept", json=accept_body(first))).status_code == 201
    for answer in (await identity.get("/api/v1/invites/accept", params={"token": second}),
                   await identity.post("/api/v1/invites/accept", json=accept_body(second))):
        assert answer.status_code == 410, answer.text
        assert "no longer valid" in answer.json()["detail"] and "joined another organization" in answer.json()["detail"]
    # The second org no longer lists it, and learns why from its event.
    assert (await identity.get("/api/v1/invites", headers=second_org["headers"])).json()["items"] == []
    async with identity.app.state.session_factory() as session:
        withdrawn = (await session.execute(sa.select(outbox.c.body).where(
            outbox.c.routing_key == "identity.invite.withdrawn"))).scalars().all()
    assert [(b["payload"]["invite_id"], b["visible_to"]) for b in withdrawn] == [
        (second_answer.json()["id"], [second_answer.json()["org_id"]])]


async def test_an_admin_learns_nothing_about_other_orgs_and_the_invitee_is_told_at_acceptance(identity):
    other_org = await signed_in_member(identity, uuid.uuid4())
    member_elsewhere = await signed_in_member(identity, uuid.uuid4(), role="viewer")
    pending_elsewhere = unique_email("pending")
    assert (await invite(identity, other_org, pending_elsewhere)).status_code == 201

    prober = await signed_in_member(identity, uuid.uuid4())
    # The probe: a member of another org, an invite pending in another org, and an unknown email all
    # answer alike.
    answers = [await invite(identity, prober, email)
               for email in (member_elsewhere["email"], pending_elsewhere, unique_email("nobody"))]
    assert [a.status_code for a in answers] == [201, 201, 201], [a.text for a in answers]
    # About its own org it is told: a member here, an invite here.
    own = await invite(identity, prober, prober["email"])
    assert own.status_code == 409 and "member of your organization" in own.json()["detail"]

    # The member of another org learns at acceptance what stands in the way, before any form.
    token = await token_of(identity, answers[0])
    for answer in (await identity.get("/api/v1/invites/accept", params={"token": token}),
                   await identity.post("/api/v1/invites/accept", json=accept_body(token))):
        assert answer.status_code == 409, answer.text
        assert "member of one organization" in answer.json()["detail"]


async def test_a_removed_member_can_be_invited_again(identity):
    admin = await signed_in_member(identity, org_id := uuid.uuid4())
    leaver = await signed_in_member(identity, org_id, role="technician")
    assert (await identity.delete(f"/api/v1/members/{leaver['id']}", headers=admin["headers"])).status_code == 204

    token = await token_of(identity, await invite(identity, admin, leaver["email"], "support"))
    back = await identity.post("/api/v1/invites/accept", json=accept_body(token))
    assert back.status_code == 201, back.text
    assert back.json()["id"] != leaver["id"] and back.json()["role"] == "support"
    signed_in = await identity.post("/api/v1/auth/login", json={"email": leaver["email"],
                                                                "password": accept_body(token)["password"]})
    assert signed_in.status_code == 200
    me = await identity.get("/api/v1/me", headers={"Authorization": f"Bearer {signed_in.json()['access_token']}"})
    assert me.json()["role"] == "support"


async def organization_created(identity, **fields) -> OrganizationCreated:
    """The orgs event as identity's consumer hands it over."""
    event = OrganizationCreated(org_id=uuid.uuid4(), name="New Co", tier="integrator", **fields)
    envelope = Envelope.wrap(event, producer="orgs", visible_to=[event.org_id], actor_org_id=fields.get("parent_id"))
    handle = event_handlers(identity.app.state.settings)[OrganizationCreated.routing_key]
    async with UnitOfWork(identity.app.state.session_factory, producer="identity") as uow:
        await handle(uow, envelope)
        await uow.commit()
    return event


async def test_an_email_invited_by_one_org_becomes_another_orgs_first_admin(identity):
    squatter = await signed_in_member(identity, uuid.uuid4())
    email = unique_email("first-admin")
    assert (await invite(identity, squatter, email, "admin")).status_code == 201

    parent = uuid.uuid4()
    created = await organization_created(identity, parent_id=parent, default_representative_email=email)
    async with identity.app.state.session_factory() as session:
        made = (await session.execute(sa.select(invites.c.id).where(invites.c.org_id == created.org_id))).scalars().all()
    assert len(made) == 1  # not skipped because another org invited the email first
    accepted = await identity.post("/api/v1/invites/accept",
                                   json=accept_body(await invite_token(identity.app, str(made[0]))))
    assert accepted.status_code == 201 and accepted.json()["org_id"] == str(created.org_id)
    assert accepted.json()["role"] == "admin"


async def test_a_first_admin_invite_that_cannot_be_sent_is_reported_to_the_creator(identity):
    parent = uuid.uuid4()
    created = await organization_created(identity, parent_id=parent)  # no address to invite
    async with identity.app.state.session_factory() as session:
        reported = (await session.execute(sa.select(outbox.c.body).where(
            outbox.c.routing_key == "identity.invite.failed"))).scalars().all()
    mine = [body for body in reported if body["payload"]["org_id"] == str(created.org_id)]
    assert len(mine) == 1
    # Visible to the org that created it (its audit log shows it), and to the new org.
    assert set(mine[0]["visible_to"]) == {str(parent), str(created.org_id)}
    assert "no admin email" in mine[0]["payload"]["reason"]
