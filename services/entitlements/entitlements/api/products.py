"""The product catalog: everyone signed in reads it; the vendor's Admin adds to it."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from entitlements import handlers
from entitlements.api.listing import Order, SearchText, keyset_page, next_cursor
from entitlements.db import products
from entitlements.domain.catalog import DEPLOYMENT_TYPES, LICENSE_TYPES
from entitlements.domain.commands import CreateProduct
from shared.auth.dependencies import require
from shared.auth.permissions import Action, Tier
from shared.auth.tokens import Caller
from shared.db import UnitOfWork
from shared.events.entitlements import DeviceRules
from shared.idempotency import IdempotencyKey, idempotency_scope, idempotent
from shared.pagination import Cursor, Limit, Page
from shared.problems import Problem
from shared.search import contains_pattern
from shared.sorting import SortBy
from shared.strict_json import StrictJsonRoute
from shared.validation import FilledLine, Text

router = APIRouter(prefix="/api/v1/products", tags=["products"], route_class=StrictJsonRoute)

LicenseType = Literal[LICENSE_TYPES]  # type: ignore[valid-type]
DeploymentType = Literal[DEPLOYMENT_TYPES]  # type: ignore[valid-type]


class ProductIn(DeviceRules):  # the device rules: optional, with defaults
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Annotated[FilledLine, Field(max_length=200)]
    license_type: LicenseType
    description: Annotated[Text, Field(max_length=2000)] | None = None
    deployment_type: DeploymentType | None = None


class ProductOut(DeviceRules):
    id: uuid.UUID
    name: str
    license_type: str
    description: str | None
    deployment_type: str | None
    created_at: datetime


@router.post("", status_code=201, response_model=ProductOut)
async def create_product(
    request: Request, body: ProductIn, idempotency_key: IdempotencyKey = None,
    caller: Caller = require(Action.MANAGE_PRODUCTS),
):
    if caller.tier != Tier.VENDOR:
        raise Problem(403, "Only the vendor manages products.")
    fields = body.model_dump()
    device_rules = {name: fields.pop(name) for name in DeviceRules.model_fields}
    command = CreateProduct(vendor_id=caller.org_id, created_by=caller.user_id, device_rules=device_rules, **fields)
    async with UnitOfWork(request.app.state.session_factory, producer="entitlements") as uow:
        async def create() -> ProductOut:
            return ProductOut.model_validate(await handlers.create_product(uow, command))

        answer = await idempotent(uow.session, idempotency_key,
                                  scope=idempotency_scope(caller, "POST /api/v1/products"),
                                  request_body=body.model_dump(), status=201, work=create)
        await uow.commit()
    return answer


SORTS = {
    "name": (products.c.name, str),
    "license_type": (products.c.license_type, str),
    "description": (sa.func.coalesce(products.c.description, "").label("description_key"), str),
    "deployment_type": (sa.func.coalesce(products.c.deployment_type, "").label("deployment_key"), str),
    "created_at": (products.c.created_at, datetime),
}


@router.get("", response_model=Page[ProductOut])
async def list_products(
    request: Request,
    caller: Caller = require(Action.VIEW_LICENSES),
    search: SearchText = None,
    license_type: LicenseType | None = None,
    sort: SortBy(SORTS) = "name",
    order: Order = "asc",
    limit: Limit = 50,
    cursor: Cursor = None,
):
    catalog = sa.select(products, SORTS["description"][0], SORTS["deployment_type"][0])
    if search and search.strip():
        pattern = contains_pattern(search)
        catalog = catalog.where(sa.or_(products.c.name.ilike(pattern, escape="\\"),
                                       products.c.license_type.ilike(pattern, escape="\\")))
    if license_type:
        catalog = catalog.where(products.c.license_type == license_type)
    listed = catalog.subquery()
    columns = {name: (listed.c[expr.key], kind) for name, (expr, kind) in SORTS.items()}
    query = keyset_page(sa.select(listed), columns=columns, sort=sort, order=order, id_column=listed.c.id,
                        id_type=uuid.UUID, cursor=cursor, limit=limit)
    async with request.app.state.session_factory() as session:
        rows = (await session.execute(query)).mappings().all()
    return Page[ProductOut](
        items=[ProductOut.model_validate(dict(r)) for r in rows[:limit]],
        next_cursor=next_cursor(rows, columns=columns, sort=sort, order=order, limit=limit, id_key="id"),
    )
