"""Liveness (/healthz), readiness (/readyz: database and broker reachable) and /metrics."""

import asyncio

import aio_pika
import sqlalchemy as sa
from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.problems import problem_response


def health_router(engine: AsyncEngine | None, amqp_url: str | None) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/healthz")
    async def healthz():
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz():
        checks: dict[str, str] = {}
        if engine is not None:
            checks["database"] = await _check(_database_reachable(engine))
        if amqp_url is not None:
            checks["broker"] = await _check(_broker_reachable(amqp_url))
        failing = [name for name, state in checks.items() if state != "ok"]
        if failing:
            return problem_response(503, f"Not ready: {', '.join(failing)} unreachable.", checks=checks)
        return {"status": "ready", "checks": checks}

    @router.get("/metrics")
    async def metrics():
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


async def _check(probe) -> str:
    try:
        await asyncio.wait_for(probe, timeout=2.0)
        return "ok"
    except Exception as error:
        return f"error: {error!r}"


async def _database_reachable(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(sa.text("SELECT 1"))


async def _broker_reachable(amqp_url: str) -> None:
    connection = await aio_pika.connect(amqp_url, timeout=2)
    await connection.close()
