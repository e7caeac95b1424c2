"""Distributors: created by the vendor, each with an Admin that identity invites from the event."""

from fastapi import APIRouter, Request

from orgs import handlers
from orgs.api.company import CompanyIn, PartnerOut
from orgs.api.listing import ListParameters, list_children
from orgs.domain.commands import CreateDistributor
from shared.auth.dependencies import require
from shared.auth.permissions import Action, Tier
from shared.auth.tokens import Caller
from shared.db import UnitOfWork
from shared.idempotency import IdempotencyKey, idempotency_scope, idempotent
from shared.pagination import Page
from shared.problems import Problem
from shared.strict_json import StrictJsonRoute
from shared.validation import Email

router = APIRouter(prefix="/api/v1/distributors", tags=["distributors"], route_class=StrictJsonRoute)


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
    command = CreateDistributor(vendor_id=caller.org_id, actor_id=caller.user_id,
                                company=body.model_dump(exclude={"admin_email"}), admin_email=body.admin_email)
    async with UnitOfWork(request.app.state.session_factory, producer="orgs") as uow:
        async def created() -> PartnerOut:
            return PartnerOut.model_validate(await handlers.create_distributor(uow, command))

        answer = await idempotent(uow.session, idempotency_key,
                                  scope=idempotency_scope(caller, "POST /api/v1/distributors"),
                                  request_body=body, status=201, work=created)
        await uow.commit()
    return answer


@router.get("", response_model=Page[PartnerOut])
async def list_distributors(
    request: Request, params: ListParameters, caller: Caller = require(Action.CREATE_DISTRIBUTORS)
):
    vendor_only(caller)
    return await list_children(request, caller.org_id, Tier.DISTRIBUTOR.value, params)
