"""Integrators (a distributor's partners) and customers (an integrator's or distributor's end
customers): create, list, detail, archive, unarchive. Every query is scoped to the caller's own
children; an id that is not one of them is a 404."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from orgs.db import organizations, representatives
from orgs.domain.partners import (
    RepresentativeDraft,
    check_country,
    check_email,
    check_email_domain,
    check_phone,
    default_representative,
)
from shared.auth.dependencies import require
from shared.auth.permissions import Action, Tier
from shared.auth.tokens import Caller
from shared.db import UnitOfWork
from shared.events.orgs import OrganizationArchived, OrganizationCreated, OrganizationUnarchived
from shared.pagination import Cursor, Limit, Page, newest_first_page, older_than_cursor
from shared.problems import Problem

Email = Annotated[str, Field(max_length=254), AfterValidator(check_email)]
EmailDomain = Annotated[str, Field(max_length=253), AfterValidator(check_email_domain)]
Country = Annotated[str, Field(max_length=2), AfterValidator(check_country)]
Phone = Annotated[str, Field(max_length=32), AfterValidator(check_phone)]
Name = Annotated[str, Field(min_length=1, max_length=100)]
Note = Annotated[str, Field(max_length=2000)]


class RepresentativeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: Email
    first_name: Name | None = None
    last_name: Name | None = None
    phone: Phone | None = None
    note: Note | None = None
    is_default: bool = False


class PartnerIn(BaseModel):
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
    representatives: list[RepresentativeIn]

    @model_validator(mode="after")
    def _one_default(self) -> "PartnerIn":
        index = default_representative([RepresentativeDraft(r.email, r.is_default) for r in self.representatives])
        for i, rep in enumerate(self.representatives):
            rep.is_default = i == index
        return self


class RepresentativeOut(BaseModel):
    id: uuid.UUID
    email: str
    first_name: str | None
    last_name: str | None
    phone: str | None
    note: str | None
    is_default: bool


class PartnerOut(BaseModel):
    id: uuid.UUID
    name: str
    tier: str
    parent_id: uuid.UUID
    status: str
    created_at: datetime
    email_domain: str | None
    address: str | None
    country: str | None
    phone: str | None
    contact_name: str | None
    contact_email: str | None
    tax_id: str | None
    note: str | None


class PartnerDetail(PartnerOut):
    representatives: list[RepresentativeOut]


SEARCHED = ("name", "email_domain", "country", "contact_name", "contact_email")


def partner_router(*, path: str, tier: Tier, creators: frozenset[Tier]) -> APIRouter:
    """The same API for integrators and customers; `creators` are the tiers that may create them."""
    router = APIRouter(prefix=path, tags=[path.rsplit("/", 1)[-1]])
    noun = tier.value

    def child(caller: Caller, org_id: uuid.UUID):
        return sa.select(organizations).where(
            organizations.c.id == org_id, organizations.c.parent_id == caller.org_id, organizations.c.tier == noun
        )

    @router.post("", status_code=201, response_model=PartnerDetail)
    async def create(request: Request, body: PartnerIn, caller: Caller = require(Action.MANAGE_PARTNERS)):
        if caller.tier not in creators:
            raise Problem(403, f"A {caller.tier.value} may not create a {noun}.")
        org_id = uuid.uuid4()
        company = body.model_dump(exclude={"representatives"})
        reps = [{"id": uuid.uuid4(), "org_id": org_id, **rep.model_dump()} for rep in body.representatives]
        async with UnitOfWork(request.app.state.session_factory, producer="orgs") as uow:
            org = (
                await uow.session.execute(
                    sa.insert(organizations)
                    .values(id=org_id, tier=noun, parent_id=caller.org_id, **company)
                    .returning(organizations)
                )
            ).mappings().one()
            await uow.session.execute(sa.insert(representatives), reps)
            default_email = next(r["email"] for r in reps if r["is_default"])
            uow.record(
                OrganizationCreated(
                    org_id=org_id,
                    name=body.name,
                    tier=noun,
                    parent_id=caller.org_id,
                    country=body.country,
                    email_domain=body.email_domain,
                    default_representative_email=default_email,
                ),
                visible_to=[org_id, caller.org_id],
                actor_org_id=caller.org_id,
                actor_user_id=caller.user_id,
            )
            await uow.commit()
        return PartnerDetail(**org, representatives=[RepresentativeOut(**r) for r in reps])

    @router.get("", response_model=Page[PartnerOut])
    async def list_partners(
        request: Request,
        caller: Caller = require(Action.VIEW_PARTNERS),
        status: Literal["active", "archived"] = "active",
        country: Annotated[str | None, Query(max_length=2)] = None,
        q: Annotated[str | None, Query(max_length=200)] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ):
        query = (
            sa.select(organizations)
            .where(
                organizations.c.parent_id == caller.org_id,
                organizations.c.tier == noun,
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

    @router.get("/{org_id}", response_model=PartnerDetail)
    async def detail(request: Request, org_id: uuid.UUID, caller: Caller = require(Action.VIEW_PARTNERS)):
        async with request.app.state.session_factory() as session:
            org = (await session.execute(child(caller, org_id))).mappings().one_or_none()
            if org is None:
                raise Problem(404, f"No {noun} with id {org_id}.")
            reps = (
                await session.execute(
                    sa.select(representatives)
                    .where(representatives.c.org_id == org_id)
                    .order_by(
                        representatives.c.is_default.desc(), representatives.c.created_at, representatives.c.email
                    )
                )
            ).mappings().all()
        return PartnerDetail(**org, representatives=[RepresentativeOut.model_validate(dict(r)) for r in reps])

    async def set_status(request: Request, caller: Caller, org_id: uuid.UUID, to: str, event) -> PartnerOut:
        async with UnitOfWork(request.app.state.session_factory, producer="orgs") as uow:
            org = (await uow.session.execute(child(caller, org_id).with_for_update())).mappings().one_or_none()
            if org is None:
                raise Problem(404, f"No {noun} with id {org_id}.")
            if org["status"] == to:
                raise Problem(409, f"The {noun} is already {to}.")
            updated = (
                await uow.session.execute(
                    sa.update(organizations)
                    .where(organizations.c.id == org_id)
                    .values(status=to)
                    .returning(organizations)
                )
            ).mappings().one()
            uow.record(
                event(org_id=org_id, name=org["name"], tier=noun, parent_id=caller.org_id),
                visible_to=[org_id, caller.org_id],
                actor_org_id=caller.org_id,
                actor_user_id=caller.user_id,
            )
            await uow.commit()
        return PartnerOut.model_validate(dict(updated))

    @router.post("/{org_id}/archive", response_model=PartnerOut)
    async def archive(request: Request, org_id: uuid.UUID, caller: Caller = require(Action.MANAGE_PARTNERS)):
        return await set_status(request, caller, org_id, "archived", OrganizationArchived)

    @router.post("/{org_id}/unarchive", response_model=PartnerOut)
    async def unarchive(request: Request, org_id: uuid.UUID, caller: Caller = require(Action.MANAGE_PARTNERS)):
        return await set_status(request, caller, org_id, "active", OrganizationUnarchived)

    return router


integrators_router = partner_router(
    path="/api/v1/integrators", tier=Tier.INTEGRATOR, creators=frozenset({Tier.DISTRIBUTOR})
)
customers_router = partner_router(
    path="/api/v1/customers", tier=Tier.CUSTOMER, creators=frozenset({Tier.INTEGRATOR, Tier.DISTRIBUTOR})
)
