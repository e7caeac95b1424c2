"""The people allowed to activate devices on an end customer's license: its Admin assigns them
(the initial password is answered once and mailed), changes their email, name or activation
cap, sets a new password, resets their activations and removes them; its Viewer reads."""

import uuid
from datetime import datetime
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from devices.api.scope import SearchText, newest_first, visible_licenses
from devices.db import devices, license_users, licenses
from devices.domain.commands import AssignLicenseUser, ChangeLicenseUser
from devices.handlers import (
    assign_license_user, change_license_user, remove_license_user, reset_license_user, set_license_user_password)
from shared.auth.dependencies import require
from shared.auth.permissions import Action
from shared.auth.tokens import Caller
from shared.db import UnitOfWork
from shared.idempotency import IdempotencyKey, idempotent
from shared.pagination import Cursor, Limit, Page
from shared.problems import Problem
from shared.validation import Email, Line, whole_number
from shared.strict_json import StrictJsonRoute

PATH = "/api/v1/license-users"
router = APIRouter(prefix=PATH, tags=["license users"], route_class=StrictJsonRoute)

Name = Annotated[Line, Field(max_length=200)]
Cap = Annotated[whole_number(ge=1, le=100_000), Field(description="Devices this user may activate")]


class LicenseUserIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    license_id: uuid.UUID
    email: Email
    name: Name | None = None
    activation_cap: Cap | None = None  # absent: the license's default per-user cap


class LicenseUserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: Email | None = None
    name: Name | None = None
    activation_cap: Cap | None = None


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: Annotated[str, Field(min_length=10, max_length=200)] | None = None  # absent: a random one


class LicenseUserOut(BaseModel):
    id: uuid.UUID
    license_id: uuid.UUID
    email: str
    name: str | None
    activation_cap: int
    devices_in_use: int
    created_at: datetime


class AssignedLicenseUser(LicenseUserOut):
    initial_password: str  # shown this once


USERS = sa.select(
    license_users,
    sa.select(sa.func.count()).where(devices.c.license_user_id == license_users.c.id, devices.c.status == "active")
    .scalar_subquery().label("devices_in_use"),
).join(licenses, licenses.c.id == license_users.c.license_id)


async def _user(request: Request, caller: Caller, user_id: uuid.UUID) -> LicenseUserOut:
    async with request.app.state.session_factory() as session:
        row = (await session.execute(USERS.where(license_users.c.id == user_id, visible_licenses(caller)))
               ).mappings().one_or_none()
    if row is None:
        raise Problem(404, f"No license user with id {user_id}.")
    return LicenseUserOut.model_validate(dict(row))


@router.get("", response_model=Page[LicenseUserOut])
async def list_license_users(
    request: Request,
    caller: Caller = require(Action.VIEW_LICENSE_USERS),
    license_id: uuid.UUID | None = None,
    search: SearchText = None,
    limit: Limit = 50,
    cursor: Cursor = None,
):
    query = USERS.where(visible_licenses(caller))
    if license_id is not None:
        query = query.where(license_users.c.license_id == license_id)
    return await newest_first(request, query, moment=license_users.c.created_at, model=LicenseUserOut, limit=limit,
                              cursor=cursor, search=search, search_columns=(license_users.c.email, license_users.c.name))


@router.get("/{license_user_id}", response_model=LicenseUserOut)
async def get_license_user(request: Request, license_user_id: uuid.UUID,
                           caller: Caller = require(Action.VIEW_LICENSE_USERS)):
    return await _user(request, caller, license_user_id)


@router.post("", status_code=201, response_model=AssignedLicenseUser)
async def assign(request: Request, body: LicenseUserIn, key: IdempotencyKey = None,
                 caller: Caller = require(Action.MANAGE_LICENSE_USERS)):
    """409 when the license has as many users as it allows or the email is already one of them.
    A replay (the same Idempotency-Key and body) answers the same, initial password included: it
    is kept sealed with the service's key, never in clear."""
    sealer = request.app.state.settings.key_sealer
    scope = f"{caller.org_id}:{caller.user_id}:POST {PATH}"
    async with UnitOfWork(request.app.state.session_factory, producer="devices") as uow:
        async def assign_one() -> AssignedLicenseUser:
            user, password = await assign_license_user(uow, AssignLicenseUser(org_id=caller.org_id,
                                                                               **body.model_dump()))
            return AssignedLicenseUser(**user, devices_in_use=0, initial_password=password)

        def sealed(answer: AssignedLicenseUser) -> AssignedLicenseUser:
            password = sealer.encrypt(answer.initial_password.encode()).decode()
            return answer.model_copy(update={"initial_password": password})

        def unsealed(stored: dict) -> dict:
            if "initial_password" not in stored:
                return stored
            return {**stored, "initial_password": sealer.decrypt(stored["initial_password"].encode()).decode()}

        answer = await idempotent(uow.session, key, scope=scope, request_body=body.model_dump(mode="json"),
                                  status=201, work=assign_one, stored=sealed, replayed=unsealed)
        await uow.commit()
    if isinstance(answer, JSONResponse):  # a replay
        return answer
    return JSONResponse(answer.model_dump(mode="json"), status_code=201,
                        headers={"Location": f"{PATH}/{answer.id}"})


@router.patch("/{license_user_id}", response_model=LicenseUserOut)
async def change(request: Request, license_user_id: uuid.UUID, body: LicenseUserPatch,
                 caller: Caller = require(Action.MANAGE_LICENSE_USERS)):
    """A lower cap keeps the devices already active; it only stops new ones."""
    async with UnitOfWork(request.app.state.session_factory, producer="devices") as uow:
        await change_license_user(uow, ChangeLicenseUser(org_id=caller.org_id, license_user_id=license_user_id,
                                                         **body.model_dump()))
        await uow.commit()
    return await _user(request, caller, license_user_id)


@router.delete("/{license_user_id}", status_code=204)
async def remove(request: Request, license_user_id: uuid.UUID, caller: Caller = require(Action.MANAGE_LICENSE_USERS)):
    """Its active devices are reset (their slots free) and it is gone."""
    async with UnitOfWork(request.app.state.session_factory, producer="devices") as uow:
        await remove_license_user(uow, caller.org_id, license_user_id)
        await uow.commit()
    return Response(status_code=204)


@router.post("/{license_user_id}/reset")
async def reset_activations(request: Request, license_user_id: uuid.UUID,
                            caller: Caller = require(Action.MANAGE_LICENSE_USERS)):
    """Resets every active device of the user; 409 when the reset budget has not room for all."""
    async with UnitOfWork(request.app.state.session_factory, producer="devices") as uow:
        count = await reset_license_user(uow, caller.org_id, license_user_id)
        await uow.commit()
    return {"devices_reset": count}


@router.post("/{license_user_id}/password")
async def new_password(request: Request, license_user_id: uuid.UUID, body: PasswordIn | None = None,
                       caller: Caller = require(Action.MANAGE_LICENSE_USERS)):
    """The new password, answered this once (and mailed to the user)."""
    async with UnitOfWork(request.app.state.session_factory, producer="devices") as uow:
        password = await set_license_user_password(uow, caller.org_id, license_user_id,
                                                   body.password if body else None)
        await uow.commit()
    return {"password": password}
