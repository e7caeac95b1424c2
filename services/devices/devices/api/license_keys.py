"""Licenses of the licensed software as members see them: the end customer its own (its Admin
also reads the key and suspends or reinstates a license); the integrator and the distributor,
read-only, their customers' and how many devices they use."""

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from devices.api.scope import SearchText, newest_first, sees_keys, visible_licenses
from devices.db import devices, license_users, licenses
from devices.domain.licenses import EXPIRING_WITHIN_DAYS, RESET_WINDOW, Status, resets_left
from devices.handlers import license_status, lifecycle, set_suspended
from shared.auth.dependencies import require
from shared.auth.permissions import Action
from shared.auth.tokens import Caller
from shared.db import UnitOfWork
from shared.pagination import Cursor, Limit, Page
from shared.problems import Problem
from shared.strict_json import StrictJsonRoute

router = APIRouter(prefix="/api/v1/license-keys", tags=["license keys"], route_class=StrictJsonRoute)


class LicenseOut(BaseModel):
    id: uuid.UUID
    org_id: uuid.UUID
    key_hint: str
    product_id: uuid.UUID
    product_name: str
    license_type: str | None
    entitlement_id: str
    activation_id: uuid.UUID
    project_name: str
    serial_number: str | None
    status: Status
    created_at: datetime
    first_activated_at: datetime | None
    expires_on: date | None
    grace_ends_on: date | None
    max_devices: int
    max_license_users: int
    default_user_activation_cap: int
    grace_period_days: int
    virtual_machines_allowed: bool
    offline_allowed: bool
    device_resets_per_30_days: int
    devices_in_use: int
    license_users: int
    last_validated_at: datetime | None


class ActivationHistoryEntry(BaseModel):
    device_id: uuid.UUID
    name: str | None
    user_email: str | None
    status: str
    activated_at: datetime
    released_at: datetime | None


class LicenseDetail(LicenseOut):
    key: str | None  # only for the owning customer's Admin
    resets_left: int
    activation_history: list[ActivationHistoryEntry]


_ACTIVE = sa.and_(devices.c.license_id == licenses.c.id, devices.c.status == "active")
DEVICES_IN_USE = sa.select(sa.func.count()).where(_ACTIVE).scalar_subquery().label("devices_in_use")
USERS = (sa.select(sa.func.count()).where(license_users.c.license_id == licenses.c.id)
         .scalar_subquery().label("license_users"))
LAST_VALIDATED = (sa.select(sa.func.max(devices.c.last_validated_at)).where(devices.c.license_id == licenses.c.id)
                  .scalar_subquery().label("last_validated_at"))

# The status as devices.domain.licenses.status_on computes it, for filtering in the database.
_TODAY = sa.cast(sa.func.timezone("UTC", sa.func.now()), sa.Date)
STATUS = sa.case(
    (licenses.c.revoked_at.is_not(None), Status.REVOKED.value),
    (licenses.c.suspended, Status.SUSPENDED.value),
    (licenses.c.paused, Status.PAUSED.value),
    (licenses.c.expires_on.is_(None), Status.ACTIVE.value),
    (licenses.c.expires_on > _TODAY + EXPIRING_WITHIN_DAYS, Status.ACTIVE.value),
    (licenses.c.expires_on >= _TODAY, Status.EXPIRING.value),
    (licenses.c.expires_on + licenses.c.grace_period_days >= _TODAY, Status.IN_GRACE.value),
    else_=Status.EXPIRED.value,
)


def license_out(row) -> dict:
    return dict(row, status=license_status(row), grace_ends_on=lifecycle(row).grace_ends_on)


@router.get("", response_model=Page[LicenseOut])
async def list_licenses(
    request: Request,
    caller: Caller = require(Action.VIEW_LICENSE_KEYS),
    search: SearchText = None,
    status: Status | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
):
    """Newest first; `search` matches the project, the product, the entitlement id and the key's
    last group."""
    query = sa.select(licenses, DEVICES_IN_USE, USERS, LAST_VALIDATED).where(visible_licenses(caller))
    if status is not None:
        query = query.where(STATUS == status.value)
    return await newest_first(request, query, moment=licenses.c.created_at, model=LicenseOut, limit=limit,
                              cursor=cursor, search=search, shape=license_out, search_columns=(
                                  licenses.c.project_name, licenses.c.product_name, licenses.c.entitlement_id,
                                  licenses.c.key_hint))


@router.get("/{license_id}", response_model=LicenseDetail)
async def get_license(request: Request, license_id: uuid.UUID, caller: Caller = require(Action.VIEW_LICENSE_KEYS)):
    async with request.app.state.session_factory() as session:
        row = (await session.execute(sa.select(licenses, DEVICES_IN_USE, USERS, LAST_VALIDATED).where(
            licenses.c.id == license_id, visible_licenses(caller)))).mappings().one_or_none()
        if row is None:
            raise Problem(404, f"No license with id {license_id}.")
        resets = await session.scalar(sa.select(sa.func.count()).select_from(devices).where(
            devices.c.license_id == license_id, devices.c.status == "reset",
            devices.c.released_at > sa.func.now() - RESET_WINDOW))
        history = (await session.execute(
            sa.select(devices.c.id.label("device_id"), devices.c.name, devices.c.user_email, devices.c.status,
                      devices.c.activated_at, devices.c.released_at)
            .where(devices.c.license_id == license_id)
            .order_by(devices.c.activated_at.desc(), devices.c.id.desc()).limit(20))).mappings().all()
    sealer = request.app.state.settings.key_sealer
    key = sealer.decrypt(row["key_sealed"].encode()).decode() if sees_keys(caller) else None
    return LicenseDetail(**license_out(row), key=key, resets_left=resets_left(row["device_resets_per_30_days"], resets),
                         activation_history=[ActivationHistoryEntry(**entry) for entry in history])


async def _suspension(request: Request, caller: Caller, license_id: uuid.UUID, suspended: bool) -> Response:
    async with UnitOfWork(request.app.state.session_factory, producer="devices") as uow:
        await set_suspended(uow, caller.org_id, license_id, suspended)
        await uow.commit()
    return Response(status_code=204)


@router.post("/{license_id}/suspend", status_code=204)
async def suspend_license(request: Request, license_id: uuid.UUID,
                          caller: Caller = require(Action.MANAGE_LICENSE_KEYS)):
    """Validations answer SUSPENDED until the license is reinstated (a lost or leaked key)."""
    return await _suspension(request, caller, license_id, True)


@router.post("/{license_id}/reinstate", status_code=204)
async def reinstate_license(request: Request, license_id: uuid.UUID,
                            caller: Caller = require(Action.MANAGE_LICENSE_KEYS)):
    return await _suspension(request, caller, license_id, False)
