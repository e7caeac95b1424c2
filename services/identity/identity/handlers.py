"""Identity's commands and its reactions to bus events: the only place its state changes.

The routers validate, call one of these inside a unit of work, and shape the answer; each handler
owns its rules, its state change and the events it records.
"""

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from identity.db import invites, members, org_directory, refresh_tokens
from identity.domain.invites import expiry, is_expired, new_invite_token, role_allowed
from identity.domain.passwords import hash_password
from identity.domain.tokens import new_refresh_token, normalize_email, token_hash
from identity.settings import IdentitySettings
from shared.auth.permissions import Role, Tier
from shared.auth.tokens import Caller
from shared.bus.consumer import EventHandler
from shared.db import UnitOfWork
from shared.events.envelope import Envelope
from shared.events.identity import (
    FirstAdminInviteFailed,
    InviteCreated,
    InviteDeleted,
    InviteResent,
    InviteWithdrawn,
    MemberCreated,
    MemberRemoved,
    MemberRoleChanged,
    SignedIn,
)
from shared.events.orgs import OrganizationCreated
from shared.org_directory import ORG_DIRECTORY_HANDLERS
from shared.problems import Problem

INVITE_COLUMNS = (invites.c.id, invites.c.org_id, invites.c.email, invites.c.phone, invites.c.role,
                  invites.c.expires_at, invites.c.created_at)
MEMBER_COLUMNS = (members.c.id, members.c.org_id, members.c.email, members.c.first_name, members.c.last_name,
                  members.c.phone, members.c.role, members.c.created_at)
PENDING = sa.and_(invites.c.accepted_at.is_(None), invites.c.withdrawn_at.is_(None), sa.not_(invites.c.deleted))
ACTIVE = members.c.status == "active"

INVITE_NOT_FOUND = "No such invite in your organization."
MEMBER_NOT_FOUND = "No such member in your organization."
_LAST_ADMIN = "An organization must keep at least one Admin: the last Admin cannot be removed or demoted."
_BAD_TOKEN = "This invite link is not valid. Ask for a new invite."


# Organizations (the orgs events).

def event_handlers(settings: IdentitySettings) -> dict[str, EventHandler]:
    keep_directory = ORG_DIRECTORY_HANDLERS[OrganizationCreated.routing_key]

    async def on_organization_created(uow: UnitOfWork, envelope: Envelope) -> None:
        await keep_directory(uow, envelope)
        org = envelope.payload_as(OrganizationCreated)
        if org.tier == Tier.VENDOR:
            await create_first_admin(uow, settings, org.org_id)
            return
        # Other tiers get their first Admin by invite: a distributor's admin_email, or the default
        # representative of an integrator or customer.
        await invite_first_admin(uow, org.org_id, org.tier, org.admin_email or org.default_representative_email,
                                 settings.invite_ttl_days, parent_id=org.parent_id)

    return {**ORG_DIRECTORY_HANDLERS, OrganizationCreated.routing_key: on_organization_created}


async def create_first_admin(uow: UnitOfWork, settings: IdentitySettings, org_id: uuid.UUID) -> uuid.UUID | None:
    """Idempotent: the inbox drops a redelivered event, and the one active member per email makes
    a second event (or a second replica) insert nothing and record nothing."""
    email = normalize_email(settings.admin_email)
    password_hash = await asyncio.to_thread(hash_password, settings.admin_password.get_secret_value())
    member_id = uuid.uuid4()
    inserted = (
        await uow.session.execute(
            insert(members)
            .values(id=member_id, org_id=org_id, tier=Tier.VENDOR.value, email=email, first_name="Vendor",
                    last_name="Admin", role=Role.ADMIN.value, password_hash=password_hash, status="active")
            .on_conflict_do_nothing(index_elements=["email"], index_where=sa.text("status = 'active'"))
            .returning(members.c.id)
        )
    ).scalar_one_or_none()
    if inserted is None:
        return None
    uow.record(MemberCreated(member_id=member_id, org_id=org_id, email=email, role=Role.ADMIN.value),
               visible_to=[org_id], actor_org_id=org_id)
    return member_id


async def invite_first_admin(uow: UnitOfWork, org_id: uuid.UUID, tier: str, email: str | None, ttl_days: int = 7,
                             *, parent_id: uuid.UUID | None = None) -> uuid.UUID | None:
    """Invites an organization's first Admin; nothing when this org has invited the email already
    (a second event or replica). Invites are per org, so another org's invite or membership of the
    email never stops it: the invited person is told at acceptance what stands in the way. An org
    with no address to invite is reported to the org that created it, and to itself."""
    if not email:
        uow.record(FirstAdminInviteFailed(org_id=org_id, parent_id=parent_id,
                                          reason="The organization has no admin email or default representative."),
                   visible_to=[org for org in (parent_id, org_id) if org is not None], actor_org_id=parent_id)
        return None
    try:
        row = await create_invite(uow, NewInvite(org_id=org_id, tier=str(tier), email=email, role=Role.ADMIN.value),
                                  ttl_days)
    except Problem as refusal:
        if refusal.status == 409:
            return None
        raise
    return row.id


# Invites.

@dataclass(frozen=True)
class NewInvite:
    org_id: uuid.UUID
    tier: str
    email: str
    role: str
    phone: str | None = None
    invited_by: uuid.UUID | None = None  # None: identity itself (an organization's first Admin)


async def create_invite(uow: UnitOfWork, invite: NewInvite, ttl_days: int) -> Row:
    """Answers only about the inviting org's own state (already a member here, already invited
    here: 409); about other orgs it reveals nothing. An expired invite blocks nothing."""
    if not role_allowed(invite.tier, invite.role):
        raise Problem(422, f"The role '{invite.role}' does not exist for a {invite.tier} organization.")
    if invite.invited_by is not None:
        await _refuse_if_archived(uow, invite.org_id)
    email = normalize_email(invite.email)
    now = datetime.now(UTC)
    # One (org, email) at a time, so the checks below and the insert cannot race.
    await uow.session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(f"{invite.org_id} {email}"))))
    here = sa.and_(members.c.email == email, members.c.org_id == invite.org_id, ACTIVE)
    if (await uow.session.execute(sa.select(members.c.id).where(here))).first():
        raise Problem(409, "This email already belongs to a member of your organization.")
    pending = (await uow.session.execute(sa.select(invites.c.id, invites.c.expires_at).where(
        invites.c.org_id == invite.org_id, invites.c.email == email, PENDING))).one_or_none()
    if pending is not None:
        if not is_expired(pending.expires_at, now):
            raise Problem(409, "This email already has a pending invite from your organization; resend it instead.")
        await uow.session.execute(sa.update(invites).where(invites.c.id == pending.id).values(deleted=True))
    token = new_invite_token()
    expires_at = expiry(now, ttl_days)
    invite_id = uuid.uuid4()
    row = (await uow.session.execute(
        sa.insert(invites).values(id=invite_id, org_id=invite.org_id, tier=invite.tier, email=email, phone=invite.phone,
                                  role=invite.role, token_hash=token_hash(token), expires_at=expires_at)
        .returning(*INVITE_COLUMNS)
    )).one()
    # The plain token rides in the event (inside the bus only, sealed) so notify can mail the link.
    uow.record(InviteCreated(invite_id=invite_id, org_id=invite.org_id, email=email, role=invite.role, token=token,
                             expires_at=expires_at),
               visible_to=[invite.org_id], actor_org_id=invite.org_id, actor_user_id=invite.invited_by)
    return row


async def _refuse_if_archived(uow: UnitOfWork, org_id: uuid.UUID) -> None:
    status = (await uow.session.execute(
        sa.select(org_directory.c.status).where(org_directory.c.id == org_id))).scalar_one_or_none()
    if status == "archived":
        raise Problem(409, "Your organization is archived: it cannot invite new members until it is unarchived.")


async def resend_invite(uow: UnitOfWork, caller: Caller, invite_id: uuid.UUID, ttl_days: int) -> Row:
    await _refuse_if_archived(uow, caller.org_id)
    token = new_invite_token()
    expires_at = expiry(datetime.now(UTC), ttl_days)
    row = (await uow.session.execute(
        sa.update(invites)
        .where(invites.c.id == invite_id, invites.c.org_id == caller.org_id, PENDING)
        .values(token_hash=token_hash(token), expires_at=expires_at)  # the old token dies here
        .returning(*INVITE_COLUMNS)
    )).one_or_none()
    if row is None:
        raise Problem(404, INVITE_NOT_FOUND)
    uow.record(InviteResent(invite_id=invite_id, org_id=caller.org_id, email=row.email, role=row.role,
                            token=token, expires_at=expires_at),
               visible_to=[caller.org_id], actor_org_id=caller.org_id, actor_user_id=caller.user_id)
    return row


async def delete_invite(uow: UnitOfWork, caller: Caller, invite_id: uuid.UUID) -> None:
    email = (await uow.session.execute(
        sa.update(invites)
        .where(invites.c.id == invite_id, invites.c.org_id == caller.org_id, PENDING)
        .values(deleted=True).returning(invites.c.email)
    )).scalar_one_or_none()
    if email is None:
        raise Problem(404, INVITE_NOT_FOUND)
    uow.record(InviteDeleted(invite_id=invite_id, org_id=caller.org_id, email=email),
               visible_to=[caller.org_id], actor_org_id=caller.org_id, actor_user_id=caller.user_id)


async def live_invite(session: AsyncSession, token: str, *, for_update: bool = False) -> Row:
    """The invite of an accept link, when it can still be accepted; else a Problem that tells the
    invited person what stands in the way. Cheap: no password is hashed before this passes."""
    query = sa.select(invites).where(invites.c.token_hash == token_hash(token))
    invite = (await session.execute(query.with_for_update() if for_update else query)).one_or_none()
    if invite is None or invite.deleted:  # no such invite (any more)
        raise Problem(404, _BAD_TOKEN)
    if invite.withdrawn_at is not None:
        raise Problem(410, "This invite is no longer valid: its email has joined another organization.")
    if invite.accepted_at is not None:
        raise Problem(410, "This invite has already been used. Sign in, or ask for a new invite.")
    if is_expired(invite.expires_at, datetime.now(UTC)):
        raise Problem(410, "This invite has expired. Ask an Admin of the organization to resend it.")
    if (await session.execute(sa.select(members.c.id).where(members.c.email == invite.email, ACTIVE))).first():
        raise Problem(409, "This email already belongs to a member of an organization, and a person is a member of"
                           " one organization only. Sign in with it, or ask that organization's Admin to remove you"
                           " first; this invite stays valid until it expires.")
    return invite


async def organization_name(session: AsyncSession, org_id: uuid.UUID) -> str | None:
    return (await session.execute(
        sa.select(org_directory.c.name).where(org_directory.c.id == org_id))).scalar_one_or_none()


@dataclass(frozen=True)
class AcceptInvite:
    token: str
    first_name: str
    last_name: str
    password_hash: str  # hashed by the caller, outside the transaction, once the link was found live


async def accept_invite(uow: UnitOfWork, command: AcceptInvite) -> Row:
    """Makes the invited person a member; the other orgs' pending invites of the email end, and
    their links say so."""
    email = (await live_invite(uow.session, command.token)).email
    # The email's lock before any invite row's: an accept of the same email elsewhere withdraws
    # this org's invite, and taking the locks in one order keeps the two from deadlocking.
    await uow.session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(f"member {email}"))))
    invite = await live_invite(uow.session, command.token, for_update=True)  # another accept may have won meanwhile
    member_id = uuid.uuid4()
    member = (await uow.session.execute(
        sa.insert(members).values(id=member_id, org_id=invite.org_id, tier=invite.tier, email=invite.email,
                                  first_name=command.first_name, last_name=command.last_name, phone=invite.phone,
                                  role=invite.role, password_hash=command.password_hash, status="active")
        .returning(*MEMBER_COLUMNS, members.c.tier)
    )).one()
    now = datetime.now(UTC)
    await uow.session.execute(sa.update(invites).where(invites.c.id == invite.id).values(accepted_at=now))
    withdrawn = (await uow.session.execute(
        sa.update(invites).where(invites.c.email == invite.email, PENDING).values(withdrawn_at=now)
        .returning(invites.c.id, invites.c.org_id)
    )).all()
    for other in withdrawn:
        uow.record(InviteWithdrawn(invite_id=other.id, org_id=other.org_id, email=invite.email),
                   visible_to=[other.org_id], actor_org_id=invite.org_id, actor_user_id=member_id)
    uow.record(MemberCreated(member_id=member_id, org_id=invite.org_id, email=invite.email, role=invite.role),
               visible_to=[invite.org_id], actor_org_id=invite.org_id, actor_user_id=member_id)
    return member


# Sessions: refresh tokens (opaque, stored as a sha256) that rotate and can be revoked.

async def active_member_by_email(session: AsyncSession, email: str) -> Row | None:
    return (await session.execute(sa.select(members).where(members.c.email == email, ACTIVE))).one_or_none()


async def start_session(uow: UnitOfWork, member: Row, ttl_seconds: int) -> str:
    """After a correct password: a new session (refresh-token family); returns its refresh token."""
    refresh = await _store_refresh_token(uow, member.id, uuid.uuid4(), ttl_seconds)
    uow.record(SignedIn(member_id=member.id, org_id=member.org_id, email=member.email),
               visible_to=[member.org_id], actor_org_id=member.org_id, actor_user_id=member.id)
    return refresh


async def rotate_refresh_token(uow: UnitOfWork, presented_token: str, ttl_seconds: int) -> tuple[Row | None, str]:
    """The member and the next refresh token of the session; (None, "") when the token may not be
    used. Reuse of a rotated (or revoked) token means someone else may hold the family: it all ends."""
    now = datetime.now(UTC)
    presented = (await uow.session.execute(
        sa.select(refresh_tokens).where(refresh_tokens.c.token_hash == token_hash(presented_token)).with_for_update()
    )).one_or_none()
    if presented is None:
        return None, ""
    if presented.used_at is not None or presented.revoked_at is not None:
        await _revoke(uow, refresh_tokens.c.family_id == presented.family_id)
        return None, ""
    member = (await uow.session.execute(sa.select(members).where(members.c.id == presented.member_id))).one()
    if presented.expires_at <= now or member.status != "active":
        return None, ""
    await uow.session.execute(sa.update(refresh_tokens).where(refresh_tokens.c.id == presented.id).values(used_at=now))
    return member, await _store_refresh_token(uow, member.id, presented.family_id, ttl_seconds)


async def end_session(uow: UnitOfWork, refresh_token: str) -> None:
    """Revokes the whole family of the refresh token; nothing when it is unknown."""
    family = sa.select(refresh_tokens.c.family_id).where(
        refresh_tokens.c.token_hash == token_hash(refresh_token)).scalar_subquery()
    await _revoke(uow, refresh_tokens.c.family_id == family)


async def end_every_session(uow: UnitOfWork, member_id: uuid.UUID) -> None:
    await _revoke(uow, refresh_tokens.c.member_id == member_id)


async def _revoke(uow: UnitOfWork, which: sa.ColumnElement[bool]) -> None:
    await uow.session.execute(sa.update(refresh_tokens).where(which, refresh_tokens.c.revoked_at.is_(None))
                              .values(revoked_at=datetime.now(UTC)))


async def _store_refresh_token(uow: UnitOfWork, member_id: uuid.UUID, family_id: uuid.UUID, ttl_seconds: int) -> str:
    token = new_refresh_token()
    await uow.session.execute(sa.insert(refresh_tokens).values(
        id=uuid.uuid4(), family_id=family_id, member_id=member_id, token_hash=token_hash(token),
        expires_at=datetime.now(UTC) + timedelta(seconds=ttl_seconds)))
    return token


# Members.

async def current_member(session: AsyncSession, caller: Caller) -> Caller:
    """The caller as identity's own row has it now: a removed member is refused, a demoted one
    acts with the new role, whatever the token says."""
    row = (await session.execute(sa.select(members.c.role, members.c.tier, members.c.email).where(
        members.c.id == caller.user_id, members.c.org_id == caller.org_id, ACTIVE))).one_or_none()
    if row is None:
        raise Problem(401, "This account no longer exists. Sign in again.", headers={"WWW-Authenticate": "Bearer"})
    return Caller(user_id=caller.user_id, org_id=caller.org_id, tier=Tier(row.tier), role=Role(row.role),
                  email=row.email, token_version=caller.token_version)


async def _lock_admins_and_member(uow: UnitOfWork, caller: Caller, member_id: uuid.UUID):
    """Locks the org's active Admin rows (and the target) FOR UPDATE, in id order, so two concurrent
    demotions/removals of the last Admins are serialized and the second sees the first. The caller
    must still be one of those Admins once the locks are held."""
    locked = (await uow.session.execute(
        sa.select(members.c.id, members.c.role).where(
            members.c.org_id == caller.org_id, ACTIVE,
            sa.or_(members.c.role == Role.ADMIN.value, members.c.id == member_id))
        .order_by(members.c.id).with_for_update()
    )).all()
    admins = {row.id for row in locked if row.role == Role.ADMIN.value}
    if caller.user_id not in admins:
        raise Problem(403, "You are no longer an Admin of this organization.")
    target = next((row for row in locked if row.id == member_id), None)
    if target is None:
        raise Problem(404, MEMBER_NOT_FOUND)
    return target, len(admins)


async def change_role(uow: UnitOfWork, caller: Caller, member_id: uuid.UUID, role: str) -> Row:
    """A new role voids the member's access tokens everywhere (a new token version)."""
    if not role_allowed(caller.tier, role):
        raise Problem(422, f"The role '{role}' does not exist for a {caller.tier.value} organization.")
    target, admins = await _lock_admins_and_member(uow, caller, member_id)
    if target.role == Role.ADMIN.value and role != Role.ADMIN.value and admins <= 1:
        raise Problem(409, _LAST_ADMIN)
    if target.role == role:
        return (await uow.session.execute(sa.select(*MEMBER_COLUMNS).where(members.c.id == member_id))).one()
    row = (await uow.session.execute(
        sa.update(members).where(members.c.id == member_id)
        .values(role=role, token_version=members.c.token_version + 1)
        .returning(*MEMBER_COLUMNS, members.c.token_version)
    )).one()
    uow.record(MemberRoleChanged(member_id=member_id, org_id=caller.org_id, old_role=target.role, new_role=role,
                                 email=row.email, token_version=row.token_version),
               visible_to=[caller.org_id], actor_org_id=caller.org_id, actor_user_id=caller.user_id)
    return row


async def remove_member(uow: UnitOfWork, caller: Caller, member_id: uuid.UUID) -> None:
    """Refresh fails at once, and every service refuses the member's access tokens from the event on."""
    target, admins = await _lock_admins_and_member(uow, caller, member_id)
    if target.role == Role.ADMIN.value and admins <= 1:
        raise Problem(409, _LAST_ADMIN)
    removed = (await uow.session.execute(
        sa.update(members).where(members.c.id == member_id)
        .values(status="removed", token_version=members.c.token_version + 1)
        .returning(members.c.email, members.c.token_version)
    )).one()
    await end_every_session(uow, member_id)
    uow.record(MemberRemoved(member_id=member_id, org_id=caller.org_id, email=removed.email,
                             token_version=removed.token_version),
               visible_to=[caller.org_id], actor_org_id=caller.org_id, actor_user_id=caller.user_id)
