"""The lean path of the proxied API requests (gateway.lean_path): a request for an API resource
that a service owns skips FastAPI's stack, which does nothing for a request the proxy only passes
on (bench/gateway_overhead.py measures the difference). Any other request (JWKS, dashboard, OpenAPI, docs, portal, health, a method the
proxy does not take, a path no service owns) goes through FastAPI as before.
"""

from fastapi import FastAPI
from starlette.routing import BaseRoute

from gateway.api.proxy import PROXIED_METHODS, proxy
from gateway.api.proxy import router as proxy_routes
from gateway.domain.routing import API_PREFIX, upstream_for
from gateway.lean_path import LeanPath


def proxied_requests_path(app: FastAPI, service: str) -> LeanPath:
    return LeanPath(app, service, route=_api_route(), handler=proxy, takes=_proxied)


def _proxied(scope) -> bool:
    path = scope.get("path", "")
    return (scope["type"] == "http" and path.startswith(f"{API_PREFIX}/")
            and scope["method"] in PROXIED_METHODS  # the methods the proxy route takes
            and upstream_for(path) is not None)


def _api_route() -> BaseRoute:
    return next(route for route in proxy_routes.routes if route.path.startswith(f"{API_PREFIX}/"))
