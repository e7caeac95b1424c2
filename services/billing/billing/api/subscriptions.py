"""Subscription licences: the account manager's console (create, list with filters and search,
pause, resume, delete while unused, a new claim code) and the customer's view of its licences."""

import uuid
from datetime import date, timedelta
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from billing.api.shapes import SubscriptionOut, idempotency_scope, sorted_items, subscription_out, unit_of_work
from billing.db import claim_codes, org_directory, plans, subscriptions
from billing.domain.commands import CreateSubscription, PauseSubscription
from billing.handlers import (
    create_subscription,
    delete_subscription,
    pause_subscription,
    reissue_claim_code,
    resume_subscription,
    today,
)
from shared.auth.dependencies import require
from shared.auth.permissions import Action, Tier
from shared.auth.tokens import Caller
from shared.idempotency import IdempotencyKey, idempotent
from shared.pagination import Cursor, Limit, Page
from shared.problems import Problem
from shared.search import contains_pattern
from shared.sorting import SortBy, SortOrder
from shared.strict_json import StrictJsonRoute
from shared.validation import FilledLine, FilledText, Flag, Text, whole_number

PATH = "/api/v1/subscriptions"
router = APIRouter(prefix=PATH, tags=["subscriptions"], route_class=StrictJsonRoute)
MAX_QUANTITY = 1_000_000


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    plan_id: uuid.UUID
    name: Annotated[FilledLine, Field(max_length=200)]
    note: Annotated[Text, Field(max_length=2000)] | None = None
    quantity: whole_number(ge=1, le=MAX_QUANTITY)
    entitlement_id: Annotated[FilledText, Field(max_length=64)]
    product_id: uuid.UUID
    # None: not assigned; a claim code is given to hand to the customer.
    customer_org_id: uuid.UUID | None = None
    auto_renew: Flag = True


class PauseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resume_on: date | None = None  # None: paused until resumed by hand


_CUSTOMERS = org_directory.alias("customer")
_ROWS = (
    sa.select(subscriptions, plans.c.name.label("plan_name"), plans.c.interval_months, plans.c.unit_price_minor,
              plans.c.currency, _CUSTOMERS.c.name.label("customer_name"),
              claim_codes.c.expires_at.label("claim_code_expires_at"), claim_codes.c.used_at.label("claim_code_used_at"))
    .join(plans, plans.c.id == subscriptions.c.plan_id)
    .outerjoin(_CUSTOMERS, _CUSTOMERS.c.id == subscriptions.c.customer_org_id)
    .outerjoin(claim_codes, claim_codes.c.subscription_id == subscriptions.c.id)
    .where(subscriptions.c.deleted_at.is_(None))
)
# Keyword search: any field the console shows.
_SEARCHED = sa.func.concat_ws(
    " ", subscriptions.c.name, subscriptions.c.note, plans.c.name, _CUSTOMERS.c.name, subscriptions.c.entitlement_id,
    sa.cast(subscriptions.c.id, sa.Text), sa.cast(subscriptions.c.quantity, sa.Text), subscriptions.c.billing_status,
    subscriptions.c.reservation, plans.c.currency, sa.cast(subscriptions.c.period_end, sa.Text),
)
SORTS = {"created_at": subscriptions.c.created_at, "name": subscriptions.c.name, "period_end": subscriptions.c.period_end,
         "quantity": subscriptions.c.quantity}


def _visible(caller: Caller):
    """A customer sees the licences assigned to it; a reseller those it sells."""
    if caller.tier == Tier.CUSTOMER:
        return subscriptions.c.customer_org_id == caller.org_id
    return subscriptions.c.seller_org_id == caller.org_id


async def _one(request: Request, caller: Caller, subscription_id: uuid.UUID, session=None) -> dict:
    """The licence as the console shows it, if the caller may see it; in `session` when given."""
    if session is None:
        async with request.app.state.session_factory() as own:
            return await _one(request, caller, subscription_id, own)
    row = (await session.execute(_ROWS.where(subscriptions.c.id == subscription_id, _visible(caller)))
           ).mappings().one_or_none()
    if row is None:
        raise Problem(404, f"No licence with id {subscription_id}.")
    return dict(row)


def _window(request: Request) -> int:
    return request.app.state.settings.expiring_soon_days


@router.post("", status_code=202, response_model=SubscriptionOut)
async def create(request: Request, body: SubscriptionIn, key: IdempotencyKey = None,
                 caller: Caller = require(Action.MANAGE_SUBSCRIPTIONS)):
    """Answered at once with the licence pending: the ledger reserves its quantity out of the
    holding (or refuses: `reservation` then says rejected, with the reason). The claim code is in
    this answer only; a replay with the same Idempotency-Key leaves it out (POST .../claim-code
    gives a new one)."""
    scope = idempotency_scope(caller, f"POST {PATH}")
    settings = request.app.state.settings
    async with unit_of_work(request) as uow:
        async def create_it() -> SubscriptionOut:
            created = await create_subscription(uow, CreateSubscription(
                subscription_id=uuid.uuid4(), seller_org_id=caller.org_id, created_by=caller.user_id,
                **body.model_dump()), settings)
            return subscription_out(await _one(request, caller, created.subscription["id"], uow.session),
                                    _window(request), claim_code=created.claim_code)

        answer = await idempotent(uow.session, key, scope=scope, request_body=body.model_dump(mode="json"),
                                  status=202, work=create_it,
                                  stored=lambda answer: answer.model_copy(update={"claim_code": None}))
        await uow.commit()
    if isinstance(answer, JSONResponse):  # a replay
        return answer
    return JSONResponse(answer.model_dump(mode="json"), status_code=202, headers={"Location": f"{PATH}/{answer.id}"})


@router.get("", response_model=Page[SubscriptionOut])
async def list_subscriptions(
    request: Request,
    caller: Caller = require(Action.VIEW_SUBSCRIPTIONS),
    customer_id: uuid.UUID | None = None,
    expiring_soon: bool = False,
    expired: bool = False,
    window_days: Annotated[int | None, Query(ge=1, le=366, description="The expiring-soon window")] = None,
    q: Annotated[Text | None, Query(max_length=200, description="A keyword, matched in any field")] = None,
    sort: SortBy(SORTS) = "created_at",
    order: SortOrder = None,
    limit: Limit = 50,
    cursor: Cursor = None,
):
    """The licences, newest first by default. `expiring_soon` and `expired` narrow the list (both:
    either); `q` matches any field; `customer_id` keeps one customer's."""
    window = window_days or _window(request)
    query = _ROWS.where(_visible(caller))
    if customer_id is not None:
        query = query.where(subscriptions.c.customer_org_id == customer_id)
    on = today()
    toggles = []
    if expiring_soon:
        toggles.append(sa.and_(subscriptions.c.period_end > on, subscriptions.c.period_end <= on + timedelta(window),
                               sa.not_(subscriptions.c.paused)))
    if expired:
        toggles.append(subscriptions.c.period_end <= on)
    if toggles:
        query = query.where(sa.or_(*toggles))
    if q and q.strip():
        query = query.where(_SEARCHED.ilike(contains_pattern(q), escape="\\"))
    async with request.app.state.session_factory() as session:
        return await sorted_items(session, query, SORTS, sort, order, subscriptions.c.id, cursor, limit,
                                  lambda row: subscription_out(row, window))


@router.get("/{subscription_id}", response_model=SubscriptionOut)
async def get_subscription(request: Request, subscription_id: uuid.UUID,
                           caller: Caller = require(Action.VIEW_SUBSCRIPTIONS)):
    return subscription_out(await _one(request, caller, subscription_id), _window(request))


@router.post("/{subscription_id}/pause", response_model=SubscriptionOut)
async def pause(request: Request, subscription_id: uuid.UUID, body: PauseIn | None = None,
                caller: Caller = require(Action.MANAGE_SUBSCRIPTIONS)):
    """Paused days are not billed, and the licence's devices are told PAUSED; with `resume_on`
    it resumes by itself that day."""
    async with unit_of_work(request) as uow:
        await pause_subscription(uow, PauseSubscription(org_id=caller.org_id, subscription_id=subscription_id,
                                                        resume_on=body.resume_on if body else None))
        await uow.commit()
    return subscription_out(await _one(request, caller, subscription_id), _window(request))


@router.post("/{subscription_id}/resume", response_model=SubscriptionOut)
async def resume(request: Request, subscription_id: uuid.UUID, caller: Caller = require(Action.MANAGE_SUBSCRIPTIONS)):
    async with unit_of_work(request) as uow:
        await resume_subscription(uow, caller.org_id, subscription_id)
        await uow.commit()
    return subscription_out(await _one(request, caller, subscription_id), _window(request))


@router.post("/{subscription_id}/claim-code", response_model=SubscriptionOut)
async def new_claim_code(request: Request, subscription_id: uuid.UUID,
                         caller: Caller = require(Action.MANAGE_SUBSCRIPTIONS)):
    """A new claim code for an unassigned licence; the previous one stops working."""
    async with unit_of_work(request) as uow:
        code = await reissue_claim_code(uow, caller.org_id, subscription_id, request.app.state.settings)
        await uow.commit()
    answer = subscription_out(await _one(request, caller, subscription_id), _window(request))
    answer.claim_code = code
    return answer


@router.delete("/{subscription_id}", status_code=204)
async def delete(request: Request, subscription_id: uuid.UUID, caller: Caller = require(Action.MANAGE_SUBSCRIPTIONS)):
    """Only while unused (not a customer's yet): its quantity goes back to the holding."""
    async with unit_of_work(request) as uow:
        await delete_subscription(uow, caller.org_id, subscription_id)
        await uow.commit()
    return Response(status_code=204)
