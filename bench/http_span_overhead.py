"""CPU per request of a small POST through FastAPI, with each way of giving it a span, in one run.

    uv run python bench/http_span_overhead.py [--requests 5000] [--rounds 2]

In-process ASGI calls on one loop (no sockets, no server): what is measured is the framework's
and the tracing's own CPU per request. Tracing is configured as the services configure it
(shared.tracing: spans recorded only once exported, so here none are). The stacks:
  instrumentor     FastAPIInstrumentor (what the services ran until session 6)
  fastapi native   FastAPI's own telemetry, all of it (on by default once a provider exists)
  native spans     FastAPI's own server spans only
  ours             shared.tracing.ServerSpanMiddleware, FastAPI's telemetry off (what runs now)
  none             no span at all
Every stack has shared.middleware.RequestContextMiddleware, as the services do. No assertions.
"""

import argparse
import asyncio
import os
import time

os.environ.setdefault("LOG_LEVEL", "WARNING")

import uvloop  # noqa: E402
from fastapi import FastAPI  # noqa: E402

from shared.middleware import RequestContextMiddleware  # noqa: E402
from shared.tracing import FASTAPI_TELEMETRY_OFF, ServerSpanMiddleware, configure_tracing  # noqa: E402

TRACEPARENT = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _app(telemetry: dict, span_middleware: bool = False, instrumentor: bool = False) -> FastAPI:
    app = FastAPI(telemetry=telemetry)

    @app.post("/api/v1/things/{thing_id}")
    async def thing(thing_id: int, body: dict) -> dict:
        return {"id": thing_id}

    app.add_middleware(RequestContextMiddleware, service="bench")
    if span_middleware:
        app.add_middleware(ServerSpanMiddleware)
    if instrumentor:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor  # not a dependency any more

        FastAPIInstrumentor.instrument_app(app, exclude_spans=["receive", "send"])
    return app


def stacks() -> dict[str, FastAPI]:
    found = {}
    try:
        found["instrumentor"] = _app({}, instrumentor=True)
    except ImportError:
        print("(FastAPIInstrumentor not installed: `uv pip install opentelemetry-instrumentation-fastapi` to compare)")
    found["fastapi native"] = _app({})
    found["native spans"] = _app({"metrics": False, "logs": False, "operation_spans": False})
    found["ours"] = _app(FASTAPI_TELEMETRY_OFF, span_middleware=True)
    found["none"] = _app(FASTAPI_TELEMETRY_OFF)
    return found


async def cpu_per_request(app: FastAPI, requests: int) -> float:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/api/v1/things/5", "raw_path": b"/api/v1/things/5", "query_string": b"", "root_path": "",
             "headers": [(b"host", b"bench"), (b"content-type", b"application/json"), (b"content-length", b"2"),
                         (b"traceparent", TRACEPARENT)],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}

    async def receive():
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message):
        pass

    for _ in range(200):  # warm up: route and validation caches
        await app(dict(scope), receive, send)
    started = time.process_time()
    for _ in range(requests):
        await app(dict(scope), receive, send)
    return (time.process_time() - started) / requests * 1e6


async def main(requests: int, rounds: int) -> None:
    configure_tracing("bench", None)
    apps = stacks()
    results: dict[str, list[float]] = {name: [] for name in apps}
    for _ in range(rounds):
        for name, app in apps.items():
            results[name].append(await cpu_per_request(app, requests))
    none = sum(results["none"]) / rounds
    print(f"\n{'stack':<16} " + " ".join(f"{'round ' + str(i + 1):>9}" for i in range(rounds)) + f" {'x none':>7}")
    for name, values in results.items():
        print(f"{name:<16} " + " ".join(f"{v:>6.0f} us" for v in values) + f" {sum(values) / rounds / none:>7.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    uvloop.install()
    asyncio.run(main(args.requests, args.rounds))
