"""Real upstream services for the gateway's tests: one small HTTP server per service name on a
127.0.0.1 socket, answering as that service, and the gateway itself served the same way."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

from gateway.main import create_app
from gateway.settings import GatewaySettings
from shared.testing import serving

SERVICES = ("identity", "orgs", "entitlements", "transfers", "audit", "notify", "devices", "billing")


def fake_service(name: str, jwks: dict) -> FastAPI:
    """An upstream that tells who it is and what it received, plus a slow and a streamed route."""
    app = FastAPI()
    app.state.release_export = asyncio.Event()
    app.state.csv_rows = 2000

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok"}

    @app.get("/.well-known/jwks.json")
    async def keys():
        return jwks

    @app.get("/api/v1/audit-events/export.csv")
    async def export():
        async def rows():
            yield b"id,action\n"
            # Held until the test has received the first chunk: proves nothing buffers the body.
            await app.state.release_export.wait()
            for i in range(app.state.csv_rows):
                yield f"{i},transfer.completed\n".encode()

        return StreamingResponse(rows(), media_type="text/csv")

    @app.get("/api/v1/activations/export.csv")
    async def broken_export():
        async def rows():
            yield b"id,project\n"
            raise RuntimeError("the export failed half-way")

        return StreamingResponse(rows(), media_type="text/csv")

    @app.get("/api/v1/transactions/slow")
    async def slow():
        await asyncio.sleep(5)
        return {}

    @app.api_route("/api/v1/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def echo(request: Request):
        return {
            "service": name,
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "body": (await request.body()).decode(),
            "headers": dict(request.headers),
        }

    return app


@pytest.fixture(scope="session")
async def upstreams(jwks) -> AsyncIterator[dict[str, tuple[FastAPI, str]]]:
    """Each service name -> (its app, its base URL)."""
    async with contextlib.AsyncExitStack() as stack:
        running = {}
        for name in SERVICES:
            app = fake_service(name, jwks)
            running[name] = (app, await stack.enter_async_context(serving(app)))
        yield running


@pytest.fixture(scope="session")
def gateway_settings(upstreams):
    """Settings of a gateway routed to the upstreams; keyword arguments override them."""

    def settings(**overrides) -> GatewaySettings:
        urls = {f"{name}_url": url for name, (_app, url) in upstreams.items()}
        return GatewaySettings.model_validate({**urls, **overrides})

    return settings


@pytest.fixture(scope="session")
def serve_gateway():
    """Serves a gateway app (for a test that prepares the app itself); yields a client of it."""

    @contextlib.asynccontextmanager
    async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
        async with serving(app, lifespan="on") as base_url:
            async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
                yield client

    return serve


@pytest.fixture(scope="session")
def start_gateway(gateway_settings, serve_gateway):
    """Serves a gateway routed to the upstreams; keyword arguments override its settings.
    lean_proxy=False: the proxied requests go through the whole FastAPI stack, as before the lean path."""

    @contextlib.asynccontextmanager
    async def start(lean_proxy: bool = True, **overrides) -> AsyncIterator[httpx.AsyncClient]:
        async with serve_gateway(create_app(gateway_settings(**overrides), lean_proxy=lean_proxy)) as client:
            yield client

    return start


@pytest.fixture(scope="session")
async def gateway(start_gateway) -> AsyncIterator[httpx.AsyncClient]:
    async with start_gateway() as client:
        yield client


@pytest.fixture
async def stopped_upstream_url(jwks) -> str:
    """The address of an upstream that was running and has stopped."""
    async with serving(fake_service("stopped", jwks)) as url:
        pass
    return url


@pytest.fixture
def bearer(issue_token) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token()}"}
