"""The lean path of an app's busiest routes: what the FastAPI stack does for such a request,
without it.

FastAPI's error and exception middlewares, its routing and its dependency solving (four levels for
a guarded POST: the app's query check, the permission, the token, the endpoint) were most of the
CPU of the busiest requests: the gateway's proxied calls (bench/gateway_overhead.py: 1.7 -> 1.0 ms
per request) and the transfers POST (in-process, 700 to 990 -> 615 to 635 us, session 9). A
request the lean path takes gets only what a client or an operator sees of those layers:
- the server span (shared.tracing.ServerSpanMiddleware), continuing the client's trace;
- the request context of shared.middleware (X-Request-ID, the correlation id, the metrics), under
  the route's own path;
- the handler, which checks what the route's dependencies check, in FastAPI's order (`read_body`,
  then the token and the role, then `validated` for its header and body);
- the app's exception handlers, so a refusal is the same problem+json, and an unexpected error
  the same 500 problem, logged and re-raised to the server as ServerErrorMiddleware does.
Every other request goes through FastAPI as before, and the route stays declared there too (the
OpenAPI document, the permission table's checks).
"""

import json
from collections.abc import Awaitable, Callable
from email.message import Message
from typing import Any, TypeVar

from fastapi import APIRouter, FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from shared.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from shared.tracing import ServerSpanMiddleware

Handler = Callable[[Request], Awaitable[Response]]
ModelT = TypeVar("ModelT", bound=BaseModel)


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
        limits = getattr(app.state, "body_limits", None)  # as the app's BodySizeLimitMiddleware (shared.service)
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


def lean_route(app: FastAPI, service: str, router: APIRouter, method: str, path: str, handler: Handler) -> LeanPath:
    """A lean path for one route of `router` (included in `app`; a path without parameters)."""
    route = next(route for route in router.routes
                 if isinstance(route, APIRoute) and route.path == path and method in route.methods)
    return LeanPath(app, service, route, handler,
                    takes=lambda scope: scope["type"] == "http" and scope["method"] == method and scope["path"] == path)


def validated(request: Request, body: Any, body_model: type[ModelT], headers: dict[str, tuple[str, TypeAdapter]]
              ) -> tuple[ModelT, dict[str, Any]]:
    """`body` (from `read_body`) as `body_model`, and the request's `headers` (name -> (header,
    adapter)), checked as FastAPI checks a route's header and body parameters: the same errors,
    gathered into one RequestValidationError (a 422 problem, shared.problems)."""
    errors: list[dict] = []
    values = {}
    for name, (header, adapter) in headers.items():
        try:
            values[name] = adapter.validate_python(request.headers.get(header))
        except ValidationError as error:
            errors += _located(error, ("header", header))
    if body is MISSING:
        errors.append({"type": "missing", "loc": ("body",), "msg": "Field required", "input": None})
    else:
        try:
            model = body_model.model_validate(body, from_attributes=True)  # as FastAPI validates a body
        except ValidationError as error:
            errors += _located(error, ("body",))
    if errors:
        raise RequestValidationError(errors)
    return model, values


MISSING = object()  # no body at all


async def read_body(request: Request) -> Any:
    """The body as FastAPI reads it, before any dependency runs (so malformed JSON is a 422 even
    without a token): JSON when its Content-Type says so, else its bytes (which no model takes).
    Without a Content-Type it is not JSON either (FastAPI's strict_content_type, against
    cross-site requests)."""
    body = await request.body()
    if not body:
        return MISSING
    content_type = request.headers.get("content-type")
    if not content_type:
        return body
    if content_type != "application/json":  # the usual one needs no parsing (it costs as much as the rest)
        message = Message()
        message["content-type"] = content_type
        subtype = message.get_content_subtype()
        if message.get_content_maintype() != "application" or not (subtype == "json" or subtype.endswith("+json")):
            return body
    try:
        return json.loads(body)
    except json.JSONDecodeError as error:
        raise RequestValidationError([{"type": "json_invalid", "loc": ("body", error.pos), "msg": "JSON decode error",
                                       "input": {}, "ctx": {"error": error.msg}}]) from error


def _located(error: ValidationError, prefix: tuple) -> list[dict]:
    return [{**detail, "loc": (*prefix, *detail["loc"])} for detail in error.errors(include_url=False)]
