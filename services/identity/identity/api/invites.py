"""Invites: an Admin invites an email with a role; the invitee accepts with a name and password."""

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from identity.api.members import RoleName
from identity.db import invites, members
from identity.domain.invites import MIN_PASSWORD_LENGTH, expiry, is_expired, new_invite_token, role_allowed
from identity.domain.passwords import hash_password
from identity.domain.tokens import normalize_email, token_hash
from shared.auth.dependencies import require
from shared.auth.permissions import Action, Role
from shared.db import UnitOfWork
from shared.events.identity import InviteCreated, InviteDeleted, InviteResent, MemberCreated
from shared.idempotency import IdempotencyKey, claim_idempotency_key, remember_response
from shared.pagination import Cursor, IncludeTotal, Limit, Page
from shared.problems import Problem
from shared.sorting import SortBy, SortOrder, fetch_sorted_page
from shared.validation import Email, FilledText, Phone, Text

router = APIRouter()

_NOT_FOUND = "No such invite in your organization."
_BAD_TOKEN = "This invite link is not valid. Ask for a new invite."


class InviteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    phone: Phone | None = None
    role: RoleName


class AcceptRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=512)
    first_name: Annotated[FilledText, Field(max_length=100)]
    last_name: Annotated[FilledText, Field(max_length=100)]
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=1024)


class Invite(BaseModel):
    id: uuid.UUID
    org_id: uuid.UUID
    email: str
    phone: str | None
    role: str
    expires_at: datetime
    created_at: datetime


class AcceptedMember(BaseModel):
    id: uuid.UUID
    org_id: uuid.UUID
    tier: str
    email: str
    first_name: str
    last_name: str
    role: str


_COLUMNS = [invites.c.id, invites.c.org_id, invites.c.email, invites.c.phone, invites.c.role,
            invites.c.expires_at, invites.c.created_at]
_PENDING = sa.and_(invites.c.accepted_at.is_(None), sa.not_(invites.c.deleted))
_SORTS = {"email": invites.c.email, "phone": invites.c.phone, "role": invites.c.role,
          "created_at": invites.c.created_at, "expires_at": invites.c.expires_at}


@router.post("/api/v1/invites", status_code=201)
async def create_invite(body: InviteRequest, request: Request, idempotency_key: IdempotencyKey = None,
                        caller=require(Action.MANAGE_MEMBERS)) -> Invite:
    if not role_allowed(caller.tier, body.role):
        raise Problem(422, f"The role '{body.role}' does not exist for a {caller.tier.value} organization.")
    email = normalize_email(body.email)
    token = new_invite_token()
    now = datetime.now(UTC)
    expires_at = expiry(now, request.app.state.settings.invite_ttl_days)
    # A key counts per caller and route: two callers never replay each other's answers.
    scope = f"{caller.org_id}:{caller.user_id}:POST /api/v1/invites"
    async with UnitOfWork(request.app.state.session_factory, producer="identity") as uow:
        replay = await claim_idempotency_key(uow.session, idempotency_key, scope=scope, request_body=body)
        if replay is not None:
            return replay
        # Serialize invites of one email so the member/pending check and the insert cannot race.
        await uow.session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(email))))
        if (await uow.session.execute(sa.select(members.c.id).where(members.c.email == email))).first():
            raise Problem(409, "This email already belongs to a member.")
        if (await uow.session.execute(sa.select(invites.c.id).where(invites.c.email == email, _PENDING))).first():
            raise Problem(409, "This email already has a pending invite; resend it instead.")
        invite_id = uuid.uuid4()
        row = (await uow.session.execute(
            sa.insert(invites).values(id=invite_id, org_id=caller.org_id, tier=caller.tier.value, email=email,
                                      phone=body.phone, role=body.role, token_hash=token_hash(token),
                                      expires_at=expires_at)
            .returning(*_COLUMNS)
        )).one()
        uow.record(InviteCreated(invite_id=invite_id, org_id=caller.org_id, email=email, role=body.role,
                                 token=token, expires_at=expires_at),
                   visible_to=[caller.org_id], actor_org_id=caller.org_id, actor_user_id=caller.user_id)
        answer = Invite.model_validate(row, from_attributes=True)
        await remember_response(uow.session, idempotency_key, scope=scope, status=201, body=answer)
        await uow.commit()
    return answer


@router.get("/api/v1/invites")
async def list_invites(request: Request, caller=require(Action.VIEW_MEMBERS), role: Role | None = None,
                       q: Annotated[Annotated[Text, Field(max_length=254)] | None, Query()] = None,
                       sort: SortBy(_SORTS) = "created_at",
                       order: SortOrder = None, limit: Limit = 50, cursor: Cursor = None,
                       include_total: IncludeTotal = False) -> Page[Invite]:
    query = sa.select(*_COLUMNS).where(invites.c.org_id == caller.org_id, _PENDING)
    if role:
        query = query.where(invites.c.role == role)
    if q:
        query = query.where(invites.c.email.icontains(q, autoescape=True))
    async with request.app.state.session_factory() as session:
        return await fetch_sorted_page(session, query, _SORTS, sort, order, invites.c.id, cursor, limit, Invite,
                                       include_total)


@router.post("/api/v1/invites/{invite_id}/resend")
async def resend_invite(invite_id: uuid.UUID, request: Request, caller=require(Action.MANAGE_MEMBERS)) -> Invite:
    token = new_invite_token()
    expires_at = expiry(datetime.now(UTC), request.app.state.settings.invite_ttl_days)
    async with UnitOfWork(request.app.state.session_factory, producer="identity") as uow:
        row = (await uow.session.execute(
            sa.update(invites)
            .where(invites.c.id == invite_id, invites.c.org_id == caller.org_id, _PENDING)
            .values(token_hash=token_hash(token), expires_at=expires_at)  # the old token dies here
            .returning(*_COLUMNS)
        )).one_or_none()
        if row is None:
            raise Problem(404, _NOT_FOUND)
        uow.record(InviteResent(invite_id=invite_id, org_id=caller.org_id, email=row.email, role=row.role,
                                token=token, expires_at=expires_at),
                   visible_to=[caller.org_id], actor_org_id=caller.org_id, actor_user_id=caller.user_id)
        await uow.commit()
    return Invite.model_validate(row, from_attributes=True)


@router.delete("/api/v1/invites/{invite_id}", status_code=204)
async def delete_invite(invite_id: uuid.UUID, request: Request, caller=require(Action.MANAGE_MEMBERS)) -> Response:
    async with UnitOfWork(request.app.state.session_factory, producer="identity") as uow:
        row = (await uow.session.execute(
            sa.update(invites)
            .where(invites.c.id == invite_id, invites.c.org_id == caller.org_id, _PENDING)
            .values(deleted=True).returning(invites.c.email)
        )).one_or_none()
        if row is None:
            raise Problem(404, _NOT_FOUND)
        uow.record(InviteDeleted(invite_id=invite_id, org_id=caller.org_id, email=row.email),
                   visible_to=[caller.org_id], actor_org_id=caller.org_id, actor_user_id=caller.user_id)
        await uow.commit()
    return Response(status_code=204)


@router.post("/api/v1/invites/accept", status_code=201)
async def accept_invite(body: AcceptRequest, request: Request) -> AcceptedMember:
    password_hash = await asyncio.to_thread(hash_password, body.password)
    now = datetime.now(UTC)
    async with UnitOfWork(request.app.state.session_factory, producer="identity") as uow:
        invite = (await uow.session.execute(
            sa.select(invites).where(invites.c.token_hash == token_hash(body.token)).with_for_update()
        )).one_or_none()
        if invite is None or invite.deleted:  # no such invite (any more)
            raise Problem(404, _BAD_TOKEN)
        if invite.accepted_at is not None:
            raise Problem(410, "This invite has already been used. Sign in, or ask for a new invite.")
        if is_expired(invite.expires_at, now):
            raise Problem(410, "This invite has expired. Ask an Admin of your organization to resend it.")
        if (await uow.session.execute(sa.select(members.c.id).where(members.c.email == invite.email))).first():
            raise Problem(409, "This email already belongs to a member.")
        member_id = uuid.uuid4()
        await uow.session.execute(
            sa.insert(members).values(id=member_id, org_id=invite.org_id, tier=invite.tier, email=invite.email,
                                      first_name=body.first_name.strip(), last_name=body.last_name.strip(),
                                      phone=invite.phone, role=invite.role, password_hash=password_hash, status="active")
        )
        await uow.session.execute(sa.update(invites).where(invites.c.id == invite.id).values(accepted_at=now))
        uow.record(MemberCreated(member_id=member_id, org_id=invite.org_id, email=invite.email, role=invite.role),
                   visible_to=[invite.org_id], actor_org_id=invite.org_id, actor_user_id=member_id)
        await uow.commit()
    return AcceptedMember(id=member_id, org_id=invite.org_id, tier=invite.tier, email=invite.email,
                          first_name=body.first_name.strip(), last_name=body.last_name.strip(), role=invite.role)
