"""The gateway in front of real upstream servers: what it forwards, streams and refuses."""

import asyncio

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families


async def test_a_request_is_forwarded_whole_to_the_owning_service(gateway, bearer):
    response = await gateway.post(
        "/api/v1/integrators/7/archive?limit=5&cursor=a%20b",
        content=b'{"reason": "moved"}',
        headers={**bearer, "Content-Type": "application/json", "X-Request-ID": "req-123"},
    )

    assert response.status_code == 200
    assert response.headers["x-request-id"] == "req-123"
    received = response.json()
    assert received["service"] == "orgs"
    assert received["method"] == "POST"
    assert received["path"] == "/api/v1/integrators/7/archive"
    assert received["query"] == "limit=5&cursor=a%20b"
    assert received["body"] == '{"reason": "moved"}'
    assert received["headers"]["x-request-id"] == "req-123"
    assert received["headers"]["authorization"] == bearer["Authorization"]
    assert received["headers"]["traceparent"].startswith("00-")
    assert received["headers"]["host"] != "gateway"


async def test_every_resource_reaches_its_service(gateway, bearer):
    expected = {
        "/api/v1/me": "identity",
        "/api/v1/customers": "orgs",
        "/api/v1/licenses/products": "entitlements",
        "/api/v1/transactions": "transfers",
        "/api/v1/audit-events": "audit",
    }
    for path, service in expected.items():
        response = await gateway.get(path, headers=bearer)
        assert response.json()["service"] == service, path


async def test_a_request_without_id_gets_one_and_the_upstream_sees_the_same(gateway, bearer):
    response = await gateway.delete("/api/v1/members/3", headers=bearer)

    assert response.json()["headers"]["x-request-id"] == response.headers["x-request-id"]


async def test_a_csv_export_streams_through_and_arrives_whole(gateway, bearer, upstreams):
    audit, _url = upstreams["audit"]
    audit.state.release_export = asyncio.Event()

    async with gateway.stream("GET", "/api/v1/audit-events/export.csv", headers=bearer) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        chunks = response.aiter_bytes()
        # The upstream holds the rest until this first chunk is here: a buffering proxy would hang.
        first = await asyncio.wait_for(anext(chunks), timeout=5)
        audit.state.release_export.set()
        body = first + b"".join([chunk async for chunk in chunks])

    lines = body.decode().splitlines()
    assert lines[0] == "id,action"
    assert len(lines) == audit.state.csv_rows + 1
    assert lines[-1] == f"{audit.state.csv_rows - 1},transfer.completed"


async def test_an_export_that_breaks_off_upstream_breaks_off_at_the_client(gateway, bearer):
    # Ending the body cleanly would pass half a file off as the whole export.
    with pytest.raises(httpx.RemoteProtocolError):
        await gateway.get("/api/v1/activations/export.csv", headers=bearer)


async def test_an_unknown_path_is_a_404_problem_naming_it(gateway, bearer):
    response = await gateway.get("/api/v1/widgets/1", headers=bearer)

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert "/api/v1/widgets/1" in response.json()["detail"]


async def test_a_path_that_climbs_out_of_its_resource_is_refused(gateway):
    response = await gateway.post("/api/v1/auth/login/%2e%2e/%2e%2e/members", json={})

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_stopped_upstream_gives_a_503_naming_the_service(start_gateway, stopped_upstream_url, bearer):
    async with start_gateway(transfers_url=stopped_upstream_url) as gateway:
        response = await gateway.post("/api/v1/transfers", json={"quantity": 1}, headers=bearer)

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["service"] == "transfers"
    assert "transfers service is unavailable" in response.json()["detail"]


async def test_a_slow_upstream_gives_a_504(start_gateway, bearer):
    async with start_gateway(upstream_read_timeout=0.3) as gateway:
        response = await gateway.get("/api/v1/transactions/slow", headers=bearer)

    assert response.status_code == 504
    assert response.headers["content-type"] == "application/problem+json"
    assert "transfers" in response.json()["detail"]


async def test_ready_when_every_upstream_answers(gateway):
    response = await gateway.get("/readyz")

    assert response.status_code == 200
    assert set(response.json()["checks"].values()) == {"ok"}


async def test_not_ready_names_the_upstream_that_does_not_answer(start_gateway, stopped_upstream_url):
    async with start_gateway(notify_url=stopped_upstream_url) as gateway:
        response = await gateway.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["notify"].startswith("unreachable")
    assert "notify" in response.json()["detail"]
    assert response.json()["checks"]["identity"] == "ok"


async def test_liveness_and_metrics(gateway, bearer):
    await gateway.get("/api/v1/me", headers=bearer)

    assert (await gateway.get("/healthz")).json() == {"status": "ok"}
    metrics = await gateway.get("/metrics")
    requests = next(f for f in text_string_to_metric_families(metrics.text) if f.name == "http_requests")
    assert any(
        sample.labels == {"service": "gateway", "method": "GET", "route": "/api/v1/{rest:path}", "status": "200"}
        for sample in requests.samples
    )
