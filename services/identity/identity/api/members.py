"""Members of the caller's organization: list, detail, change role, remove."""

import uuid
from datetime import datetime
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from identity import handlers
from identity.db import members
from identity.handlers import ACTIVE, MEMBER_COLUMNS, MEMBER_NOT_FOUND
from shared.auth.dependencies import require
from shared.auth.permissions import Action, Role
from shared.db import UnitOfWork
from shared.pagination import Cursor, IncludeTotal, Limit, Page
from shared.problems import Problem
from shared.search import contains_pattern
from shared.sorting import SortBy, SortedList, SortOrder
from shared.validation import Text

router = APIRouter()


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


# "name" is the name as shown, first then last.
_SORTS = {"name": members.c.first_name + " " + members.c.last_name, "first_name": members.c.first_name,
          "last_name": members.c.last_name, "email": members.c.email, "phone": members.c.phone,
          "role": members.c.role, "created_at": members.c.created_at}


def _active_members(present: frozenset[str]) -> sa.Select:
    """An org's active members; the values are bind parameters (SortedList)."""
    query = sa.select(*MEMBER_COLUMNS).where(members.c.org_id == sa.bindparam("org_id", type_=members.c.org_id.type), ACTIVE)
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
        row = (await session.execute(sa.select(*MEMBER_COLUMNS).where(
            members.c.id == member_id, members.c.org_id == caller.org_id, ACTIVE))).mappings().one_or_none()
    if row is None:
        raise Problem(404, MEMBER_NOT_FOUND)
    return Member.model_validate(dict(row))


@router.patch("/api/v1/members/{member_id}")
async def change_role(member_id: uuid.UUID, body: RoleChange, request: Request,
                      caller=require(Action.MANAGE_MEMBERS)) -> Member:
    async with UnitOfWork(request.app.state.session_factory, producer="identity") as uow:
        row = await handlers.change_role(uow, caller, member_id, body.role)
        await uow.commit()
    return Member.model_validate(row, from_attributes=True)


@router.delete("/api/v1/members/{member_id}", status_code=204)
async def remove_member(member_id: uuid.UUID, request: Request, caller=require(Action.MANAGE_MEMBERS)) -> Response:
    async with UnitOfWork(request.app.state.session_factory, producer="identity") as uow:
        await handlers.remove_member(uow, caller, member_id)
        await uow.commit()
    return Response(status_code=204)
