"""A plain ASGI dispatch in front of the gateway's FastAPI app (for its proxied requests): the
requests it takes go straight to one handler, the rest through FastAPI. A request it takes gets
what a client or an operator sees of FastAPI's layers:
- the server span (shared.tracing.ServerSpanMiddleware), continuing the client's trace;
- the request context of shared.middleware (X-Request-ID, the correlation id, the metrics), under
  the route's own path;
- the app's exception handlers, so a refusal is the same problem+json, and an unexpected error
  the same 500 problem, logged and re-raised to the server as ServerErrorMiddleware does.
It parses no body and validates nothing: a handler that needs either belongs in FastAPI.
"""

from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from shared.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from shared.tracing import ServerSpanMiddleware

Handler = Callable[[Request], Awaitable[Response]]


class LeanApp(FastAPI):
    """FastAPI, except that the requests its lean path takes (when one is set) skip its stack."""

    lean_path: "LeanPath | None" = None

    async def __call__(self, scope, receive, send) -> None:
        if self.lean_path is not None and self.lean_path.takes(scope):
            await self.lean_path(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


class LeanPath:
    def __init__(self, app: FastAPI, service: str, route: BaseRoute, handler: Handler,
                 takes: Callable[[dict], bool]):
        """`takes(scope)`: whether a request is the lean path's; `route`: the FastAPI route it stands
        for (the metrics' label, the span's name)."""
        self.takes = takes
        self._app = app
        self._route = route
        self._handler = handler
        self._handlers = {kind: handler for kind, handler in app.exception_handlers.items()
                          if kind not in (500, Exception)}  # as ExceptionMiddleware; the catch-all is below
        self._unexpected = app.exception_handlers[Exception]
        limits = getattr(app.state, "body_limits", None)  # as the app's BodySizeLimitMiddleware (gateway.main)
        respond = BodySizeLimitMiddleware(self._respond, limits) if limits is not None else self._respond
        self._in_context = RequestContextMiddleware(respond, service=service)
        self._traced = ServerSpanMiddleware(self._answered)

    async def __call__(self, scope, receive, send) -> None:
        scope["app"] = self._app  # request.app, as Starlette sets it
        scope["route"] = self._route  # as the router sets it
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
            response = await self._handler(request)
        except Exception as error:
            handler = next((self._handlers[kind] for kind in type(error).__mro__ if kind in self._handlers), None)
            if handler is None:
                raise
            response = await handler(request, error)
        await response(scope, receive, send)
