"""The signed-in person's profile: who they are here, and the time zone the portal's times are
shown in (the browser's, unless they choose another)."""

from typing import Annotated
from zoneinfo import available_timezones

from fastapi import Form
from starlette.responses import Response

from gateway.portal.dependencies import PortalDep
from gateway.portal.rendering import TIME_ZONE_CHOSEN_COOKIE, TIME_ZONE_COOKIE
from gateway.portal.routing import portal_router

router = portal_router()

BROWSER = "browser"  # the choice that follows the browser's zone again
_ZONES = sorted(zone for zone in available_timezones() if "/" in zone and not zone.startswith(("Etc/", "SystemV/")))
_YEAR = 365 * 24 * 3600


@router.get("/profile")
async def profile(portal: PortalDep) -> Response:
    chosen = portal.request.cookies.get(TIME_ZONE_CHOSEN_COOKIE) == "1"
    return portal.render("profile.html", title="Profile", zones=["UTC", *_ZONES],
                         zone=portal.request.cookies.get(TIME_ZONE_COOKIE, "UTC") if chosen else BROWSER)


@router.post("/profile/time-zone")
async def choose_time_zone(portal: PortalDep, zone: Annotated[str, Form(max_length=64)] = BROWSER) -> Response:
    if zone != BROWSER and zone not in _ZONES and zone != "UTC":
        response = await profile(portal)
        response.status_code = 422
        return response
    response = portal.redirect("/profile", "Times are now shown in " + (
        "your browser's time zone." if zone == BROWSER else f"{zone}."))
    if zone == BROWSER:  # the browser's zone comes back with the next page (portal.js)
        response.delete_cookie(TIME_ZONE_CHOSEN_COOKIE, path="/")
        response.delete_cookie(TIME_ZONE_COOKIE, path="/")
    else:
        # Readable by portal.js, which then leaves the choice as it is; neither is a secret.
        response.set_cookie(TIME_ZONE_COOKIE, zone, path="/", samesite="strict", max_age=_YEAR)
        response.set_cookie(TIME_ZONE_CHOSEN_COOKIE, "1", path="/", samesite="strict", max_age=_YEAR)
    return response
