"""Members of the caller's organization: list, detail, change role, remove."""

import uuid
from datetime import UTC, datetime
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from identity.db import members, refresh_tokens
from identity.domain.invites import role_allowed
from shared.auth.dependencies import require
from shared.auth.permissions import Action, Role
from shared.db import UnitOfWork
from shared.events.identity import MemberRemoved, MemberRoleChanged
from shared.pagination import Cursor, IncludeTotal, Limit, Page
from shared.problems import Problem
from shared.search import contains_pattern
from shared.sorting import SortBy, SortedList, SortOrder
from shared.validation import Text

router = APIRouter()

_NOT_FOUND = "No such member in your organization."
_LAST_ADMIN = "An organization must keep at least one Admin: the last Admin cannot be removed or demoted."


class Member(BaseModel):
    id: uuid.UUID
    org_id: uuid.UUID
    email: str
    first_name: str
    last_name: str
    phone: str | None
    role: str
    created_at: datetime


# A role's name; which roles the caller's tier may hand out is checked by role_allowed, whose
# message names the tier.
RoleName = Annotated[str, Field(max_length=32, json_schema_extra={"enum": [role.value for role in Role]})]


class RoleChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: RoleName


_COLUMNS = [members.c.id, members.c.org_id, members.c.email, members.c.first_name, members.c.last_name,
            members.c.phone, members.c.role, members.c.created_at]
_ACTIVE = members.c.status == "active"
# "name" is the name as shown, first then last.
_SORTS = {"name": members.c.first_name + " " + members.c.last_name, "first_name": members.c.first_name,
          "last_name": members.c.last_name, "email": members.c.email, "phone": members.c.phone,
          "role": members.c.role, "created_at": members.c.created_at}


def _active_members(present: frozenset[str]) -> sa.Select:
    """An org's active members; the values are bind parameters (SortedList)."""
    query = sa.select(*_COLUMNS).where(members.c.org_id == sa.bindparam("org_id", type_=members.c.org_id.type), _ACTIVE)
    if "role" in present:
        query = query.where(members.c.role == sa.bindparam("role", type_=members.c.role.type))
    if "pattern" in present:
        pattern = sa.bindparam("pattern", type_=sa.Text)
        query = query.where(sa.or_(*(column.ilike(pattern, escape="\\") for column in
                                     (members.c.first_name, members.c.last_name, members.c.email, members.c.phone))))
    return query


_MEMBERS = SortedList(_active_members, _SORTS, members.c.id)


@router.get("/api/v1/members")
async def list_members(request: Request, caller=require(Action.VIEW_MEMBERS), role: Role | None = None,
                       q: Annotated[Annotated[Text, Field(max_length=254)] | None, Query()] = None,
                       sort: SortBy(_SORTS) = "created_at",
                       order: SortOrder = None, limit: Limit = 50, cursor: Cursor = None,
                       include_total: IncludeTotal = False) -> Page[Member]:
    values = {"org_id": caller.org_id, "role": role.value if role else None,
              "pattern": contains_pattern(q, strip=False) if q else None}
    async with request.app.state.session_factory() as session:
        return await _MEMBERS.fetch(session, values, sort, order, cursor, limit, Member, include_total)


@router.get("/api/v1/members/{member_id}")
async def get_member(member_id: uuid.UUID, request: Request, caller=require(Action.VIEW_MEMBERS)) -> Member:
    async with request.app.state.session_factory() as session:
        row = (await session.execute(sa.select(*_COLUMNS).where(
            members.c.id == member_id, members.c.org_id == caller.org_id, _ACTIVE))).mappings().one_or_none()
    if row is None:
        raise Problem(404, _NOT_FOUND)
    return Member.model_validate(dict(row))


async def _lock_org_and_member(uow: UnitOfWork, org_id: uuid.UUID, member_id: uuid.UUID):
    """Locks the org's active Admin rows (and the target) FOR UPDATE, in id order, so two concurrent
    demotions/removals of the last Admins are serialized and the second sees the first."""
    locked = (await uow.session.execute(
        sa.select(members.c.id, members.c.role).where(
            members.c.org_id == org_id, _ACTIVE,
            sa.or_(members.c.role == Role.ADMIN.value, members.c.id == member_id))
        .order_by(members.c.id).with_for_update()
    )).all()
    target = next((row for row in locked if row.id == member_id), None)
    admins = sum(1 for row in locked if row.role == Role.ADMIN.value)
    return target, admins


@router.patch("/api/v1/members/{member_id}")
async def change_role(member_id: uuid.UUID, body: RoleChange, request: Request,
                      caller=require(Action.MANAGE_MEMBERS)) -> Member:
    if not role_allowed(caller.tier, body.role):
        raise Problem(422, f"The role '{body.role}' does not exist for a {caller.tier.value} organization.")
    async with UnitOfWork(request.app.state.session_factory, producer="identity") as uow:
        target, admins = await _lock_org_and_member(uow, caller.org_id, member_id)
        if target is None:
            raise Problem(404, _NOT_FOUND)
        if target.role == Role.ADMIN.value and body.role != Role.ADMIN.value and admins <= 1:
            raise Problem(409, _LAST_ADMIN)
        row = (await uow.session.execute(
            sa.update(members).where(members.c.id == member_id).values(role=body.role).returning(*_COLUMNS)
        )).mappings().one()
        if target.role != body.role:
            uow.record(MemberRoleChanged(member_id=member_id, org_id=caller.org_id, old_role=target.role,
                                         new_role=body.role, email=row["email"]),
                       visible_to=[caller.org_id], actor_org_id=caller.org_id, actor_user_id=caller.user_id)
        await uow.commit()
    return Member.model_validate(dict(row))


@router.delete("/api/v1/members/{member_id}", status_code=204)
async def remove_member(member_id: uuid.UUID, request: Request, caller=require(Action.MANAGE_MEMBERS)) -> Response:
    async with UnitOfWork(request.app.state.session_factory, producer="identity") as uow:
        target, admins = await _lock_org_and_member(uow, caller.org_id, member_id)
        if target is None:
            raise Problem(404, _NOT_FOUND)
        if target.role == Role.ADMIN.value and admins <= 1:
            raise Problem(409, _LAST_ADMIN)
        email = (await uow.session.execute(
            sa.update(members).where(members.c.id == member_id).values(status="removed").returning(members.c.email)
        )).scalar_one()
        # Refresh fails at once; access tokens die within their lifetime.
        await uow.session.execute(
            sa.update(refresh_tokens)
            .where(refresh_tokens.c.member_id == member_id, refresh_tokens.c.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
        uow.record(MemberRemoved(member_id=member_id, org_id=caller.org_id, email=email),
                   visible_to=[caller.org_id], actor_org_id=caller.org_id, actor_user_id=caller.user_id)
        await uow.commit()
    return Response(status_code=204)
