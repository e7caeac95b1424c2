"""The API the licensed software calls: authenticated by the license key, not a member token.
Every request is limited per license key and per client address (429 with Retry-After). A key
that does not exist, a malformed key and wrong license-user credentials all get the same answer
(NOT_FOUND) after the same work: the key's digest looked up through the same index."""

import time
from datetime import UTC, date, datetime, time as day_time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from devices.domain.commands import ActivateDevice
from devices.domain.keys import MAX_FINGERPRINT_LENGTH, MAX_KEY_LENGTH, fingerprint_digest, key_digest
from devices.domain.license_files import jwks, sign
from devices.domain.licenses import DETAILS, VALID_CODES, Code, Lifecycle, Status, status_on, validation_code
from devices.domain.rate_limit import retry_after
from devices.handlers import DeviceRefused, activate_device, deactivate_device, lifecycle
from devices.validation import license_and_device
from shared.db import UnitOfWork
from shared.problems import Problem, problem_response
from shared.validation import Email, Flag, Line, whole_number
from shared.strict_json import StrictJsonRoute

DEVICE_PATH = "/api/v1/device"
router = APIRouter(prefix=DEVICE_PATH, tags=["device API"], route_class=StrictJsonRoute)

Key = Annotated[str, Field(min_length=1, max_length=MAX_KEY_LENGTH, description="The license key")]
Fingerprint = Annotated[str, Field(min_length=1, max_length=MAX_FINGERPRINT_LENGTH,
                                   description="What identifies the device (the software computes it)")]
Label = Annotated[Line, Field(max_length=200)] | None

# The HTTP status of a refused activation, deactivation or checkout, by code.
REFUSAL_STATUS = {
    Code.NOT_FOUND: 404,
    Code.DEVICE_NOT_ACTIVATED: 404,
    Code.TOO_MANY_DEVICES: 409,
    Code.USER_DEVICE_LIMIT: 409,
}


class DeviceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    key: Key
    fingerprint: Fingerprint


class ActivateIn(DeviceRequest):
    name: Label = None
    platform: Label = None
    hostname: Label = None
    virtual_machine: Flag = False
    user_email: Email | None = None
    user_password: Annotated[str, Field(max_length=200)] | None = None


class ValidateIn(DeviceRequest):
    nonce: Annotated[str, Field(max_length=200)] | None = None


class CheckoutIn(DeviceRequest):
    ttl: Annotated[whole_number(ge=3600, le=90 * 86400),
                   Field(description="Seconds the file is valid (default 7 days)")] | None = None


def refused(code: Code) -> JSONResponse:
    return problem_response(REFUSAL_STATUS.get(code, 403), DETAILS[code], code=code.value)


def _limited(request: Request, digest: bytes) -> None:
    """Per client address (the last hop a proxy added, else the peer) and per license key."""
    forwarded = request.headers.get("x-forwarded-for", "")
    address = forwarded.rsplit(",", 1)[-1].strip() or (request.client.host if request.client else "unknown")
    moment = time.monotonic()
    for kind, limiter, key in (("address", request.app.state.limit_per_address, address),
                               ("license key", request.app.state.limit_per_key, digest.hex())):
        wait = limiter.wait(key, moment)
        if wait:
            raise Problem(429, f"Too many requests for this {kind}; retry after the given seconds.",
                          headers={"Retry-After": retry_after(wait)})


def _digests(request: Request, body: DeviceRequest) -> tuple[bytes, bytes]:
    secret = request.app.state.settings.key_secret
    digest = key_digest(secret, body.key)
    _limited(request, digest)
    return digest, fingerprint_digest(secret, body.fingerprint)


def license_view(row, status: Status, dates: Lifecycle) -> dict[str, Any]:
    """What the software learns of its license: no key, no owner."""
    return {
        "id": str(row["id"]), "product_id": str(row["product_id"]), "product_name": row["product_name"],
        "license_type": row["license_type"], "entitlement_id": row["entitlement_id"], "status": status.value,
        "expires_on": _iso(row["expires_on"]), "grace_ends_on": _iso(dates.grace_ends_on),
        "rules": {name: row[name] for name in (
            "max_devices", "max_license_users", "default_user_activation_cap", "grace_period_days",
            "virtual_machines_allowed", "offline_allowed", "device_resets_per_30_days")},
    }


def device_view(device: dict) -> dict[str, Any]:
    return {"id": str(device["id"]), "name": device["name"], "platform": device["platform"],
            "hostname": device["hostname"], "user_email": device["user_email"],
            "activated_at": _iso(device["activated_at"]), "last_validated_at": _iso(device["last_validated_at"])}


def _device_of_row(row) -> dict[str, Any]:
    return {"id": row["device_id"], "name": row["device_name"], "platform": row["platform"],
            "hostname": row["hostname"], "user_email": row["user_email"], "activated_at": row["activated_at"],
            "last_validated_at": row["last_validated_at"]}


def _iso(value: date | datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@router.post("/activate", status_code=201, responses={200: {"description": "The device was already active"}})
async def activate(request: Request, body: ActivateIn):
    _digests(request, body)
    settings = request.app.state.settings
    command = ActivateDevice(**body.model_dump())
    try:
        async with UnitOfWork(request.app.state.session_factory, producer="devices") as uow:
            device, created = await activate_device(uow, settings, command)
            await uow.commit()
    except DeviceRefused as refusal:
        return refused(refusal.code)
    return JSONResponse(device_view(device), status_code=201 if created else 200)


@router.post("/validate")
async def validate(request: Request, body: ValidateIn):
    """Always 200 with the answer in `code` (valid: VALID or IN_GRACE), but for a 429 or bad input."""
    digest, fingerprint = _digests(request, body)
    row = await license_and_device(request.app.state.engine, digest, fingerprint)
    answer: dict[str, Any] = {"nonce": body.nonce, "license": None, "device": None}
    if row is None:
        code = validation_code(None, False)
    else:
        dates = lifecycle(row)
        status = status_on(dates, datetime.now(UTC).date())
        code = validation_code(status, row["device_id"] is not None)
        answer["license"] = license_view(row, status, dates)
        if row["device_id"] is not None:
            answer["device"] = device_view(_device_of_row(row))
            request.app.state.validations.saw(row["device_id"])
    return {"valid": code in VALID_CODES, "code": code.value, "detail": DETAILS[code], **answer}


@router.post("/deactivate", status_code=204)
async def deactivate(request: Request, body: DeviceRequest):
    _digests(request, body)
    try:
        async with UnitOfWork(request.app.state.session_factory, producer="devices") as uow:
            await deactivate_device(uow, request.app.state.settings, body.key, body.fingerprint)
            await uow.commit()
    except DeviceRefused as refusal:
        return refused(refusal.code)
    return None


@router.post("/checkout")
async def checkout(request: Request, body: CheckoutIn):
    """A license file for offline use (docs/license-files.md): valid until the earlier of `ttl` and
    the end of the license's grace period."""
    digest, fingerprint = _digests(request, body)
    settings = request.app.state.settings
    row = await license_and_device(request.app.state.engine, digest, fingerprint)
    issued_at = datetime.now(UTC)
    status = None if row is None else status_on(lifecycle(row), issued_at.date())
    code = validation_code(status, row is not None and row["device_id"] is not None)
    if code not in VALID_CODES:
        return refused(code)
    if not row["offline_allowed"]:
        return refused(Code.OFFLINE_NOT_ALLOWED)
    dates = lifecycle(row)
    expires_at = issued_at + timedelta(seconds=body.ttl or settings.license_file_default_ttl_days * 86400)
    if dates.grace_ends_on is not None:
        end_of_grace = datetime.combine(dates.grace_ends_on + timedelta(days=1), day_time(), tzinfo=UTC)
        expires_at = min(expires_at, end_of_grace)
    device = device_view(_device_of_row(row))
    claims = {"sub": str(row["id"]), "license": license_view(row, status, dates),
              "device": {**device, "fingerprint": body.fingerprint}}
    key = settings.signing_keys[0]
    return {"license_file": sign(claims, key, issued_at, expires_at), "kid": key.kid,
            "expires_at": expires_at.isoformat(), "code": code.value}


@router.get("/signing-keys")
async def signing_keys(request: Request):
    """The public keys that verify license files (a JWKS); files name theirs with `kid`."""
    return JSONResponse(jwks(request.app.state.settings.signing_keys),
                        headers={"Cache-Control": "public, max-age=300"})
