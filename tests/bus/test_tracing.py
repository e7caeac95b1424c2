"""One trace follows a change from the request that made it, through the relay, to its consumer."""

from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared.testing import eventually
from shared.tracing import tracer
from tests.conftest import WidgetCounted, relaying


async def test_the_consumer_span_continues_the_trace_of_the_committing_request(producer, audit_service):
    spans = InMemorySpanExporter()
    trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(spans))  # set up by the audit app

    with tracer().start_as_current_span("POST /api/v1/widgets") as request_span:
        event_ids = await producer.emit(1)
    trace_id = request_span.get_span_context().trace_id

    async with relaying(producer.relay()):
        await eventually(lambda: _stored(audit_service, event_ids))

    def names_in_trace():
        return {s.name for s in spans.get_finished_spans() if s.context.trace_id == trace_id}

    await eventually(lambda: _contains(names_in_trace(), f"{WidgetCounted.routing_key} publish"))

    def linked_batches():
        return {s.name for s in spans.get_finished_spans() if any(link.context.trace_id == trace_id for link in s.links)}

    await eventually(lambda: _contains(linked_batches(), "audit.events batch process"))
    batch = next(s for s in spans.get_finished_spans() if s.name == "audit.events batch process"
                 and any(link.context.trace_id == trace_id for link in s.links))
    # the audit's SQL is traced inside the batch span
    assert any(s.name == "INSERT" and s.parent and s.parent.span_id == batch.context.span_id
               for s in spans.get_finished_spans())


async def _stored(audit_service, event_ids) -> bool:
    return await audit_service.count(event_ids) == len(event_ids)


async def _contains(names, name) -> bool:
    return name in names
