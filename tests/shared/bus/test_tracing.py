"""One trace follows a change from the request that made it, through the relay, to its consumer."""

import uuid

import httpx
import pytest
from fastapi import APIRouter, Request
from opentelemetry import trace

from shared.db import UnitOfWork
from shared.service import create_service_app
from shared.testing import eventually
from shared.tracing import tracer
from tests.conftest import WidgetCounted, relaying

CLIENT_TRACE_ID, CLIENT_SPAN_ID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


@pytest.fixture
async def widget_service(infrastructure):
    """A service app as every service builds it, with a route that records an event and one that fails."""
    router = APIRouter()

    @router.post("/api/v1/widgets/{widget}", status_code=201)
    async def count_widget(request: Request, widget: str) -> dict:
        async with UnitOfWork(request.app.state.session_factory, producer="entitlements") as uow:
            envelope = uow.record(WidgetCounted(widget=widget, count=1), visible_to=[uuid.uuid4()])
            await uow.commit()
        return envelope.trace_context

    @router.get("/api/v1/broken")
    async def broken() -> None:
        raise RuntimeError("a bug")

    app = create_service_app(infrastructure.settings(service_name="entitlements"), routers=[router])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://entitlements") as client:
        yield client
    await app.state.engine.dispose()


async def test_a_request_continues_the_callers_trace_and_its_events_carry_it_on(widget_service, spans):
    traceparent = f"00-{CLIENT_TRACE_ID}-{CLIENT_SPAN_ID}-01"
    response = await widget_service.post("/api/v1/widgets/blue", headers={"traceparent": traceparent})

    assert response.status_code == 201
    _version, trace_id, parent_id, _flags = response.json()["traceparent"].split("-")
    [server] = [s for s in spans.get_finished_spans() if format(s.context.trace_id, "032x") == CLIENT_TRACE_ID
                and s.kind == trace.SpanKind.SERVER]
    assert trace_id == CLIENT_TRACE_ID and parent_id == format(server.context.span_id, "016x")
    assert format(server.parent.span_id, "016x") == CLIENT_SPAN_ID
    assert server.name == "POST /api/v1/widgets/{widget}"
    assert server.attributes["http.route"] == "/api/v1/widgets/{widget}"
    assert server.attributes["http.status_code"] == 201
    assert server.attributes["http.target"] == "/api/v1/widgets/blue"


async def test_a_failing_request_has_an_error_span_and_health_checks_have_none(widget_service, spans):
    assert (await widget_service.get("/api/v1/broken")).status_code == 500
    assert (await widget_service.get("/healthz")).status_code == 200

    [broken] = [s for s in spans.get_finished_spans() if s.name == "GET /api/v1/broken"]
    assert broken.attributes["http.status_code"] == 500
    assert broken.status.status_code == trace.StatusCode.ERROR
    assert any(event.name == "exception" for event in broken.events)
    assert not [s for s in spans.get_finished_spans() if s.attributes.get("http.target") == "/healthz"]


async def test_the_consumer_span_continues_the_trace_of_the_committing_request(producer, audit_service, spans):
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
