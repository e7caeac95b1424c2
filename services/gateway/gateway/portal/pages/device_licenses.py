"""Licenses of the licensed software (document 4), for the end customer: the Licenses list
(search, status filter) and a license's page (identity, type, status, lifecycle, usage rules, user
allocation, activation history and last validation, its devices with Reset after a confirmation,
its license users: assign, change, new password, reset activations, remove); the Devices list.
The integrator and the distributor see the list, read-only, with the devices each license uses."""

import uuid
from typing import Annotated

from fastapi import Form, Request
from starlette.responses import Response

from gateway.portal.api_client import problem_detail
from gateway.portal.dependencies import PortalDep
from gateway.portal.pages.listing import passed_on
from gateway.portal.routing import portal_router
from gateway.portal.form_values import number_or_text

router = portal_router()

PAGE_SIZE = 25
STATUSES = ("active", "expiring", "in_grace", "expired", "suspended", "paused", "revoked")
Text = Annotated[str, Form(max_length=254)]


def _page(answer) -> dict:
    return answer.json() if answer.status_code == 200 else {"items": [], "next_cursor": None}


@router.get("/license-keys")
async def licenses_page(portal: PortalDep, request: Request) -> Response:
    answer = await portal.api.get("/api/v1/license-keys", params={
        **passed_on(request, ("search", "status", "cursor")), "limit": PAGE_SIZE})
    page = _page(answer)
    return portal.render("device_licenses/list.html", fragment="device_licenses/_list.html", title="Licenses",
                         items=page["items"], next_cursor=page["next_cursor"], statuses=STATUSES,
                         filters=passed_on(request, ("search", "status")),
                         error=None if answer.status_code == 200 else problem_detail(answer))


@router.get("/license-keys/{license_id}")
async def license_page(portal: PortalDep, license_id: uuid.UUID) -> Response:
    answer = await portal.api.get(f"/api/v1/license-keys/{license_id}")
    if answer.status_code != 200:
        return portal.redirect("/license-keys", f"Not found: {problem_detail(answer)}")
    license = answer.json()
    devices = users = {"items": []}
    if portal.caller.tier.value == "customer":
        devices = _page(await portal.api.get("/api/v1/devices", params={"license_id": str(license_id),
                                                                         "status": "active", "limit": 200}))
        users = _page(await portal.api.get("/api/v1/license-users", params={"license_id": str(license_id),
                                                                             "limit": 200}))
    return portal.render("device_licenses/detail.html", title=f"License {license['project_name']}",
                         license=license, devices=devices["items"], users=users["items"])


async def _suspension(portal, license_id: uuid.UUID, action: str, done: str) -> Response:
    answer = await portal.api.post(f"/api/v1/license-keys/{license_id}/{action}")
    return portal.redirect(f"/license-keys/{license_id}",
                           done if answer.status_code == 204 else f"Not changed: {problem_detail(answer)}")


@router.post("/license-keys/{license_id}/suspend")
async def suspend(portal: PortalDep, license_id: uuid.UUID) -> Response:
    return await _suspension(portal, license_id, "suspend", "Suspended: devices validating it are told SUSPENDED.")


@router.post("/license-keys/{license_id}/reinstate")
async def reinstate(portal: PortalDep, license_id: uuid.UUID) -> Response:
    return await _suspension(portal, license_id, "reinstate", "Reinstated.")


@router.get("/devices")
async def devices_page(portal: PortalDep, request: Request) -> Response:
    answer = await portal.api.get("/api/v1/devices", params={
        **passed_on(request, ("search", "status", "license_id", "cursor")), "limit": PAGE_SIZE})
    page = _page(answer)
    return portal.render("device_licenses/devices.html", fragment="device_licenses/_devices.html", title="Devices",
                         items=page["items"], next_cursor=page["next_cursor"],
                         filters=passed_on(request, ("search", "status", "license_id")),
                         error=None if answer.status_code == 200 else problem_detail(answer))


@router.post("/devices/{device_id}/reset")
async def reset_device(portal: PortalDep, device_id: uuid.UUID, back: Text = "/devices") -> Response:
    answer = await portal.api.post(f"/api/v1/devices/{device_id}/reset")
    message = ("Reset: the device's slot is free (it counts against the license's resets)."
               if answer.status_code == 204 else f"Not reset: {problem_detail(answer)}")
    return portal.redirect(back if back.startswith("/") and not back.startswith("//") else "/devices", message)


@router.post("/license-keys/{license_id}/users")
async def assign_user(portal: PortalDep, license_id: uuid.UUID, email: Text = "", name: Text = "",
                      activation_cap: Annotated[str, Form(max_length=10)] = "") -> Response:
    body = {"license_id": str(license_id), "email": email.strip(), **({"name": name.strip()} if name.strip() else {}),
            **({"activation_cap": number_or_text(activation_cap.strip())} if activation_cap.strip() else {})}
    answer = await portal.api.post("/api/v1/license-users", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    if answer.status_code != 201:
        return portal.redirect(f"/license-keys/{license_id}", f"Not assigned: {problem_detail(answer)}")
    user = answer.json()
    return portal.redirect(f"/license-keys/{license_id}",
                           f"Assigned {user['email']}. Initial password (shown this once, also mailed):"
                           f" {user['initial_password']}")


@router.post("/license-keys/{license_id}/users/{user_id}/{action}")
async def change_user(portal: PortalDep, license_id: uuid.UUID, user_id: uuid.UUID, action: str,
                      email: Text = "", activation_cap: Annotated[str, Form(max_length=10)] = "") -> Response:
    path = f"/api/v1/license-users/{user_id}"
    if action == "change":
        body = {k: v for k, v in (("email", email.strip()), ("activation_cap", number_or_text(activation_cap.strip())))
                if v}
        answer, done = await portal.api.patch(path, json=body), "Changed."
    elif action == "password":
        answer = await portal.api.post(f"{path}/password")
        done = f"New password (shown this once, also mailed): {answer.json().get('password')}"
    elif action == "reset":
        answer = await portal.api.post(f"{path}/reset")
        done = f"Reset {answer.json().get('devices_reset')} devices of the user."
    elif action == "remove":
        answer, done = await portal.api.delete(path), "Removed; its devices were reset."
    else:
        return portal.redirect(f"/license-keys/{license_id}", "Unknown action.")
    ok = answer.status_code in (200, 204)
    return portal.redirect(f"/license-keys/{license_id}", done if ok else f"Not done: {problem_detail(answer)}")
