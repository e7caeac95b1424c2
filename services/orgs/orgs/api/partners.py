"""Integrators (a distributor's partners) and customers (an integrator's or distributor's end
customers): create, list, detail, archive, unarchive. Every query is scoped to the caller's own
children; an id that is not one of them is a 404."""

import uuid
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from orgs.api.company import CompanyIn, CompanyPatch, Name, Note, PartnerOut
from orgs.api.listing import ListParameters, list_children
from orgs.api.retries import idempotency_scope
from orgs.db import organizations, representatives
from orgs.domain.partners import MAX_REPRESENTATIVES, RepresentativeDraft, default_representative
from shared.auth.dependencies import require
from shared.auth.permissions import Action, Tier
from shared.auth.tokens import Caller
from shared.db import UnitOfWork
from shared.events.orgs import (
    OrganizationArchived,
    OrganizationCreated,
    OrganizationUnarchived,
    OrganizationUpdated,
    RepresentativeAdded,
    RepresentativeInfo,
    RepresentativeMadeDefault,
    RepresentativeRemoved,
    RepresentativeUpdated,
)
from shared.idempotency import IdempotencyKey, claim_idempotency_key, remember_response
from shared.pagination import Page
from shared.problems import Problem
from shared.validation import Email, Phone


def representative_info(rep) -> RepresentativeInfo:
    """A representative as the events carry it, for services that keep a copy."""
    return RepresentativeInfo(
        representative_id=rep["id"],
        email=rep["email"],
        first_name=rep.get("first_name"),
        last_name=rep.get("last_name"),
        phone=rep.get("phone"),
        is_default=rep["is_default"],
    )


class RepresentativeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: Email
    first_name: Name | None = None
    last_name: Name | None = None
    phone: Phone | None = None
    note: Note | None = None
    is_default: bool = False


# 1 to 5 of them, at most one marked default (`maxContains`): the rules default_representative checks,
# with its messages, stated in the document.
Representatives = Annotated[list[RepresentativeIn], Field(json_schema_extra={
    "minItems": 1, "maxItems": MAX_REPRESENTATIVES,
    "contains": {"properties": {"is_default": {"const": True}}, "required": ["is_default"]},
    "minContains": 0, "maxContains": 1,
})]


class PartnerIn(CompanyIn):
    representatives: Representatives

    @model_validator(mode="after")
    def _one_default(self) -> "PartnerIn":
        index = default_representative([RepresentativeDraft(r.email, r.is_default) for r in self.representatives])
        for i, rep in enumerate(self.representatives):
            rep.is_default = i == index
        return self


class RepresentativeAddIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: Email
    first_name: Name | None = None
    last_name: Name | None = None
    phone: Phone | None = None
    note: Note | None = None


class RepresentativePatch(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: Email = None  # may be left out, not emptied: null is refused
    first_name: Name | None = None
    last_name: Name | None = None
    phone: Phone | None = None
    note: Note | None = None


class RepresentativeOut(BaseModel):
    id: uuid.UUID
    email: str
    first_name: str | None
    last_name: str | None
    phone: str | None
    note: str | None
    is_default: bool


class PartnerDetail(PartnerOut):
    representatives: list[RepresentativeOut]


def partner_router(*, path: str, tier: Tier, creators: frozenset[Tier]) -> APIRouter:
    """The same API for integrators and customers; `creators` are the tiers that may create them."""
    router = APIRouter(prefix=path, tags=[path.rsplit("/", 1)[-1]])
    noun = tier.value

    def child(caller: Caller, org_id: uuid.UUID):
        return sa.select(organizations).where(
            organizations.c.id == org_id, organizations.c.parent_id == caller.org_id, organizations.c.tier == noun
        )

    @router.post("", status_code=201, response_model=PartnerDetail)
    async def create(
        request: Request,
        body: PartnerIn,
        idempotency_key: IdempotencyKey = None,
        caller: Caller = require(Action.MANAGE_PARTNERS),
    ):
        if caller.tier not in creators:
            raise Problem(403, f"A {caller.tier.value} may not create a {noun}.")
        org_id = uuid.uuid4()
        company = body.model_dump(exclude={"representatives"})
        reps = [{"id": uuid.uuid4(), "org_id": org_id, **rep.model_dump()} for rep in body.representatives]
        scope = idempotency_scope(caller, request)
        async with UnitOfWork(request.app.state.session_factory, producer="orgs") as uow:
            replay = await claim_idempotency_key(uow.session, idempotency_key, scope=scope, request_body=body)
            if replay is not None:
                return replay
            org = (
                await uow.session.execute(
                    sa.insert(organizations)
                    .values(id=org_id, tier=noun, parent_id=caller.org_id, **company)
                    .returning(organizations)
                )
            ).mappings().one()
            # clock_timestamp(): the order of addition decides which one becomes default next.
            await uow.session.execute(sa.insert(representatives).values(created_at=sa.func.clock_timestamp()), reps)
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
                    representatives=[representative_info(r) for r in reps],
                ),
                visible_to=[org_id, caller.org_id],
                actor_org_id=caller.org_id,
                actor_user_id=caller.user_id,
            )
            answer = PartnerDetail(**org, representatives=[RepresentativeOut(**r) for r in reps])
            await remember_response(uow.session, idempotency_key, scope=scope, status=201, body=answer)
            await uow.commit()
        return answer

    @router.get("", response_model=Page[PartnerOut])
    async def list_partners(
        request: Request, params: ListParameters, caller: Caller = require(Action.VIEW_PARTNERS)
    ):
        return await list_children(request, caller.org_id, noun, params)

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

    @router.patch("/{org_id}", response_model=PartnerOut)
    async def update(
        request: Request, org_id: uuid.UUID, body: CompanyPatch, caller: Caller = require(Action.MANAGE_PARTNERS)
    ):
        changes = body.model_dump(exclude_unset=True)
        async with UnitOfWork(request.app.state.session_factory, producer="orgs") as uow:
            org = (await uow.session.execute(child(caller, org_id).with_for_update())).mappings().one_or_none()
            if org is None:
                raise Problem(404, f"No {noun} with id {org_id}.")
            changed = sorted(k for k, v in changes.items() if org[k] != v)
            if not changed:
                return PartnerOut.model_validate(dict(org))
            updated = (
                await uow.session.execute(
                    sa.update(organizations)
                    .where(organizations.c.id == org_id)
                    .values(**{k: changes[k] for k in changed})
                    .returning(organizations)
                )
            ).mappings().one()
            uow.record(
                OrganizationUpdated(
                    org_id=org_id,
                    name=updated["name"],
                    tier=noun,
                    parent_id=caller.org_id,
                    changed=changed,
                    country=updated["country"],
                    email_domain=updated["email_domain"],
                ),
                visible_to=[org_id, caller.org_id],
                actor_org_id=caller.org_id,
                actor_user_id=caller.user_id,
            )
            await uow.commit()
        return PartnerOut.model_validate(dict(updated))

    async def locked(uow: UnitOfWork, caller: Caller, org_id: uuid.UUID):
        """Locks the org row so concurrent representative changes run one after another."""
        org = (await uow.session.execute(child(caller, org_id).with_for_update())).mappings().one_or_none()
        if org is None:
            raise Problem(404, f"No {noun} with id {org_id}.")
        reps = (
            await uow.session.execute(
                sa.select(representatives)
                .where(representatives.c.org_id == org_id)
                .order_by(representatives.c.created_at, representatives.c.id)
            )
        ).mappings().all()
        return org, reps

    def find(reps, org_id: uuid.UUID, rep_id: uuid.UUID):
        rep = next((r for r in reps if r["id"] == rep_id), None)
        if rep is None:
            raise Problem(404, f"No representative with id {rep_id} in {noun} {org_id}.")
        return rep

    def record(uow: UnitOfWork, caller: Caller, org_id: uuid.UUID, event) -> None:
        uow.record(event, visible_to=[org_id, caller.org_id], actor_org_id=caller.org_id, actor_user_id=caller.user_id)

    def clash(reps, email: str, except_id: uuid.UUID | None = None) -> None:
        if any(r["email"].lower() == email.lower() and r["id"] != except_id for r in reps):
            raise Problem(409, f"A representative with email '{email}' already exists in this {noun}.")

    @router.post("/{org_id}/representatives", status_code=201, response_model=RepresentativeOut)
    async def add_representative(
        request: Request,
        org_id: uuid.UUID,
        body: RepresentativeAddIn,
        idempotency_key: IdempotencyKey = None,
        caller: Caller = require(Action.MANAGE_PARTNERS),
    ):
        scope = idempotency_scope(caller, request)
        async with UnitOfWork(request.app.state.session_factory, producer="orgs") as uow:
            replay = await claim_idempotency_key(uow.session, idempotency_key, scope=scope, request_body=body)
            if replay is not None:
                return replay
            org, reps = await locked(uow, caller, org_id)
            if len(reps) >= MAX_REPRESENTATIVES:
                raise Problem(422, f"A {noun} may have at most {MAX_REPRESENTATIVES} representatives.")
            clash(reps, body.email)
            rep = (
                await uow.session.execute(
                    sa.insert(representatives)
                    .values(
                        id=uuid.uuid4(),
                        org_id=org_id,
                        is_default=not reps,
                        created_at=sa.func.clock_timestamp(),
                        **body.model_dump(),
                    )
                    .returning(representatives)
                )
            ).mappings().one()
            record(
                uow,
                caller,
                org_id,
                RepresentativeAdded(
                    org_id=org_id, org_name=org["name"], tier=noun, **representative_info(rep).model_dump()
                ),
            )
            answer = RepresentativeOut.model_validate(dict(rep))
            await remember_response(uow.session, idempotency_key, scope=scope, status=201, body=answer)
            await uow.commit()
        return answer

    @router.patch("/{org_id}/representatives/{rep_id}", response_model=RepresentativeOut)
    async def update_representative(
        request: Request,
        org_id: uuid.UUID,
        rep_id: uuid.UUID,
        body: RepresentativePatch,
        caller: Caller = require(Action.MANAGE_PARTNERS),
    ):
        changes = body.model_dump(exclude_unset=True)
        async with UnitOfWork(request.app.state.session_factory, producer="orgs") as uow:
            org, reps = await locked(uow, caller, org_id)
            rep = find(reps, org_id, rep_id)
            if "email" in changes:
                clash(reps, changes["email"], except_id=rep_id)
            changed = sorted(k for k, v in changes.items() if rep[k] != v)
            if not changed:
                return RepresentativeOut.model_validate(dict(rep))
            rep = (
                await uow.session.execute(
                    sa.update(representatives)
                    .where(representatives.c.id == rep_id)
                    .values(**{k: changes[k] for k in changed})
                    .returning(representatives)
                )
            ).mappings().one()
            record(
                uow,
                caller,
                org_id,
                RepresentativeUpdated(
                    org_id=org_id,
                    org_name=org["name"],
                    tier=noun,
                    changed=changed,
                    **representative_info(rep).model_dump(exclude={"is_default"}),
                ),
            )
            await uow.commit()
        return RepresentativeOut.model_validate(dict(rep))

    @router.delete("/{org_id}/representatives/{rep_id}", status_code=204)
    async def remove_representative(
        request: Request, org_id: uuid.UUID, rep_id: uuid.UUID, caller: Caller = require(Action.MANAGE_PARTNERS)
    ):
        async with UnitOfWork(request.app.state.session_factory, producer="orgs") as uow:
            org, reps = await locked(uow, caller, org_id)
            rep = find(reps, org_id, rep_id)
            if len(reps) == 1:
                raise Problem(409, f"The last representative of a {noun} cannot be removed.")
            await uow.session.execute(sa.delete(representatives).where(representatives.c.id == rep_id))
            new_default = None
            if rep["is_default"]:
                new_default = next(r for r in reps if r["id"] != rep_id)["id"]  # the oldest remaining one
                await uow.session.execute(
                    sa.update(representatives).where(representatives.c.id == new_default).values(is_default=True)
                )
            record(
                uow,
                caller,
                org_id,
                RepresentativeRemoved(
                    org_id=org_id,
                    org_name=org["name"],
                    tier=noun,
                    representative_id=rep_id,
                    email=rep["email"],
                    new_default_id=new_default,
                ),
            )
            await uow.commit()

    @router.post("/{org_id}/representatives/{rep_id}/make-default", response_model=RepresentativeOut)
    async def make_default(
        request: Request, org_id: uuid.UUID, rep_id: uuid.UUID, caller: Caller = require(Action.MANAGE_PARTNERS)
    ):
        async with UnitOfWork(request.app.state.session_factory, producer="orgs") as uow:
            org, reps = await locked(uow, caller, org_id)
            rep = find(reps, org_id, rep_id)
            if rep["is_default"]:
                return RepresentativeOut.model_validate(dict(rep))
            await uow.session.execute(
                sa.update(representatives)
                .where(representatives.c.org_id == org_id, representatives.c.is_default)
                .values(is_default=False)
            )
            rep = (
                await uow.session.execute(
                    sa.update(representatives)
                    .where(representatives.c.id == rep_id)
                    .values(is_default=True)
                    .returning(representatives)
                )
            ).mappings().one()
            event = RepresentativeMadeDefault(
                org_id=org_id, org_name=org["name"], tier=noun, representative_id=rep_id, email=rep["email"]
            )
            record(uow, caller, org_id, event)
            await uow.commit()
        return RepresentativeOut.model_validate(dict(rep))

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
