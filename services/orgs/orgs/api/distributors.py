"""Distributors: created by the vendor, each with an Admin that identity invites from the event."""

import uuid

import sqlalchemy as sa
from fastapi import APIRouter, Request

from orgs.api.company import CompanyIn, PartnerOut
from orgs.api.listing import ListParameters, list_children
from orgs.api.retries import idempotency_scope
from orgs.db import organizations
from shared.auth.dependencies import require
from shared.auth.permissions import Action, Tier
from shared.auth.tokens import Caller
from shared.db import UnitOfWork
from shared.events.orgs import OrganizationCreated
from shared.idempotency import IdempotencyKey, claim_idempotency_key, remember_response
from shared.pagination import Page
from shared.problems import Problem
from shared.validation import Email

router = APIRouter(prefix="/api/v1/distributors", tags=["distributors"])


class DistributorIn(CompanyIn):
    admin_email: Email


def vendor_only(caller: Caller) -> None:
    if caller.tier != Tier.VENDOR:
        raise Problem(403, "Only the vendor manages distributors.")


@router.post("", status_code=201, response_model=PartnerOut)
async def create(
    request: Request,
    body: DistributorIn,
    idempotency_key: IdempotencyKey = None,
    caller: Caller = require(Action.CREATE_DISTRIBUTORS),
):
    vendor_only(caller)
    org_id = uuid.uuid4()
    company = body.model_dump(exclude={"admin_email"})
    scope = idempotency_scope(caller, request)
    async with UnitOfWork(request.app.state.session_factory, producer="orgs") as uow:
        replay = await claim_idempotency_key(uow.session, idempotency_key, scope=scope, request_body=body)
        if replay is not None:
            return replay
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
        answer = PartnerOut.model_validate(dict(org))
        await remember_response(uow.session, idempotency_key, scope=scope, status=201, body=answer)
        await uow.commit()
    return answer


@router.get("", response_model=Page[PartnerOut])
async def list_distributors(
    request: Request, params: ListParameters, caller: Caller = require(Action.CREATE_DISTRIBUTORS)
):
    vendor_only(caller)
    return await list_children(request, caller.org_id, Tier.DISTRIBUTOR.value, params)
