"""Integrators (a distributor's partners) and customers (an integrator's or distributor's end
customers): create, list, detail, edit, archive, unarchive, and their representatives. The same
routes serve both kinds (`PartnerKind`, bound to each route by `partner_router`); each validates,
calls one handler (orgs.handlers) and shapes the answer. Every query is scoped to the caller's
own children; an id that is not one of them is a 404."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from orgs import handlers
from orgs.api.company import CompanyIn, CompanyPatch, Name, Note, PartnerOut
from orgs.api.listing import ListParameters, list_children
from orgs.db import representatives
from orgs.domain.commands import (
    AddRepresentative,
    ChangePartnerStatus,
    CreatePartner,
    MakeRepresentativeDefault,
    RemoveRepresentative,
    UpdatePartner,
    UpdateRepresentative,
)
from orgs.domain.partners import ARCHIVED, MAX_REPRESENTATIVES, RepresentativeDraft, default_representative
from shared.auth.dependencies import require
from shared.auth.permissions import Action, Tier
from shared.auth.tokens import Caller
from shared.db import UnitOfWork
from shared.idempotency import IdempotencyKey, idempotency_scope, idempotent
from shared.pagination import Page
from shared.problems import Problem
from shared.strict_json import StrictJsonRoute
from shared.validation import Email, Flag, Phone


class RepresentativeAddIn(BaseModel):
    """A representative added to an existing partner: the default stays where it is."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: Email
    first_name: Name | None = None
    last_name: Name | None = None
    phone: Phone | None = None
    note: Note | None = None


class RepresentativeIn(RepresentativeAddIn):
    """A representative of a new partner, one of them marked default (else the first one is)."""

    is_default: Flag = False


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


class RepresentativePatch(RepresentativeAddIn):
    email: Email = None  # may be left out, not emptied: null is refused


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


@dataclass(frozen=True)
class PartnerKind:
    """Integrators or customers: where their routes live and which tiers may create them."""

    path: str
    tier: Tier
    creators: frozenset[Tier]

    @property
    def noun(self) -> str:
        return self.tier.value


INTEGRATORS = PartnerKind("/api/v1/integrators", Tier.INTEGRATOR, frozenset({Tier.DISTRIBUTOR}))
CUSTOMERS = PartnerKind("/api/v1/customers", Tier.CUSTOMER, frozenset({Tier.INTEGRATOR, Tier.DISTRIBUTOR}))


def _unit_of_work(request: Request) -> UnitOfWork:
    return UnitOfWork(request.app.state.session_factory, producer="orgs")


def _of(kind: PartnerKind, caller: Caller, org_id: uuid.UUID) -> dict:
    """Who acts on which partner, as every partner command takes it."""
    return dict(parent_id=caller.org_id, actor_id=caller.user_id, tier=kind.noun, org_id=org_id)


async def create(
    kind: PartnerKind,
    request: Request,
    body: PartnerIn,
    idempotency_key: IdempotencyKey = None,
    caller: Caller = require(Action.MANAGE_PARTNERS),
):
    """Creates an integrator (by a distributor) or a customer (by a distributor or an integrator)
    with 1 to 5 representatives. An archived org creates no new customers (403): what archived
    means for each action is listed in orgs.domain.partners.why_archived_may_not_create."""
    if caller.tier not in kind.creators:
        raise Problem(403, f"A {caller.tier.value} may not create a {kind.noun}.")
    command = CreatePartner(
        parent_id=caller.org_id, actor_id=caller.user_id, tier=kind.noun,
        company=body.model_dump(exclude={"representatives"}),
        representatives=tuple(rep.model_dump() for rep in body.representatives),
    )
    async with _unit_of_work(request) as uow:
        async def created() -> PartnerDetail:
            org, reps = await handlers.create_partner(uow, command)
            return PartnerDetail(**org, representatives=[RepresentativeOut(**r) for r in reps])

        answer = await idempotent(uow.session, idempotency_key, scope=idempotency_scope(caller, f"POST {kind.path}"),
                                  request_body=body, status=201, work=created)
        await uow.commit()
    return answer


async def list_partners(kind: PartnerKind, request: Request, params: ListParameters,
                        caller: Caller = require(Action.VIEW_PARTNERS)):
    return await list_children(request, caller.org_id, kind.noun, params)


async def detail(kind: PartnerKind, request: Request, org_id: uuid.UUID,
                 caller: Caller = require(Action.VIEW_PARTNERS)):
    async with request.app.state.session_factory() as session:
        org = (await session.execute(handlers.partner_query(caller.org_id, kind.noun, org_id))).mappings().one_or_none()
        if org is None:
            raise Problem(404, f"No {kind.noun} with id {org_id}.")
        reps = (
            await session.execute(
                sa.select(representatives)
                .where(representatives.c.org_id == org_id)
                .order_by(representatives.c.is_default.desc(), representatives.c.created_at, representatives.c.email)
            )
        ).mappings().all()
    return PartnerDetail(**org, representatives=[RepresentativeOut.model_validate(dict(r)) for r in reps])


async def update(kind: PartnerKind, request: Request, org_id: uuid.UUID, body: CompanyPatch,
                 caller: Caller = require(Action.MANAGE_PARTNERS)):
    command = UpdatePartner(**_of(kind, caller, org_id), changes=body.model_dump(exclude_unset=True))
    async with _unit_of_work(request) as uow:
        org = await handlers.update_partner(uow, command)
        await uow.commit()
    return PartnerOut.model_validate(org)


async def _set_status(kind: PartnerKind, request: Request, caller: Caller, org_id: uuid.UUID,
                      status: str) -> PartnerOut:
    async with _unit_of_work(request) as uow:
        org = await handlers.change_partner_status(uow, ChangePartnerStatus(**_of(kind, caller, org_id), status=status))
        await uow.commit()
    return PartnerOut.model_validate(org)


async def archive(kind: PartnerKind, request: Request, org_id: uuid.UUID,
                  caller: Caller = require(Action.MANAGE_PARTNERS)):
    """Ends the relationship until unarchived: the partner receives and sends no transfers,
    creates no customers and invites no members; it keeps reading its data and using the licenses
    it holds."""
    return await _set_status(kind, request, caller, org_id, ARCHIVED)


async def unarchive(kind: PartnerKind, request: Request, org_id: uuid.UUID,
                    caller: Caller = require(Action.MANAGE_PARTNERS)):
    return await _set_status(kind, request, caller, org_id, "active")


async def add_representative(
    kind: PartnerKind,
    request: Request,
    org_id: uuid.UUID,
    body: RepresentativeAddIn,
    idempotency_key: IdempotencyKey = None,
    caller: Caller = require(Action.MANAGE_PARTNERS),
):
    command = AddRepresentative(**_of(kind, caller, org_id), fields=body.model_dump())
    async with _unit_of_work(request) as uow:
        async def added() -> RepresentativeOut:
            return RepresentativeOut.model_validate(await handlers.add_representative(uow, command))

        answer = await idempotent(uow.session, idempotency_key,
                                  scope=idempotency_scope(caller, f"POST {kind.path}/{org_id}/representatives"),
                                  request_body=body, status=201, work=added)
        await uow.commit()
    return answer


async def update_representative(kind: PartnerKind, request: Request, org_id: uuid.UUID, rep_id: uuid.UUID,
                                body: RepresentativePatch, caller: Caller = require(Action.MANAGE_PARTNERS)):
    command = UpdateRepresentative(**_of(kind, caller, org_id), representative_id=rep_id,
                                   changes=body.model_dump(exclude_unset=True))
    async with _unit_of_work(request) as uow:
        rep = await handlers.update_representative(uow, command)
        await uow.commit()
    return RepresentativeOut.model_validate(rep)


async def remove_representative(kind: PartnerKind, request: Request, org_id: uuid.UUID, rep_id: uuid.UUID,
                                caller: Caller = require(Action.MANAGE_PARTNERS)):
    async with _unit_of_work(request) as uow:
        await handlers.remove_representative(uow, RemoveRepresentative(**_of(kind, caller, org_id),
                                                                       representative_id=rep_id))
        await uow.commit()


async def make_default(kind: PartnerKind, request: Request, org_id: uuid.UUID, rep_id: uuid.UUID,
                       caller: Caller = require(Action.MANAGE_PARTNERS)):
    async with _unit_of_work(request) as uow:
        rep = await handlers.make_representative_default(uow, MakeRepresentativeDefault(
            **_of(kind, caller, org_id), representative_id=rep_id))
        await uow.commit()
    return RepresentativeOut.model_validate(rep)


# (method, path, endpoint, route options): the routes of each kind, in the order they are documented.
_ROUTES: tuple[tuple[str, str, Callable, dict], ...] = (
    ("POST", "", create, {"status_code": 201, "response_model": PartnerDetail}),
    ("GET", "", list_partners, {"response_model": Page[PartnerOut]}),
    ("GET", "/{org_id}", detail, {"response_model": PartnerDetail}),
    ("PATCH", "/{org_id}", update, {"response_model": PartnerOut}),
    ("POST", "/{org_id}/representatives", add_representative,
     {"status_code": 201, "response_model": RepresentativeOut}),
    ("PATCH", "/{org_id}/representatives/{rep_id}", update_representative, {"response_model": RepresentativeOut}),
    ("DELETE", "/{org_id}/representatives/{rep_id}", remove_representative, {"status_code": 204}),
    ("POST", "/{org_id}/representatives/{rep_id}/make-default", make_default, {"response_model": RepresentativeOut}),
    ("POST", "/{org_id}/archive", archive, {"response_model": PartnerOut}),
    ("POST", "/{org_id}/unarchive", unarchive, {"response_model": PartnerOut}),
)


def partner_router(kind: PartnerKind) -> APIRouter:
    """The routes above under the kind's path, each with the kind bound as its first argument."""
    router = APIRouter(prefix=kind.path, tags=[kind.path.rsplit("/", 1)[-1]], route_class=StrictJsonRoute)
    for method, path, endpoint, options in _ROUTES:
        bound = partial(endpoint, kind)
        bound.__doc__ = endpoint.__doc__  # the operation's description is the endpoint's, not partial's
        router.add_api_route(path, bound, methods=[method], name=endpoint.__name__, **options)
    return router


integrators_router = partner_router(INTEGRATORS)
customers_router = partner_router(CUSTOMERS)
