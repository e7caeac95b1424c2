"""The devices activated on an end customer's licenses: list, details, and reset (its Admin:
the slot is free again, the row stays as history, and it counts against the reset budget)."""

import uuid
from datetime import datetime
from typing import Literal

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from devices.api.scope import SearchText, newest_first, visible_licenses
from devices.db import devices, licenses
from devices.handlers import reset_device
from shared.auth.dependencies import require
from shared.auth.permissions import Action
from shared.auth.tokens import Caller
from shared.db import UnitOfWork
from shared.pagination import Cursor, Limit, Page
from shared.problems import Problem
from shared.strict_json import StrictJsonRoute

router = APIRouter(prefix="/api/v1/devices", tags=["devices"], route_class=StrictJsonRoute)


class DeviceOut(BaseModel):
    id: uuid.UUID
    license_id: uuid.UUID
    project_name: str
    product_name: str
    name: str | None
    platform: str | None
    hostname: str | None
    virtual_machine: bool
    license_user_id: uuid.UUID | None
    user_email: str | None
    status: str
    activated_at: datetime
    last_validated_at: datetime | None
    released_at: datetime | None


DEVICES = (sa.select(devices, licenses.c.project_name, licenses.c.product_name)
           .join(licenses, licenses.c.id == devices.c.license_id))


@router.get("", response_model=Page[DeviceOut])
async def list_devices(
    request: Request,
    caller: Caller = require(Action.VIEW_DEVICES),
    license_id: uuid.UUID | None = None,
    status: Literal["active", "reset", "deactivated"] | None = None,
    search: SearchText = None,
    limit: Limit = 50,
    cursor: Cursor = None,
):
    """Newest activation first; `search` matches the name, the hostname and the user's email."""
    query = DEVICES.where(visible_licenses(caller))
    if license_id is not None:
        query = query.where(devices.c.license_id == license_id)
    if status is not None:
        query = query.where(devices.c.status == status)
    return await newest_first(request, query, moment=devices.c.activated_at, model=DeviceOut, limit=limit,
                              cursor=cursor, search=search,
                              search_columns=(devices.c.name, devices.c.hostname, devices.c.user_email))


@router.get("/{device_id}", response_model=DeviceOut)
async def get_device(request: Request, device_id: uuid.UUID, caller: Caller = require(Action.VIEW_DEVICES)):
    async with request.app.state.session_factory() as session:
        row = (await session.execute(DEVICES.where(devices.c.id == device_id, visible_licenses(caller)))
               ).mappings().one_or_none()
    if row is None:
        raise Problem(404, f"No device with id {device_id}.")
    return DeviceOut.model_validate(dict(row))


@router.post("/{device_id}/reset", status_code=204)
async def reset(request: Request, device_id: uuid.UUID, caller: Caller = require(Action.RESET_DEVICES)):
    """409 when the license's resets of the last 30 days are used up, or the device is not active."""
    async with UnitOfWork(request.app.state.session_factory, producer="devices") as uow:
        await reset_device(uow, caller.org_id, device_id)
        await uow.commit()
    return Response(status_code=204)
