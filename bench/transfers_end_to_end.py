"""Transfers per second end to end through the gateway, the dashboard under the same 64 clients,
and where the CPU goes; against the raw baseline of a transfer, in the same run.

    uv run python bench/transfers_end_to_end.py [--transfers N] [--clients 64] [--dashboards N]

Starts the whole system as `make run` does (deploy/run/run.py: every service in its own process
under supervisord, the mail sink too) on databases and a vhost of its own, removed at the end.
Then, through the gateway on its public API: the vendor creates a distributor and a product and
issues one entitlement line big enough for the run; the distributor creates an integrator. The
load: 64 clients (aiohttp, one connection each) POST /api/v1/transfers, splits of 1 license from
that one holding, as fast as they are answered (202). A transfer is done when its outcome is
recorded by the transfers service *and* the audit log holds its completion:

  accepted    POST -> 202 (client clock)
  end to end  requested_at (transfers) -> the later of completed_at (transfers) and the
              completion's recorded_at (audit), both the database's clock
  throughput  N / (first POST -> the N-th transfer done)

Then the same for 20 s at each paced rate (--paced-rates, 30 and 300/s): at 30/s, below capacity,
the latency of one transfer rather than of a backlog; at 300/s, the issue's target rate. Then 64
clients GET /api/v1/dashboard as the distributor (the gateway asks five services for it). Each
paced run and the dashboards start once notify has sent every mail of what came before.
CPU: each process's CPU time (/proc) over the transfers load, per transfer (bench/process_cpu.py).
Baseline, same run: bench/raw_transfer_baseline.py (lock the holding, two ledger rows, an outbox
row, commit, confirmed publish, in plain asyncpg and aio-pika; 64 clients, one holding).
Conservation is checked at the end. Nothing is asserted; it prints tables.
"""

import argparse
import asyncio
import os
import signal
import statistics
import sys
import time
import uuid
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dashboard_load import dashboard_load  # noqa: E402
from process_cpu import gc_seconds, per_unit, snapshot  # noqa: E402
from raw_transfer_baseline import raw_transfer_baseline  # noqa: E402
from system_run import (  # noqa: E402
    ADMIN_EMAIL, Api, accept_invite, connect, eventually, own_infrastructure, pg, running_system, sign_in)


async def prepare(session, base: str, infra, quantity: int) -> dict:
    vendor = await sign_in(session, base, ADMIN_EMAIL)
    distributor_email = f"dist-{uuid.uuid4().hex[:6]}@example.com"
    distributor_id = (await vendor.call("POST", "/api/v1/distributors", {
        "name": "Bench Distribution", "country": "SE", "admin_email": distributor_email}))["id"]
    distributor = await accept_invite(session, base, infra, distributor_email)
    product_id = (await vendor.call("POST", "/api/v1/products", {"name": "Bench Product", "license_type": "perpetual"}))["id"]

    async def issue():
        return await vendor.call("POST", "/api/v1/entitlements", {
            "distributor_id": distributor_id, "sales_order": "SO-BENCH", "po_number": "PO-BENCH",
            "order_date": "2026-11-01", "expiration_date": "2035-12-31",
            "lines": [{"product_id": product_id, "quantity": quantity}]})

    entitlement_id = (await eventually(issue))["entitlement_id"]
    integrator_id = (await distributor.call("POST", "/api/v1/integrators", {
        "name": "Bench Integration", "country": "DE",
        "representatives": [{"email": f"rep-{uuid.uuid4().hex[:6]}@example.com"}]}))["id"]
    body = {"entitlement_id": entitlement_id, "product_id": product_id, "quantity": 1, "to_org_id": integrator_id}

    async def first_transfer():  # also waits until transfers knows the new integrator
        return await distributor.call("POST", "/api/v1/transfers", body, ok=(202,))

    await eventually(first_transfer)
    return {"distributor": distributor, "body": body}


async def load(distributor: Api, body: dict, transfers: int, clients: int, infra, rate: float | None = None) -> dict:
    """As fast as answered, or (`rate`) the i-th request sent at i/rate seconds: below capacity,
    so the latencies are those of one transfer rather than of a backlog."""
    accepted: list[float] = []
    refused: list[int] = []
    next_index = iter(range(transfers))
    started_wall, started_clock = time.time(), time.perf_counter()

    async def client() -> None:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
            api = Api(session, distributor.base)
            api.headers = distributor.headers
            for index in next_index:
                if rate:
                    await asyncio.sleep(max(0.0, started_clock + index / rate - time.perf_counter()))
                began = time.perf_counter()
                async with session.post(api.base + "/api/v1/transfers", json=body, headers=api.headers) as answer:
                    await answer.read()
                    if answer.status != 202:
                        refused.append(answer.status)
                        continue
                accepted.append(time.perf_counter() - began)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    done = await _all_done(infra, started_wall, len(accepted))
    seconds = time.perf_counter() - started
    accepted.sort()
    return {"seconds": seconds, **done, "refused": sorted(set(refused)), "refused_count": len(refused),
            "accepted_count": len(accepted), "accepted_p50": statistics.median(accepted) * 1000,
            "accepted_p99": accepted[int(0.99 * (len(accepted) - 1))] * 1000}


async def _all_done(infra, since: float, count: int) -> dict:
    """Waits until `count` transfers have their outcome recorded and their completion audited;
    their latencies from request to done."""
    transfers_db, audit_db = await connect(pg(infra, "transfers")), await connect(pg(infra, "audit"))
    try:
        async def outcomes():
            rows = await transfers_db.fetch(
                "SELECT id::text, status, requested_at, completed_at FROM transfers"
                " WHERE status <> 'pending' AND requested_at >= to_timestamp($1)", since)
            return rows if len(rows) >= count else None

        async def audited():
            rows = await audit_db.fetch(
                "SELECT payload->>'transfer_id' AS transfer_id, recorded_at FROM audit_events"
                " WHERE type = 'entitlements.transfer.completed' AND occurred_at >= to_timestamp($1)", since)
            return rows if len(rows) >= completed else None

        recorded = await eventually(outcomes, timeout=900)
        completed = sum(1 for row in recorded if row["status"] == "completed")
        in_audit = {row["transfer_id"]: row["recorded_at"] for row in await eventually(audited, timeout=900)}
    finally:
        await transfers_db.close()
        await audit_db.close()
    latencies = sorted((max(row["completed_at"], in_audit[row["id"]]) - row["requested_at"]).total_seconds()
                       for row in recorded if row["status"] == "completed")
    return {"completed": completed, "p50": statistics.median(latencies) * 1000,
            "p99": latencies[int(0.99 * (len(latencies) - 1))] * 1000}


async def _mail_sent(infra) -> None:
    conn = await connect(pg(infra, "notify"))
    try:
        async def nothing_queued():
            return await conn.fetchval("SELECT count(*) = 0 FROM notifications WHERE state = 'queued'")

        await eventually(nothing_queued, timeout=900)
    finally:
        await conn.close()


async def conservation(infra) -> int:
    conn = await connect(pg(infra, "entitlements"))
    try:
        return await conn.fetchval(
            "SELECT count(*) FROM entitlement_lines l WHERE l.quantity <>"
            " coalesce((SELECT sum(available) FROM holdings h WHERE h.line_id = l.id), 0)"
            " + coalesce((SELECT sum(quantity) FROM reservations r WHERE r.line_id = l.id AND r.status = 'reserved'), 0)"
            " + coalesce((SELECT sum(quantity) FROM activations a WHERE a.line_id = l.id AND a.status = 'active'), 0)")
    finally:
        await conn.close()


async def bench(system, transfers: int, clients: int, dashboards: int, paced_rates: list[float]) -> None:
    infra, base = system.infra, system.base
    raw = await raw_transfer_baseline(infra.postgres_dsn, infra.amqp_url, transfers, clients)
    async with aiohttp.ClientSession() as session:
        setup = await prepare(session, base, infra, quantity=transfers * 2 + int(sum(paced_rates) * 20))
        before, gc_before = snapshot(system.process.pid, infra.database_prefix), await gc_seconds(session, system.ports)
        result = await load(setup["distributor"], setup["body"], transfers, clients, infra)
        cpu = per_unit(before, snapshot(system.process.pid, infra.database_prefix), result["accepted_count"])
        gc_after = await gc_seconds(session, system.ports)
        in_gc = {s: (gc_after[s] - gc_before[s]) * 1000 / result["accepted_count"] for s in gc_after}
        paced = {}
        for rate in paced_rates:
            await _mail_sent(infra)  # a run above capacity leaves notify a backlog, which the next would share
            paced[rate] = await load(setup["distributor"], setup["body"], int(rate * 20), clients, infra, rate)
        await _mail_sent(infra)
        dashboard = await dashboard_load(base, setup["distributor"].headers, dashboards, clients)
    rate = result["accepted_count"] / result["seconds"]
    print(f"\n{os.cpu_count()} CPUs, every service in its own process, {clients} clients (aiohttp), load average"
          f" {os.getloadavg()[0]:.2f}")
    print(f"{'path':<46} {'n':>6} {'per s':>8} {'p50 ms':>8} {'p99 ms':>8} {'x raw':>6}")
    rows = [("raw transfer (asyncpg + aio-pika)", transfers, raw["per_second"], raw["p50"], raw["p99"]),
            ("transfer accepted (POST -> 202)", transfers, None, result["accepted_p50"], result["accepted_p99"]),
            ("transfer end to end (-> recorded and audited)", transfers, rate, result["p50"], result["p99"]),
            *((f"the same, paced at {rate:g}/s: {what}", run["accepted_count"], None, run[f"{key}p50"], run[f"{key}p99"])
              for rate, run in paced.items() for what, key in (("accepted", "accepted_"), ("end to end", ""))),
            ("dashboard (GET /api/v1/dashboard)", dashboards, dashboard["per_second"], dashboard["p50"],
             dashboard["p99"])]
    for name, n, per_second, p50, p99 in rows:
        ratio = f"{per_second / raw['per_second']:>6.2f}" if per_second else ""
        rate_text = f"{per_second:>8.0f}" if per_second else " " * 8
        print(f"{name:<46} {n:>6} {rate_text} {p50:>8.1f} {p99:>8.1f} {ratio}")
    print(f"accepted {result['accepted_count']} of {transfers} (refused {result['refused_count']}, statuses"
          f" {result['refused']}); completed {result['completed']}; lines not conserved: {await conservation(infra)};"
          f" dashboards not whole: {dashboard['failed']}")
    print("\nCPU per transfer during the transfers load (ms; the mail sink and this client not counted),"
          " and of it in garbage collections:")
    for label, milliseconds in cpu:
        collecting = f"{in_gc[label]:7.2f}" if label in in_gc else ""
        print(f"  {label:<34} {milliseconds:7.2f} {collecting}")
    print(f"  {'all of the above':<34} {sum(ms for _, ms in cpu):7.2f}"
          f"  -> at most {os.cpu_count() * 1000 / sum(ms for _, ms in cpu):.0f} transfers/s on {os.cpu_count()} cores")


def _at_least_one(text: str) -> int:
    """A count of requests to time: with none there is no figure to print."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"a whole number of at least 1 expected, not {text!r}")
    return int(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transfers", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--dashboards", type=_at_least_one, default=1000)
    parser.add_argument("--paced-rates", type=lambda text: [float(rate) for rate in text.split(",")],
                        default=[30.0, 300.0], help="transfers/s of each paced run (20 s each), comma-separated")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    with own_infrastructure("bench") as infra, running_system(infra, Path(f"/tmp/{infra.database_prefix}")) as system:
        asyncio.run(bench(system, args.transfers, args.clients, args.dashboards, args.paced_rates))
    return 0


if __name__ == "__main__":
    sys.exit(main())
