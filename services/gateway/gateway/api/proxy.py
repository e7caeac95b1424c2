"""Every public API path: checked for a token, then handed to the service that owns it."""

from fastapi import APIRouter, Request
from starlette.responses import Response

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
    if not is_public(request.method, path):
        # Refuse a bad token here, before it costs an upstream call; the services verify again.
        await current_caller(request)
    return await request.app.state.proxy.forward(request, service)
