"""A reseller's price list: plans with their interval, price per unit and currency."""

import uuid
from decimal import Decimal
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from billing.api.shapes import PlanOut, idempotency_scope, plan_out, sorted_items, unit_of_work
from billing.db import plans
from billing.domain.commands import SavePlan
from billing.domain.money import InvalidAmount, to_minor
from billing.domain.periods import INTERVALS
from billing.handlers import save_plan
from shared.auth.dependencies import require
from shared.auth.permissions import Action
from shared.auth.tokens import Caller
from shared.idempotency import IdempotencyKey, idempotent
from shared.pagination import Cursor, Limit, Page
from shared.problems import Problem
from shared.sorting import SortBy, SortOrder
from shared.strict_json import StrictJsonRoute
from shared.validation import FilledLine, Flag, whole_number

router = APIRouter(prefix="/api/v1/plans", tags=["plans"], route_class=StrictJsonRoute)


class PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Annotated[FilledLine, Field(max_length=120)]
    # monthly, yearly, or "months" with interval_months (every N months).
    interval: Literal["monthly", "yearly", "months"]
    interval_months: whole_number(ge=1, le=60) | None = None
    unit_price: Annotated[Decimal, Field(ge=0, le=Decimal("100000000"))]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217, e.g. EUR")]
    enabled: Flag = True

    @model_validator(mode="after")
    def _months(self):
        if self.interval == "months" and self.interval_months is None:
            raise ValueError("interval 'months' needs interval_months (1 to 60)")
        if self.interval != "months" and self.interval_months not in (None, INTERVALS[self.interval]):
            raise ValueError(f"a {self.interval} plan is every {INTERVALS[self.interval]} month(s)")
        return self

    def command(self, org_id: uuid.UUID, plan_id: uuid.UUID | None = None) -> SavePlan:
        try:
            minor = to_minor(self.unit_price, self.currency)
        except InvalidAmount as error:
            raise Problem(422, str(error)) from error
        return SavePlan(org_id=org_id, plan_id=plan_id, name=self.name, currency=self.currency, enabled=self.enabled,
                        interval_months=self.interval_months or INTERVALS[self.interval], unit_price_minor=minor)


@router.post("", status_code=201, response_model=PlanOut)
async def create_plan(request: Request, body: PlanIn, key: IdempotencyKey = None,
                      caller: Caller = require(Action.MANAGE_PLANS)):
    scope = idempotency_scope(caller, "POST /api/v1/plans")
    async with unit_of_work(request) as uow:
        async def create() -> PlanOut:
            return plan_out(await save_plan(uow, body.command(caller.org_id)))

        answer = await idempotent(uow.session, key, scope=scope, request_body=body.model_dump(mode="json"),
                                  status=201, work=create)
        await uow.commit()
    return answer


@router.put("/{plan_id}", response_model=PlanOut)
async def update_plan(request: Request, plan_id: uuid.UUID, body: PlanIn, caller: Caller = require(Action.MANAGE_PLANS)):
    async with unit_of_work(request) as uow:
        answer = plan_out(await save_plan(uow, body.command(caller.org_id, plan_id)))
        await uow.commit()
    return answer


PLAN_SORTS = {"name": plans.c.name, "created_at": plans.c.created_at, "unit_price": plans.c.unit_price_minor}


@router.get("", response_model=Page[PlanOut])
async def list_plans(request: Request, caller: Caller = require(Action.VIEW_PLANS), enabled: bool | None = None,
                     sort: SortBy(PLAN_SORTS) = "name", order: SortOrder = None, limit: Limit = 50,
                     cursor: Cursor = None):
    query = sa.select(plans).where(plans.c.org_id == caller.org_id)
    if enabled is not None:
        query = query.where(plans.c.enabled == enabled)
    async with request.app.state.session_factory() as session:
        return await sorted_items(session, query, PLAN_SORTS, sort, order, plans.c.id, cursor, limit, plan_out)


@router.get("/{plan_id}", response_model=PlanOut)
async def get_plan(request: Request, plan_id: uuid.UUID, caller: Caller = require(Action.VIEW_PLANS)):
    async with request.app.state.session_factory() as session:
        row = (await session.execute(sa.select(plans).where(plans.c.id == plan_id, plans.c.org_id == caller.org_id))
               ).mappings().one_or_none()
    if row is None:
        raise Problem(404, f"No plan with id {plan_id}.")
    return plan_out(row)
