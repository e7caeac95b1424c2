"""Distributors: created by the vendor, each with an Admin that identity invites from the event."""

import uuid
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from orgs.api.partners import SEARCHED, Country, Email, EmailDomain, Note, PartnerOut, Phone
from orgs.db import organizations
from shared.auth.dependencies import require
from shared.auth.permissions import Action, Tier
from shared.auth.tokens import Caller
from shared.db import UnitOfWork
from shared.events.orgs import OrganizationCreated
from shared.pagination import Cursor, Limit, Page, newest_first_page, older_than_cursor
from shared.problems import Problem

router = APIRouter(prefix="/api/v1/distributors", tags=["distributors"])


class DistributorIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Annotated[str, Field(min_length=1, max_length=200)]
    email_domain: EmailDomain | None = None
    address: Annotated[str, Field(max_length=500)] | None = None
    country: Country | None = None
    phone: Phone | None = None
    contact_name: Annotated[str, Field(max_length=200)] | None = None
    contact_email: Email | None = None
    tax_id: Annotated[str, Field(max_length=50)] | None = None
    note: Note | None = None
    admin_email: Email


def vendor_only(caller: Caller) -> None:
    if caller.tier != Tier.VENDOR:
        raise Problem(403, "Only the vendor manages distributors.")


@router.post("", status_code=201, response_model=PartnerOut)
async def create(request: Request, body: DistributorIn, caller: Caller = require(Action.CREATE_DISTRIBUTORS)):
    vendor_only(caller)
    org_id = uuid.uuid4()
    company = body.model_dump(exclude={"admin_email"})
    async with UnitOfWork(request.app.state.session_factory, producer="orgs") as uow:
        org = (
            await uow.session.execute(
                sa.insert(organizations)
                .values(id=org_id, tier=Tier.DISTRIBUTOR.value, parent_id=caller.org_id, **company)
                .returning(organizations)
            )
        ).mappings().one()
        uow.record(
            OrganizationCreated(
                org_id=org_id,
                name=body.name,
                tier=Tier.DISTRIBUTOR.value,
                parent_id=caller.org_id,
                country=body.country,
                email_domain=body.email_domain,
                admin_email=body.admin_email,
            ),
            visible_to=[org_id, caller.org_id],
            actor_org_id=caller.org_id,
            actor_user_id=caller.user_id,
        )
        await uow.commit()
    return PartnerOut.model_validate(dict(org))


@router.get("", response_model=Page[PartnerOut])
async def list_distributors(
    request: Request,
    caller: Caller = require(Action.CREATE_DISTRIBUTORS),
    status: Literal["active", "archived"] = "active",
    country: Annotated[str | None, Query(max_length=2)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
):
    vendor_only(caller)
    query = (
        sa.select(organizations)
        .where(
            organizations.c.parent_id == caller.org_id,
            organizations.c.tier == Tier.DISTRIBUTOR.value,
            organizations.c.status == status,
        )
        .order_by(organizations.c.created_at.desc(), organizations.c.id.desc())
        .limit(limit + 1)
    )
    if country:
        query = query.where(organizations.c.country == country.upper())
    if q and q.strip():
        pattern = "%" + q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(sa.or_(*(organizations.c[c].ilike(pattern, escape="\\") for c in SEARCHED)))
    query = older_than_cursor(query, cursor, organizations.c.created_at, organizations.c.id)
    async with request.app.state.session_factory() as session:
        rows = (await session.execute(query)).mappings().all()
    return newest_first_page(rows, limit, PartnerOut, "created_at", "id")
