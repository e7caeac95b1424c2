"""Builds a service's FastAPI app: logging, tracing, errors, health, metrics, and the background
workers (outbox relay, event consumer) that live as long as the app."""

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence

from fastapi import APIRouter, Depends, FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker

from shared.auth.tokens import verifier_for
from shared.bus.consumer import EventConsumer, EventHandler
from shared.bus.relay import OutboxRelay
from shared.cancellation import raise_if_cancelled
from shared.db import create_engine
from shared.events.secrets import session_info as event_secrets_session_info
from shared.health import health_router
from shared.heap import startup_heap_frozen
from shared.logging import configure_logging, get_logger
from shared.middleware import BodyLimits, BodySizeLimitMiddleware, InternalPathsMiddleware, RequestContextMiddleware
from shared.openapi_permissions import document_permissions
from shared.problems import install_problem_handlers
from shared.query_params import refuse_repeated_scalar_parameters
from shared.settings import ServiceSettings
from shared.tracing import FASTAPI_TELEMETRY_OFF, configure_tracing, instrument_app

log = get_logger(__name__)


def create_service_app(
    settings: ServiceSettings,
    *,
    routers: Sequence[APIRouter] = (),
    event_handlers: Mapping[str, EventHandler] | None = None,
    on_startup: Callable[[FastAPI], Awaitable[None]] | None = None,
    background_workers: Mapping[str, Callable[[FastAPI], Awaitable[None]]] | None = None,
) -> FastAPI:
    """`background_workers` (name -> loop taking the app) run beside the relay and the consumer,
    restarted when they fail, stopped with the app."""
    configure_logging(settings.service_name, settings.log_level)
    configure_tracing(settings.service_name, settings.otlp_endpoint)
    engine = create_engine(settings.resolved_database_url(), settings.db_pool_size, settings.db_custom_plans,
                           settings.db_pool_timeout)
    # The factory carries the service's event-secrets keys to its units of work (shared.events.secrets).
    session_factory = async_sessionmaker(engine, expire_on_commit=False, info=event_secrets_session_info(settings))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        if on_startup is not None:
            await on_startup(app)
        workers = {"outbox relay": _relay(settings, engine).run}
        if event_handlers is not None:
            workers["event consumer"] = _consumer(settings, session_factory, event_handlers).run
        for name, loop in (background_workers or {}).items():
            workers[name] = functools.partial(loop, app)
        tasks = [asyncio.create_task(_keep_running(name, run), name=name) for name, run in workers.items()]
        app.state.background_tasks = tasks  # the tests check that none outlives the lifespan (shared.testing)
        log.info("service started", service=settings.service_name)
        try:
            with startup_heap_frozen():
                yield
        finally:
            # Shutdown is bounded: a worker stuck in cleanup must not keep the process from exiting
            # (unacknowledged messages are redelivered, unpublished outbox rows wait for the next relay).
            for task in tasks:
                task.cancel()
            _, stuck = await asyncio.wait(tasks, timeout=5)
            if stuck:
                log.warning("background workers did not stop within 5 s", service=settings.service_name,
                            workers=sorted(task.get_name() for task in stuck))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(engine.dispose(), timeout=5)

    app = FastAPI(title=f"licensing {settings.service_name}", lifespan=lifespan, telemetry=FASTAPI_TELEMETRY_OFF,
                  dependencies=[Depends(refuse_repeated_scalar_parameters)])
    app.state.settings = settings
    app.state.background_tasks = []  # those of the running lifespan
    app.state.engine = engine
    app.state.session_factory = session_factory
    app.state.token_verifier = verifier_for(settings)
    install_problem_handlers(app)
    app.include_router(health_router(engine, settings.amqp_url))
    for router in routers:
        app.include_router(router)
    document_permissions(app)  # who may call each operation, from the permission table
    app.state.body_limits = BodyLimits.from_settings(settings)  # on the app too: what it takes, for whoever asks
    app.add_middleware(BodySizeLimitMiddleware, limits=app.state.body_limits)
    app.add_middleware(RequestContextMiddleware, service=settings.service_name)
    app.add_middleware(InternalPathsMiddleware, paths=("/metrics",), allowed=settings.metrics_allowed_from)
    instrument_app(app, engine, settings.traces_sql())
    return app


def _relay(settings: ServiceSettings, engine) -> OutboxRelay:
    return OutboxRelay(
        service=settings.service_name,
        engine=engine,
        amqp_url=settings.amqp_url,
        exchange_name=settings.events_exchange,
        batch_size=settings.outbox_batch_size,
        poll_interval=settings.outbox_poll_interval,
        linger=settings.bus_linger,
        behind_after=settings.bus_behind_after,
    )


def _consumer(settings: ServiceSettings, session_factory, handlers: Mapping[str, EventHandler]) -> EventConsumer:
    return EventConsumer(
        service=settings.service_name,
        session_factory=session_factory,
        handlers=handlers,
        amqp_url=settings.amqp_url,
        exchange_name=settings.events_exchange,
        prefetch=settings.consumer_prefetch,
        batch_size=settings.consumer_batch_size,
        linger=settings.bus_linger,
        behind_after=settings.bus_behind_after,
        trusted_publishers=settings.bus_trusted_publishers,
        accept_unstamped=settings.bus_accept_unstamped,
    )


async def _keep_running(name: str, run: Callable[[], Awaitable[None]]) -> None:
    """A background worker that fails is logged and started again, never silently gone."""
    attempt = 0
    while True:
        raise_if_cancelled()  # not started again once stopped, even if the stop was lost (shared.cancellation)
        try:
            await run()
        except asyncio.CancelledError:
            raise
        except BaseException as error:  # TaskGroup wraps failures in ExceptionGroup
            if asyncio.current_task().cancelling():
                raise  # being stopped: a TaskGroup may surface the cancellation as an ExceptionGroup
            attempt += 1
            log.error(f"{name} stopped, restarting", error=repr(error), attempt=attempt)
            await asyncio.sleep(min(0.5 * attempt, 5.0))
