"""OpenTelemetry: one tracer provider per process, exported over OTLP when an endpoint is set.

Trace context crosses HTTP through `ServerSpanMiddleware` and the bus through the envelope's
`trace_context` (also copied to the AMQP headers), as W3C traceparent.
"""

import weakref

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.instrumentation.asgi import collect_request_attributes, set_status_code
from opentelemetry.propagators.textmap import Getter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, Sampler
from sqlalchemy import event as sa_event


class _RecordWhileExported(Sampler):
    """Spans are recorded once something exports them. Until then a span is only its ids, which
    still carry the trace into the logs, the events and the calls between services; recording
    spans that nobody reads costs a noticeable share of a service's CPU under load."""

    exporting = False

    def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None, links=None, trace_state=None):
        return (ALWAYS_ON if self.exporting else ALWAYS_OFF).should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return "RecordWhileExported"


class _Provider(TracerProvider):
    def __init__(self, **settings):
        self._sampler = _RecordWhileExported()
        super().__init__(sampler=self._sampler, **settings)

    def add_span_processor(self, span_processor: SpanProcessor) -> None:
        super().add_span_processor(span_processor)
        self._sampler.exporting = True


def configure_tracing(service_name: str, otlp_endpoint: str | None) -> None:
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return  # several apps in one process (tests) share the first provider
    provider = _Provider(resource=Resource.create({"service.name": service_name}))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{otlp_endpoint.rstrip('/')}/v1/traces")))
    trace.set_tracer_provider(provider)


# FastAPI's own telemetry is off: ServerSpanMiddleware makes the request's span. Even with spans
# that nobody records, FastAPI's server spans, and more so FastAPIInstrumentor, do far more work per
# request than ours.
FASTAPI_TELEMETRY_OFF = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}

_UNTRACED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class _HeaderGetter(Getter):
    """Reads the W3C headers from a request's headers as a dict of their raw bytes: the ASGI
    instrumentation's getter decodes every header for each of the three it is asked for."""

    def get(self, carrier: dict[bytes, bytes], key: str) -> list[str] | None:
        value = carrier.get(key.encode("latin-1"))
        return None if value is None else [value.decode("latin-1")]

    def keys(self, carrier: dict[bytes, bytes]) -> list[str]:
        return [key.decode("latin-1") for key in carrier]


_header_getter = _HeaderGetter()


class ServerSpanMiddleware:
    """A span per HTTP request, carrying the trace context the logs, the events and the calls to
    other services take on: a server span continuing the caller's trace (W3C headers), or a step
    of the current trace for an in-process call (the portal calling the API). Its name and
    attributes, those FastAPIInstrumentor gave, are set only for a span that is recorded
    (shared.tracing exports nothing until an exporter is set)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] in _UNTRACED_PATHS:
            return await self.app(scope, receive, send)
        attached = None
        if trace.get_current_span() is trace.INVALID_SPAN:
            parent = propagate.extract(dict(scope["headers"]), getter=_header_getter)
            attached, kind = otel_context.attach(parent), trace.SpanKind.SERVER
        else:
            parent, kind = otel_context.get_current(), trace.SpanKind.INTERNAL
        method = scope["method"]
        span = _tracer.start_span(method, context=parent, kind=kind)
        try:
            with trace.use_span(span, end_on_exit=True):
                if not span.is_recording():
                    return await self.app(scope, receive, send)
                span.set_attributes(collect_request_attributes(scope))
                await self._recorded(span, method, scope, receive, send)
        finally:
            if attached is not None:
                otel_context.detach(attached)

    async def _recorded(self, span, method: str, scope, receive, send) -> None:
        status = 500  # unless a response starts: an error that escapes is answered 500 further out

        async def send_noting_status(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            route = getattr(scope.get("route"), "path", None)  # set by the router once it matched
            if route is not None:
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
            set_status_code(span, status)


# The engines whose SQL is traced: their statements on the driver (shared.db.driver) get spans too.
_SQL_TRACED_ENGINES: weakref.WeakSet = weakref.WeakSet()
_SQL_SPANS = "shared.tracing.sql_spans"  # a key of the connection's `info`: its statements' open spans


def sql_traced(engine) -> bool:
    return engine.sync_engine in _SQL_TRACED_ENGINES


def instrument_app(app, engine, trace_sql: bool) -> None:
    app.add_middleware(ServerSpanMiddleware)
    if trace_sql:
        # Off unless spans are exported (ServiceSettings.traces_sql): SQL spans cost a noticeable
        # share of a service's CPU under load, for nothing anyone could see.
        trace_engine_sql(engine)


def trace_engine_sql(engine) -> None:
    """A client span per statement the engine runs, named by its operation (INSERT, SELECT, ...)
    as OpenTelemetry's SQLAlchemy instrumentation names them. Made here on SQLAlchemy's cursor
    events, per engine: that instrumentation is one switch per process, and tests run several
    services, each with its engine, in one process."""
    sync_engine = engine.sync_engine
    if sync_engine in _SQL_TRACED_ENGINES:
        return
    _SQL_TRACED_ENGINES.add(sync_engine)
    sa_event.listen(sync_engine, "before_cursor_execute", _start_sql_span)
    sa_event.listen(sync_engine, "after_cursor_execute", _end_sql_span)
    sa_event.listen(sync_engine, "handle_error", _fail_sql_span)


def _start_sql_span(conn, cursor, statement: str, parameters, context, executemany) -> None:
    words = statement.split(maxsplit=1)
    span = _tracer.start_span(words[0].upper() if words else "SQL", kind=trace.SpanKind.CLIENT,
                              attributes={"db.system": "postgresql", "db.statement": statement})
    conn.info.setdefault(_SQL_SPANS, []).append(span)


def _end_sql_span(conn, cursor, statement, parameters, context, executemany) -> None:
    spans = conn.info.get(_SQL_SPANS)
    if spans:
        spans.pop().end()


def _fail_sql_span(exception_context) -> None:
    spans = exception_context.connection.info.get(_SQL_SPANS) if exception_context.connection is not None else None
    if spans:
        span = spans.pop()
        span.record_exception(exception_context.original_exception)
        span.set_status(trace.Status(trace.StatusCode.ERROR, repr(exception_context.original_exception)))
        span.end()


_tracer = trace.get_tracer("licensing")  # a proxy: follows the provider configured later


def tracer():
    return _tracer


def inject_trace_context() -> dict[str, str]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def extract_trace_context(carrier: dict[str, str]):
    return propagate.extract(carrier)
