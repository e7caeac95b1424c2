"""OpenTelemetry: one tracer provider per process, exported over OTLP when an endpoint is set.

Trace context crosses HTTP through the FastAPI instrumentation and the bus through the
envelope's `trace_context` (also copied to the AMQP headers), as W3C traceparent.
"""

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, Sampler


class _RecordWhileExported(Sampler):
    """Spans are recorded once something exports them. Until then a span is only its ids, which
    still carry the trace into the logs, the events and the calls between services; recording
    spans that nobody reads cost up to a tenth of a service's CPU under load (py-spy)."""

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


def instrument_http(app) -> None:
    """A span per request (not per body chunk: the ASGI send/receive spans cost more than they
    tell); it carries the trace context the logs and the events take on."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,metrics", exclude_spans=["receive", "send"])


def instrument_app(app, engine, trace_sql: bool) -> None:
    instrument_http(app)
    if trace_sql:
        # Off unless spans are exported (ServiceSettings.traces_sql): SQL spans were about a
        # tenth of a service's CPU under load (py-spy), for nothing anyone could see.
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        # instrument() is a process-wide singleton that would trace only the first engine of a
        # process (tests run several services in one); _instrument() attaches to this engine.
        SQLAlchemyInstrumentor()._instrument(engine=engine.sync_engine)


_tracer = trace.get_tracer("licensing")  # a proxy: follows the provider configured later


def tracer():
    return _tracer


def inject_trace_context() -> dict[str, str]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def extract_trace_context(carrier: dict[str, str]):
    return propagate.extract(carrier)
