"""Invites: an Admin invites an email with a role; the invitee accepts with a name and password."""

import asyncio
import uuid
from datetime import datetime
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from identity import handlers
from identity.api.members import RoleName
from identity.db import invites
from identity.domain.invites import MIN_PASSWORD_LENGTH
from identity.domain.passwords import hash_password
from identity.handlers import INVITE_COLUMNS, PENDING, AcceptInvite, NewInvite
from identity.sign_in_limits import address_of, clear_after_success, invite_counters, reserve_attempt
from shared.auth.dependencies import require
from shared.auth.permissions import Action, Role
from shared.db import UnitOfWork
from shared.idempotency import IdempotencyKey, idempotent
from shared.pagination import Cursor, IncludeTotal, Limit, Page
from shared.sorting import SortBy, SortOrder, fetch_sorted_page
from shared.validation import Email, FilledLine, Phone, Text

router = APIRouter()

class InviteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    phone: Phone | None = None
    role: RoleName


class AcceptRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=512)
    first_name: Annotated[FilledLine, Field(max_length=100)]
    last_name: Annotated[FilledLine, Field(max_length=100)]
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=1024)


class Invite(BaseModel):
    id: uuid.UUID
    org_id: uuid.UUID
    email: str
    phone: str | None
    role: str
    expires_at: datetime
    created_at: datetime


class InviteForAcceptance(BaseModel):
    """What the accept page shows before its form: which company, role and email the link is for."""

    organization: str | None  # None until identity has heard of the organization
    org_id: uuid.UUID
    tier: str
    email: str
    role: str
    expires_at: datetime


class AcceptedMember(BaseModel):
    id: uuid.UUID
    org_id: uuid.UUID
    tier: str
    email: str
    first_name: str
    last_name: str
    role: str


_SORTS = {"email": invites.c.email, "phone": invites.c.phone, "role": invites.c.role,
          "created_at": invites.c.created_at, "expires_at": invites.c.expires_at}


@router.post("/api/v1/invites", status_code=201)
async def create_invite(body: InviteRequest, request: Request, idempotency_key: IdempotencyKey = None,
                        caller=require(Action.MANAGE_MEMBERS)) -> Invite:
    # A key counts per caller and route: two callers never replay each other's answers.
    scope = f"{caller.org_id}:{caller.user_id}:POST /api/v1/invites"
    async with UnitOfWork(request.app.state.session_factory, producer="identity") as uow:
        async def create() -> Invite:
            row = await handlers.create_invite(
                uow, NewInvite(org_id=caller.org_id, tier=caller.tier.value, email=body.email, phone=body.phone,
                               role=body.role, invited_by=caller.user_id),
                request.app.state.settings.invite_ttl_days)
            return Invite.model_validate(row, from_attributes=True)

        answer = await idempotent(uow.session, idempotency_key, scope=scope, request_body=body, status=201,
                                  work=create)
        await uow.commit()
    return answer


@router.get("/api/v1/invites")
async def list_invites(request: Request, caller=require(Action.VIEW_MEMBERS), role: Role | None = None,
                       q: Annotated[Annotated[Text, Field(max_length=254)] | None, Query()] = None,
                       sort: SortBy(_SORTS) = "created_at",
                       order: SortOrder = None, limit: Limit = 50, cursor: Cursor = None,
                       include_total: IncludeTotal = False) -> Page[Invite]:
    query = sa.select(*INVITE_COLUMNS).where(invites.c.org_id == caller.org_id, PENDING)
    if role:
        query = query.where(invites.c.role == role)
    if q:
        query = query.where(invites.c.email.icontains(q, autoescape=True))
    async with request.app.state.session_factory() as session:
        return await fetch_sorted_page(session, query, _SORTS, sort, order, invites.c.id, cursor, limit, Invite,
                                       include_total)


@router.post("/api/v1/invites/{invite_id}/resend")
async def resend_invite(invite_id: uuid.UUID, request: Request, caller=require(Action.MANAGE_MEMBERS)) -> Invite:
    async with UnitOfWork(request.app.state.session_factory, producer="identity") as uow:
        row = await handlers.resend_invite(uow, caller, invite_id, request.app.state.settings.invite_ttl_days)
        await uow.commit()
    return Invite.model_validate(row, from_attributes=True)


@router.delete("/api/v1/invites/{invite_id}", status_code=204)
async def delete_invite(invite_id: uuid.UUID, request: Request, caller=require(Action.MANAGE_MEMBERS)) -> Response:
    async with UnitOfWork(request.app.state.session_factory, producer="identity") as uow:
        await handlers.delete_invite(uow, caller, invite_id)
        await uow.commit()
    return Response(status_code=204)


def _invite_counters(request: Request):
    """An invalid link counts against the client's address, as a failed sign-in does: tokens
    cannot be guessed, and each guess costs a lookup."""
    return invite_counters(request.app.state.settings, address_of(request))


@router.get("/api/v1/invites/accept")
async def invite_for_acceptance(request: Request,
                                token: Annotated[str, Query(min_length=1, max_length=512)]) -> InviteForAcceptance:
    """For the accept page: what the link is for, or (a problem) why it can no longer be used."""
    counters = _invite_counters(request)
    async with request.app.state.session_factory() as session:
        attempt_ids = await reserve_attempt(session, request.app.state.settings, counters)
        invite = await handlers.live_invite(session, token)
        organization = await handlers.organization_name(session, invite.org_id)
        await clear_after_success(session, counters, attempt_ids)
        await session.commit()
    return InviteForAcceptance(organization=organization, org_id=invite.org_id, tier=invite.tier, email=invite.email,
                               role=invite.role, expires_at=invite.expires_at)


@router.post("/api/v1/invites/accept", status_code=201)
async def accept_invite(body: AcceptRequest, request: Request) -> AcceptedMember:
    counters = _invite_counters(request)
    async with request.app.state.session_factory() as session:
        attempt_ids = await reserve_attempt(session, request.app.state.settings, counters)
        # The link is checked before the password is hashed: a made-up token costs a lookup, not a hash.
        await handlers.live_invite(session, body.token)
    password_hash = await asyncio.to_thread(hash_password, body.password)
    async with UnitOfWork(request.app.state.session_factory, producer="identity") as uow:
        member = await handlers.accept_invite(uow, AcceptInvite(
            token=body.token, first_name=body.first_name.strip(), last_name=body.last_name.strip(),
            password_hash=password_hash))
        await clear_after_success(uow.session, counters, attempt_ids)
        await uow.commit()
    return AcceptedMember.model_validate(member, from_attributes=True)
