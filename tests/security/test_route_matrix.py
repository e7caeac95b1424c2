"""Every route of the public API, called through the gateway by a signed-in member of every role of
every tier: only what the permission table allows gets past the permission check; and every route
with an id, called with an unrelated distributor's real ids, finds nothing. Generated from the
routes and the table: a new route is covered without a new test."""

import httpx
import pytest

from gateway.domain.routing import PUBLIC_ENDPOINTS
from shared.auth.permissions import Tier, is_allowed
from tests.security.cast import Cast, Member, gather_bounded
from tests.security.routes import (
    GUARDED, PUBLIC, PUBLIC_ROUTES, ROUTES, SIGNED_IN, SIGNED_IN_ROUTES, UNGUARDED, VALID_BODIES, WITH_IDS, Route)

pytestmark = [pytest.mark.system, pytest.mark.timeout(120)]


def allowed(route: Route, member: Member) -> bool:
    return route.guard == SIGNED_IN or is_allowed(member.tier, member.role, route.guard)


async def call(http: httpx.AsyncClient, route: Route, ids) -> httpx.Response:
    return await http.request(route.method, route.url(ids), json=route.body())


def table(rows) -> str:
    return "\n".join(f"  {who}: {answer.status_code} {answer.text[:160]}" for who, answer in rows)


def test_every_route_is_guarded_or_listed_as_public():
    unguarded = [str(r) for r in ROUTES if r.guard == UNGUARDED]
    assert not unguarded, f"no token or permission check (guard them, or list them in PUBLIC_ROUTES): {unguarded}"
    assert {(r.method, r.path) for r in ROUTES if r.guard == PUBLIC} == PUBLIC_ROUTES
    assert {(r.method, r.path) for r in ROUTES if r.guard == SIGNED_IN} == SIGNED_IN_ROUTES, (
        "a route checks the token but no action of the permission table: guard it with require(Action...)")
    # The gateway lets exactly these through without a token (its docs are its own routes).
    assert {(m, p) for m, p in PUBLIC_ENDPOINTS if m != "HEAD"} <= PUBLIC_ROUTES
    # Without a valid body, a 422 would answer before an id is looked up: the id checks need one.
    unchecked = [str(r) for r in WITH_IDS if r.body_required and (r.method, r.path) not in VALID_BODIES]
    assert not unchecked, f"add a valid body to VALID_BODIES for: {unchecked}"


async def test_the_public_routes_need_no_token(platform):
    for route in (r for r in ROUTES if r.guard == PUBLIC):
        answer = await platform.http.request(route.method, route.path, json=route.body())
        assert answer.status_code not in (401, 403) and answer.status_code < 500, (str(route), answer.text)


@pytest.mark.parametrize("route", GUARDED, ids=str)
async def test_without_a_token_the_gateway_answers_401(platform, route):
    answer = await platform.http.request(route.method, route.url(route.absent_ids()), json=route.body())
    assert answer.status_code == 401, answer.text


@pytest.mark.parametrize("route", GUARDED, ids=str)
async def test_only_the_roles_the_permission_table_allows_get_past_the_check(cast: Cast, route):
    # Unused ids: an allowed role reaches the route (and finds nothing) without changing anything.
    ids = route.absent_ids()
    answers = await gather_bounded([call(m.http, route, ids) for m in cast.members])
    refused_wrongly = [(m, a) for m, a in zip(cast.members, answers) if allowed(route, m) and (
        a.status_code in (401, 403, 405) or a.status_code >= 500)]
    let_through = [(m, a) for m, a in zip(cast.members, answers) if not allowed(route, m) and a.status_code != 403]
    assert not refused_wrongly, f"{route} ({route.guard}) refused roles the table allows:\n{table(refused_wrongly)}"
    assert not let_through, f"{route} ({route.guard}) let through roles the table refuses:\n{table(let_through)}"


def one_allowed_per_tier(cast: Cast, route: Route) -> list[Member]:
    """A member of each tier below the vendor (which issued B's entitlement and is every
    distributor's parent) that gets past the route's permission check: scoping is per org, and the
    roles that are refused are the matrix's business."""
    chosen = []
    for tier in (Tier.DISTRIBUTOR, Tier.INTEGRATOR, Tier.CUSTOMER):
        chosen += [m for m in cast.members if m.tier == tier and allowed(route, m)][:1]
    return chosen


@pytest.mark.parametrize("route", WITH_IDS, ids=str)
async def test_an_unrelated_orgs_ids_find_nothing(cast: Cast, route):
    callers = one_allowed_per_tier(cast, route) or [m for m in cast.members if m.tier != Tier.VENDOR]
    before = await snapshot(cast)
    answers = await gather_bounded([call(m.http, route, cast.unrelated.ids) for m in callers])
    reached = [(m, a) for m, a in zip(callers, answers) if a.status_code not in (403, 404)]
    assert not reached, f"{route} with another distributor's ids:\n{table(reached)}"
    assert await snapshot(cast) == before, "the unrelated org's data changed"


async def snapshot(cast: Cast) -> dict:
    """What B's own Admins see of their org: members, invites, partners and their representatives."""
    admins = cast.unrelated.admins
    ids = cast.unrelated.ids
    reads = {
        "members": (admins[Tier.DISTRIBUTOR], "/api/v1/members"),
        "invites": (admins[Tier.DISTRIBUTOR], "/api/v1/invites"),
        "integrator": (admins[Tier.DISTRIBUTOR], f"/api/v1/integrators/{ids[('integrators', 'org_id')]}"),
        "customer": (admins[Tier.INTEGRATOR], f"/api/v1/customers/{ids[('customers', 'org_id')]}"),
        "notifications": (admins[Tier.DISTRIBUTOR], "/api/v1/notifications"),
        "activations": (admins[Tier.CUSTOMER], "/api/v1/activations"),
        "license-keys": (admins[Tier.CUSTOMER], f"/api/v1/license-keys/{ids[('license-keys', 'license_id')]}"),
        "devices": (admins[Tier.CUSTOMER], "/api/v1/devices"),
        "license-users": (admins[Tier.CUSTOMER], "/api/v1/license-users"),
    }
    answers = await gather_bounded([admin.http.get(path) for admin, path in reads.values()])
    return {name: (a.status_code, strip_volatile(a.json())) for name, a in zip(reads, answers)}


def strip_volatile(body):
    """Delivery attempts of notify's retries change on their own; everything else must not."""
    if isinstance(body, dict) and "items" in body:
        return [{k: v for k, v in item.items() if k not in ("attempts", "last_error", "next_attempt_at", "state")}
                for item in body["items"]]
    return body


@pytest.mark.parametrize("route", [r for r in GUARDED if r.method == "GET" and not r.path_params], ids=str)
async def test_lists_show_nothing_of_an_unrelated_org(cast: Cast, route):
    callers = one_allowed_per_tier(cast, route)
    markers = [v for (resource, _), v in cast.unrelated.ids.items() if resource != "licenses"] + cast.unrelated.emails
    answers = await gather_bounded([m.http.get(route.path) for m in callers])
    leaks = [(m, a) for m, a in zip(callers, answers) if any(marker in a.text for marker in markers)]
    assert not leaks, f"{route} shows another distributor's data:\n{table(leaks)}"
