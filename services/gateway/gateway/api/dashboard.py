"""GET /api/v1/dashboard: the caller's tier's metrics and recent lists, gathered from the services
with the caller's own token (so each service applies its own scoping and permissions).

Parts are fetched in parallel; a part whose service is down, slow or refuses the caller's role is
left out and named in `missing`, and the rest is still answered."""

import asyncio
from dataclasses import dataclass

import aiohttp
from fastapi import APIRouter, Request

from gateway.domain.dashboard import Part, parts_for, summarize
from gateway.domain.routing import API_PREFIX
from shared.auth.dependencies import CurrentCaller

router = APIRouter(include_in_schema=False)
PART_TIMEOUT_SECONDS = 5  # a slower part is reported missing rather than holding the dashboard
MAX_PAGES = 50  # of a part whose totals need every item (10,000 products at 200 a page)


@dataclass(frozen=True)
class Fetched:
    part: Part
    body: dict | None
    problem: str | None


@router.get(f"{API_PREFIX}/dashboard")
async def dashboard(request: Request, caller: CurrentCaller) -> dict:
    request.app.state.rate_limits.check("user", str(caller.user_id))
    parts = parts_for(caller.tier, caller.role)
    headers = {"authorization": request.headers["authorization"]}
    fetched = await asyncio.gather(*(_fetch(request, part, headers) for part in parts))
    bodies = {f.part.name: f.body for f in fetched if f.body is not None}
    missing = [{"part": f.part.name, "service": f.part.service, "reason": f.problem} for f in fetched if f.problem]
    return {"tier": caller.tier.value, "role": caller.role.value, **summarize(caller.tier, bodies), "missing": missing}


async def _fetch(request: Request, part: Part, headers: dict) -> Fetched:
    """One part over the gateway's aiohttp pool (httpx's scans every pooled connection to choose
    one, a cost that grows with the number of dashboards loading at once)."""
    base = request.app.state.settings.upstream_urls()[part.service]
    session: aiohttp.ClientSession = request.app.state.upstream_session
    params, items, body = dict(part.params), [], None
    try:
        for _ in range(MAX_PAGES if part.every_page else 1):
            async with session.get(f"{base.rstrip('/')}{part.path}", params=params, headers=headers,
                                   timeout=aiohttp.ClientTimeout(total=PART_TIMEOUT_SECONDS)) as answer:
                if answer.status != 200:
                    return Fetched(part, None, f"the {part.service} service answered {answer.status}")
                body = await answer.json()
            items += body.get("items", [])
            if not body.get("next_cursor"):
                break
            params["cursor"] = body["next_cursor"]
        else:
            if part.every_page:
                return Fetched(part, None, f"more than {MAX_PAGES} pages from the {part.service} service")
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
        return Fetched(part, None, f"the {part.service} service is unavailable ({type(error).__name__})")
    return Fetched(part, {**body, "items": items}, None)
