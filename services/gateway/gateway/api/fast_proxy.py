"""The lean path of the proxied API requests: what the FastAPI stack did for them, without it.

A request for an API resource that a service owns went through FastAPI's error and exception
middlewares, the request's span, the request context, the routing and the dependency solving:
most of the gateway's CPU per request (py-spy, 64 clients POSTing transfers). Here such a
request gets only what a client or an operator sees of those layers (bench/gateway_overhead.py:
1.7 -> 1.0 ms of gateway CPU per request):
- the server span (shared.tracing.ServerSpanMiddleware, as the rest of the app has), continuing
  the client's trace (W3C headers) or, for the portal's in-process calls, the page's trace;
- the request context of shared.middleware (X-Request-ID, the correlation id, the metrics);
- the proxy route itself (gateway.api.proxy.proxy: 404, rate limits, token check, forwarding);
- the app's exception handlers, so a refusal is the same problem+json, and an unexpected error
  the same 500 problem, logged and re-raised to the server as ServerErrorMiddleware does.
Any other request (JWKS, dashboard, OpenAPI, docs, portal, health, a method the proxy does not
take, a path no service owns) goes through FastAPI as before.
"""

from fastapi import FastAPI
from starlette.requests import Request
from starlette.routing import BaseRoute

from gateway.api.proxy import PROXIED_METHODS, proxy
from gateway.api.proxy import router as proxy_routes
from gateway.domain.routing import API_PREFIX, upstream_for
from shared.middleware import RequestContextMiddleware
from shared.tracing import ServerSpanMiddleware


class GatewayApp(FastAPI):
    """FastAPI, except that the requests the lean path takes (when it is set) skip its stack."""

    lean_path: "LeanProxy | None" = None

    async def __call__(self, scope, receive, send) -> None:
        if self.lean_path is not None and self.lean_path.takes(scope):
            await self.lean_path(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


class LeanProxy:
    def __init__(self, app: FastAPI, service: str):
        self._app = app
        self._route = _api_route()
        self._handlers = {kind: handler for kind, handler in app.exception_handlers.items()
                          if kind not in (500, Exception)}  # as ExceptionMiddleware; the catch-all is below
        self._unexpected = app.exception_handlers[Exception]
        self._in_context = RequestContextMiddleware(self._respond, service=service)
        self._traced = ServerSpanMiddleware(self._answered)

    def takes(self, scope) -> bool:
        path = scope.get("path", "")
        return (scope["type"] == "http" and path.startswith(f"{API_PREFIX}/")
                and scope["method"] in PROXIED_METHODS  # the methods the proxy route takes
                and upstream_for(path) is not None)

    async def __call__(self, scope, receive, send) -> None:
        scope["app"] = self._app  # request.app, as Starlette sets it: the token verifier, the proxy
        scope["route"] = self._route  # the metrics' label and the span's name, as the router sets it
        await self._traced(scope, receive, send)

    async def _answered(self, scope, receive, send) -> None:
        started = False

        async def send_noting_start(message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._in_context(scope, receive, send_noting_start)
        except Exception as error:
            # As ServerErrorMiddleware: outside the request context, so without its header.
            if not started:
                response = await self._unexpected(Request(scope, receive), error)
                await response(scope, receive, send_noting_start)
            raise

    async def _respond(self, scope, receive, send) -> None:
        request = Request(scope, receive)
        try:
            response = await proxy(request)
        except Exception as error:
            handler = next((self._handlers[kind] for kind in type(error).__mro__ if kind in self._handlers), None)
            if handler is None:
                raise
            response = await handler(request, error)
        await response(scope, receive, send)


def _api_route() -> BaseRoute:
    return next(route for route in proxy_routes.routes if route.path.startswith(f"{API_PREFIX}/"))
