"""People who join an org through the public API for one attack test, so the shared cast's
members are never demoted or removed; and identity on its own, with settings of a test's own."""

import contextlib
import uuid
from dataclasses import dataclass

import httpx
import sqlalchemy as sa

from identity.db import outbox
from identity.handlers import NewInvite, create_invite
from identity.main import create_app as create_identity
from identity.settings import IdentitySettings
from shared.db import UnitOfWork
from shared.events.identity import InviteCreated
from shared.events.secrets import EventSecrets
from shared.testing import running
from tests.security.cast import Member
from tests.system.platform import PASSWORD, Platform, unique_email


@dataclass(frozen=True)
class Joined:
    id: str
    email: str
    http: httpx.AsyncClient  # signed in once it joined


async def invite_token(identity_app, invite_id: str) -> str:
    """The accept-link token of one invite, opened from its sealed copy in the outbox event (as
    notify opens it for the mail)."""
    payload = outbox.c.body["payload"]
    sealed = sa.select(payload["token"].astext).where(
        outbox.c.routing_key == InviteCreated.routing_key, payload["invite_id"].astext == invite_id)
    async with identity_app.state.session_factory() as session:
        token = (await session.execute(sealed)).scalar_one()
    return EventSecrets.from_settings(identity_app.state.settings).open(token)


def an_address() -> str:
    """A client address of the test's own (documentation range): counters are never shared."""
    return f"2001:db8::{uuid.uuid4().hex[:4]}"


async def answers(call, status: int) -> bool:
    """Whether a request answers `status` now (for `eventually`, while an event travels)."""
    return (await call()).status_code == status


def accept_body(token: str, password: str = PASSWORD) -> dict:
    return {"token": token, "first_name": "Mallory", "last_name": "Tester", "password": password}


async def join(platform: Platform, admin: Member, role: str) -> Joined:
    """Invited by `admin` with `role`, accepted, signed in."""
    email = unique_email(f"joiner-{role}")
    invited = await admin.http.post("/api/v1/invites", json={"email": email, "role": role})
    assert invited.status_code == 201, invited.text
    token = await invite_token(platform.apps["identity"], invited.json()["id"])
    accepted = await platform.http.post("/api/v1/invites/accept", json=accept_body(token))
    assert accepted.status_code == 201, accepted.text
    return Joined(accepted.json()["id"], email, await platform.sign_in(email))


@contextlib.asynccontextmanager
async def identity_alone(infrastructure, **overrides):
    """An identity service of the test's own (its own settings, e.g. low limits), over HTTP in process."""
    settings = infrastructure.settings(IdentitySettings, **{
        "admin_email": f"admin-{uuid.uuid4().hex[:8]}@example.com", "admin_password": PASSWORD, **overrides})
    app = create_identity(settings)
    async with running(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://identity") as client:
            client.app = app
            yield client


async def signed_in_member(identity, org_id: uuid.UUID, *, tier: str = "distributor", role: str = "admin") -> dict:
    """A member of `org_id` who joined through an invite of identity's own (as a new org's first
    Admin does) and signed in: {id, email, headers}."""
    email = unique_email(f"{tier}-{role}")
    async with UnitOfWork(identity.app.state.session_factory, producer="identity") as uow:
        invite = await create_invite(uow, NewInvite(org_id=org_id, tier=tier, email=email, role=role), 7)
        await uow.commit()
    # From an address of its own: the attacks of a test count against theirs, never against this.
    own_address = {"X-Forwarded-For": an_address()}
    accepted = await identity.post("/api/v1/invites/accept", headers=own_address,
                                   json=accept_body(await invite_token(identity.app, str(invite.id))))
    assert accepted.status_code == 201, accepted.text
    tokens = (await identity.post("/api/v1/auth/login", headers=own_address,
                                  json={"email": email, "password": PASSWORD})).json()
    return {"id": accepted.json()["id"], "email": email, "headers": {"Authorization": f"Bearer {tokens['access_token']}"},
            "refresh_token": tokens["refresh_token"]}
