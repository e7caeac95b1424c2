"""ASGI middleware: a correlation id per request (taken from X-Request-ID or made) and request metrics."""

import time
import uuid

import structlog

from shared import context
from shared.metrics import REQUEST_LATENCY, REQUESTS


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
