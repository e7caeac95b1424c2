"""Every public API path: checked for a token, then handed to the service that owns it."""

import time

from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.domain.rate_limit import RateLimiter, retry_after_header
from gateway.domain.routing import API_PREFIX, JWKS_PATH, is_public, upstream_for
from shared.auth.dependencies import current_caller
from shared.problems import Problem

router = APIRouter(include_in_schema=False)

PROXIED_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@router.api_route(JWKS_PATH, methods=["GET", "HEAD"])
@router.api_route(f"{API_PREFIX}/{{rest:path}}", methods=PROXIED_METHODS)
async def proxy(request: Request) -> Response:
    # The decoded path, as the upstream will decode it, so the route and the token check see the
    # same resource the upstream serves.
    path = request.scope["path"]
    service = upstream_for(path)
    if service is None:
        raise Problem(404, f"There is no API resource at {path}.")
    limits: RateLimits = request.app.state.rate_limits
    limits.check("address", request.client.host if request.client else "unknown")
    if not is_public(request.method, path):
        # Refuse a bad token here, before it costs an upstream call; the services verify again.
        caller = await current_caller(request)
        limits.check("user", str(caller.user_id))
    return await request.app.state.proxy.forward(request, service)


class RateLimits:
    """The gateway's limits per client address and per user (settings; 0 turns one off)."""

    def __init__(self, settings):
        self._limiters = {
            "address": RateLimiter(settings.rate_limit_per_address, settings.rate_limit_per_address_burst),
            "user": RateLimiter(settings.rate_limit_per_user, settings.rate_limit_per_user_burst),
        }

    def check(self, kind: str, key: str) -> None:
        limiter = self._limiters[kind]
        if limiter.rate <= 0:
            return
        wait = limiter.acquire(key, time.monotonic())
        if wait:
            raise Problem(429, f"Too many requests from this {kind}; slow down and retry after the given seconds.",
                          headers={"Retry-After": retry_after_header(wait)})
