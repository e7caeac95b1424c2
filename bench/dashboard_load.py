"""The dashboard under load: 64 clients GET /api/v1/dashboard through the gateway, as fast as they
are answered. The gateway asks four or five services at once for each (licenses, child orgs,
members, transactions, audit), so it measures the fan-out as well as each service's list."""

import asyncio
import statistics
import time

import aiohttp


async def dashboard_load(base: str, headers: dict[str, str], requests: int, clients: int) -> dict:
    """requests/s, p50 and p99 (ms), and how many answers were not 200 or said a part was missing."""
    latencies: list[float] = []
    failed = 0
    remaining = iter(range(requests))

    async def client() -> None:
        nonlocal failed
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
            for _ in remaining:
                began = time.perf_counter()
                async with session.get(f"{base}/api/v1/dashboard", headers=headers) as answer:
                    body = await answer.json(content_type=None)
                latencies.append(time.perf_counter() - began)
                if answer.status != 200 or body.get("missing"):
                    failed += 1

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    seconds = time.perf_counter() - started
    latencies.sort()
    return {"per_second": requests / seconds, "p50": statistics.median(latencies) * 1000,
            "p99": latencies[int(0.99 * (len(latencies) - 1))] * 1000, "failed": failed}
