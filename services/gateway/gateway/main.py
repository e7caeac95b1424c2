"""The gateway: the public entry. It checks tokens, routes /api/v1 to the owning service and
streams the answer back. It has no database and no broker, so it is built here rather than
with shared.service, from the same shared pieces."""

import contextlib

from fastapi import FastAPI

from gateway.api import dashboard, docs, health, mail, proxy
from gateway.api.fast_proxy import proxied_requests_path
from gateway.lean_path import LeanApp
from gateway.portal import mount_portal
from gateway.proxy import ReverseProxy, create_proxy_session
from gateway.settings import GatewaySettings
from gateway.upstream import create_client
from shared.auth.tokens import verifier_for
from shared.health import health_router
from shared.heap import startup_heap_frozen
from shared.logging import configure_logging, get_logger
from shared.middleware import BodyLimits, BodySizeLimitMiddleware, InternalPathsMiddleware, RequestContextMiddleware
from shared.problems import install_problem_handlers
from shared.tracing import FASTAPI_TELEMETRY_OFF, ServerSpanMiddleware, configure_tracing

log = get_logger(__name__)


def create_app(settings: GatewaySettings | None = None, *, lean_proxy: bool = True) -> FastAPI:
    """lean_proxy=False sends the proxied API requests through the whole FastAPI stack too (to
    compare the two: bench/gateway_overhead.py, the gateway's tests)."""
    settings = settings or GatewaySettings()
    configure_logging(settings.service_name, settings.log_level)
    configure_tracing(settings.service_name, settings.otlp_endpoint)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        # One pool per process for the proxied traffic, one for the gateway's own calls
        # (dashboard, docs, readiness): both keep upstream connections alive.
        async with create_client(settings) as client, create_proxy_session(settings) as session:
            app.state.http = client
            app.state.upstream_session = session  # also the dashboard's: many small calls at once
            app.state.proxy = ReverseProxy(session, settings.upstream_urls())
            log.info("service started", service=settings.service_name, upstreams=settings.upstream_urls())
            mail.announce(settings)
            with startup_heap_frozen():
                yield

    app = LeanApp(title="licensing gateway", lifespan=lifespan, telemetry=FASTAPI_TELEMETRY_OFF)
    app.state.settings = settings
    app.state.token_verifier = verifier_for(settings)
    app.state.rate_limits = proxy.RateLimits(settings)
    install_problem_handlers(app)
    # Ours first: the shared /readyz checks a database and a broker, which the gateway has not.
    app.include_router(health.router)
    app.include_router(health_router(engine=None, amqp_url=None))
    app.include_router(dashboard.router)
    app.include_router(mail.router)  # development only: the local mail sink's messages
    app.include_router(docs.router)  # before the proxy, which would take /api/v1/openapi.json
    app.include_router(proxy.router)
    mount_portal(app)  # the web pages: their own paths, none under /api/v1
    app.state.body_limits = BodyLimits.from_settings(settings)  # the lean path's too (gateway.lean_path)
    app.add_middleware(BodySizeLimitMiddleware, limits=app.state.body_limits)
    app.add_middleware(RequestContextMiddleware, service=settings.service_name)
    app.add_middleware(InternalPathsMiddleware, paths=("/metrics",), allowed=settings.metrics_allowed_from)
    app.add_middleware(ServerSpanMiddleware)
    if lean_proxy:
        app.lean_path = proxied_requests_path(app, settings.service_name)
    return app
