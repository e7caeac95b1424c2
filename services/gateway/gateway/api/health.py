"""Readiness: the gateway is ready when every upstream service answers its /healthz."""

import asyncio

import httpx
from fastapi import APIRouter, Request

from shared.problems import problem_response

router = APIRouter(include_in_schema=False)


@router.get("/readyz")
async def readyz(request: Request):
    settings = request.app.state.settings
    upstreams = settings.upstream_urls()
    states = await asyncio.gather(
        *(_probe(request.app.state.http, url, settings.readiness_timeout) for url in upstreams.values())
    )
    checks = dict(zip(upstreams, states, strict=True))
    down = [service for service, state in checks.items() if state != "ok"]
    if down:
        return problem_response(503, f"Not ready: {', '.join(down)} not answering.", checks=checks)
    return {"status": "ready", "checks": checks}


async def _probe(client: httpx.AsyncClient, base_url: str, timeout: float) -> str:
    try:
        response = await client.get(f"{base_url.rstrip('/')}/healthz", timeout=timeout)
    except httpx.HTTPError as error:
        return f"unreachable: {type(error).__name__}"
    return "ok" if response.status_code == 200 else f"unhealthy: HTTP {response.status_code}"
