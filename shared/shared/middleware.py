"""ASGI middleware: a correlation id per request (taken from X-Request-ID or made) and request
metrics; a limit on the size of request bodies."""

import re
import time
import uuid
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network

import structlog

from shared import context
from shared.metrics import REQUEST_LATENCY, REQUESTS
from shared.problems import problem_response


class RequestContextMiddleware:
    def __init__(self, app, service: str):
        self.app = app
        self.service = service

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")[:128] or str(uuid.uuid4())
        status = {"code": 500}

        async def send_with_request_id(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode("latin-1"))]
            await send(message)

        token = context.correlation_id.set(request_id)
        started = time.perf_counter()
        try:
            with structlog.contextvars.bound_contextvars(correlation_id=request_id):
                await self.app(scope, receive, send_with_request_id)
        finally:
            context.correlation_id.reset(token)
            route = getattr(scope.get("route"), "path", "unmatched")
            REQUESTS.labels(self.service, scope["method"], route, str(status["code"])).inc()
            REQUEST_LATENCY.labels(self.service, scope["method"], route).observe(time.perf_counter() - started)


# Routes where a body beyond the usual limit is legitimate: (method, path pattern). They take
# `BodyLimits.large` instead of `BodyLimits.default`.
LARGE_BODY_ROUTES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("POST", re.compile(r"/api/v1/entitlements/imports?(/[^/]+)?")),  # the entitlements CSV import
)


@dataclass(frozen=True)
class BodyLimits:
    default: int
    large: int

    @classmethod
    def from_settings(cls, settings) -> "BodyLimits":
        return cls(settings.max_request_body_bytes, settings.max_import_body_bytes)

    def for_request(self, method: str, path: str) -> int:
        large = any(method == wanted and pattern.fullmatch(path) for wanted, pattern in LARGE_BODY_ROUTES)
        return self.large if large else self.default


class _BodyTooLarge(Exception):
    pass


class BodySizeLimitMiddleware:
    """Refuses a request body beyond its route's limit with 413, counting the bytes as they arrive:
    a Content-Length is checked first, but a chunked body, or one longer than it announced, is
    stopped once it passes the limit, before the app has buffered it."""

    def __init__(self, app, limits: BodyLimits):
        self.app = app
        self.limits = limits

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limits.for_request(scope["method"], scope["path"])
        announced = dict(scope.get("headers") or []).get(b"content-length", b"")
        if announced.isdigit() and int(announced) > limit:
            return await _too_large(limit, scope, receive, send)
        received = 0
        exceeded = False
        started = False

        async def counting_receive():
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _BodyTooLarge()
            return message

        async def send_unless_exceeded(message):
            nonlocal started
            if exceeded:
                return  # the app's answer to a body it could not read whole: ours is the 413
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, send_unless_exceeded)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await _too_large(limit, scope, receive, send)


async def _too_large(limit: int, scope, receive, send) -> None:
    response = problem_response(413, f"The request body is larger than this route takes ({limit} bytes).",
                                "Request body too large", headers={"Connection": "close"})
    await response(scope, receive, send)


LOOPBACK = "127.0.0.0/8,::1/128"


def networks(allowed: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """Comma-separated addresses or networks ("10.0.0.0/8, ::1") as networks."""
    return tuple(ip_network(part.strip(), strict=False) for part in allowed.split(",") if part.strip())


def client_within(scope, allowed: tuple[IPv4Network | IPv6Network, ...]) -> bool:
    """Whether the request's client address (as the server saw it) lies in one of `allowed`."""
    client = scope.get("client")
    try:
        address = ip_address(client[0]) if client else None
    except ValueError:  # a Unix socket's peer, or a test client's made-up name
        return False
    if address is None:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return any((mapped or address) in network for network in allowed)


class InternalPathsMiddleware:
    """Answers 404, as if they did not exist, for `paths` (e.g. /metrics) to clients outside
    `allowed`: what an operator's scraper reads is not for the public."""

    def __init__(self, app, paths: tuple[str, ...], allowed: str):
        self.app = app
        self.paths = paths
        self.allowed = networks(allowed)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"] in self.paths and not client_within(scope, self.allowed):
            return await problem_response(404, "Not Found")(scope, receive, send)
        return await self.app(scope, receive, send)
