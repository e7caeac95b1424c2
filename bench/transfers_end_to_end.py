"""Transfers per second end to end, through the gateway, against the raw aio-pika baseline.

    uv run python bench/transfers_end_to_end.py [--transfers N] [--clients 64] [--raw-events N]

Starts the whole system as `make run` does (deploy/run/run.py: every service in its own process
under supervisord) on databases and a vhost of its own, removed at the end. Then, through the
gateway on its public API: the vendor creates a distributor and a product and issues one
entitlement line big enough for the run; the distributor creates an integrator. The load: 64
clients (aiohttp, one connection each) POST /api/v1/transfers, splits of 1 license, as fast as
they are answered (202). A transfer is done when the transfers service has recorded its outcome
(entitlements applied the ledger and reported back over the bus):

  accepted   POST -> 202 (client clock)
  end to end requested_at -> completed_at in the transfers database (the outcome recorded)
  throughput N / (first POST -> the N-th outcome recorded)

In the same run, the raw baseline of bench/outbox_to_audit.py: aio-pika publishes with confirms
to a quorum queue and consumes. At the end, conservation is checked on the entitlements database.
Nothing is asserted; it prints a table.
"""

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from outbox_to_audit import envelope_size, raw_baseline  # noqa: E402
from shared.testing import LOCAL_AMQP, LOCAL_POSTGRES, TestInfrastructure, _create_databases, _drop_databases, _own_vhost  # noqa: E402

PROCESSES = ("gateway", "orgs", "identity", "entitlements", "transfers", "audit", "notify")
ADMIN_EMAIL, PASSWORD = "bench-admin@example.com", "bench password 123"


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def pg(infra: TestInfrastructure, service: str) -> str:
    return f"{infra.postgres_dsn.replace('+asyncpg', '')}/{infra.database_prefix}_{service}"


async def eventually(check, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if value := await check():
                return value
        except aiohttp.ClientConnectionError:
            pass  # the system is still starting
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{check.__name__} did not happen within {timeout}s")


class Api:
    def __init__(self, session: aiohttp.ClientSession, base: str, token: str | None = None):
        self.session, self.base = session, base
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def call(self, method: str, path: str, body=None, ok=(200, 201, 202)):
        async with self.session.request(method, self.base + path, json=body, headers=self.headers) as answer:
            data = await answer.json(content_type=None)
            return data if answer.status in ok else None


async def sign_in(session, base: str, email: str) -> Api:
    async def login():
        data = await Api(session, base).call("POST", "/api/v1/auth/login", {"email": email, "password": PASSWORD})
        return data and data["access_token"]

    return Api(session, base, await eventually(login))


async def accept_invite(session, base: str, infra, email: str) -> Api:
    async def token():
        conn = await asyncpg.connect(pg(infra, "identity"))
        try:
            return await conn.fetchval(
                "SELECT body->'payload'->>'token' FROM outbox WHERE routing_key = 'identity.invite.created'"
                " AND body->'payload'->>'email' = $1", email)
        finally:
            await conn.close()

    body = {"token": await eventually(token), "first_name": "Bench", "last_name": "User", "password": PASSWORD}
    assert await Api(session, base).call("POST", "/api/v1/invites/accept", body) is not None
    return await sign_in(session, base, email)


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


async def load(distributor: Api, body: dict, transfers: int, clients: int, infra) -> dict:
    accepted: list[float] = []
    refused: list[int] = []
    next_index = iter(range(transfers))
    started_wall = time.time()

    async def client() -> None:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
            api = Api(session, distributor.base)
            api.headers = distributor.headers
            for _ in next_index:
                began = time.perf_counter()
                async with session.post(api.base + "/api/v1/transfers", json=body, headers=api.headers) as answer:
                    await answer.read()
                    if answer.status != 202:
                        refused.append(answer.status)
                        continue
                accepted.append(time.perf_counter() - began)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    conn = await asyncpg.connect(pg(infra, "transfers"))
    try:
        async def all_recorded():
            done = await conn.fetchval(
                "SELECT count(*) FROM transfers WHERE status <> 'pending' AND requested_at >= to_timestamp($1)",
                started_wall)
            return done >= len(accepted)

        await eventually(all_recorded, timeout=600)
        seconds = time.perf_counter() - started
        row = await conn.fetchrow(
            "SELECT count(*) FILTER (WHERE status = 'completed') AS completed,"
            " percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - requested_at)) AS p50,"
            " percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - requested_at)) AS p99"
            " FROM transfers WHERE requested_at >= to_timestamp($1)", started_wall)
    finally:
        await conn.close()
    accepted.sort()
    return {"seconds": seconds, "completed": row["completed"], "refused": sorted(set(refused)),
            "refused_count": len(refused), "accepted_count": len(accepted), "p50": row["p50"] * 1000, "p99": row["p99"] * 1000,
            "accepted_p50": statistics.median(accepted) * 1000,
            "accepted_p99": accepted[int(0.99 * (len(accepted) - 1))] * 1000}


async def conservation(infra) -> int:
    conn = await asyncpg.connect(pg(infra, "entitlements"))
    try:
        return await conn.fetchval(
            "SELECT count(*) FROM entitlement_lines l WHERE l.quantity <>"
            " coalesce((SELECT sum(available) FROM holdings h WHERE h.line_id = l.id), 0)"
            " + coalesce((SELECT sum(quantity) FROM activations a WHERE a.line_id = l.id AND a.status = 'active'), 0)")
    finally:
        await conn.close()


async def bench(infra, base: str, transfers: int, clients: int, raw_events: int) -> None:
    raw = await raw_baseline(infra.amqp_url, raw_events, envelope_size())
    raw_rate = raw_events / raw["seconds"]
    async with aiohttp.ClientSession() as session:
        setup = await prepare(session, base, infra, quantity=transfers * 2)
        result = await load(setup["distributor"], setup["body"], transfers, clients, infra)
    rate = result["accepted_count"] / result["seconds"]
    print(f"\n{os.cpu_count()} CPUs, every service in its own process, {clients} clients (aiohttp), load average"
          f" {os.getloadavg()[0]:.2f}")
    print(f"{'path':<44} {'n':>6} {'per s':>8} {'p50 ms':>8} {'p99 ms':>8} {'x raw':>6}")
    print(f"{'raw aio-pika (confirms, quorum)':<44} {raw_events:>6} {raw_rate:>8.0f} {raw['p50']:>8.1f} {raw['p99']:>8.1f} {1:>6.2f}")
    print(f"{'transfer accepted (POST -> 202)':<44} {transfers:>6} {'':>8} {result['accepted_p50']:>8.1f} {result['accepted_p99']:>8.1f}")
    print(f"{'transfer end to end (-> outcome recorded)':<44} {transfers:>6} {rate:>8.0f} {result['p50']:>8.1f} {result['p99']:>8.1f} {rate / raw_rate:>6.2f}")
    print(f"accepted {result['accepted_count']} of {transfers} (refused {result['refused_count']}, statuses"
          f" {result['refused']}); completed {result['completed']}; lines not conserved: {await conservation(infra)}")


def run_system(infra, run_dir: Path) -> tuple[subprocess.Popen, str]:
    ports = dict(zip(PROCESSES, free_ports(len(PROCESSES) + 1)))
    smtp_port = free_ports(1)[0]
    environment = {**os.environ, "POSTGRES_DSN": infra.postgres_dsn, "AMQP_URL": infra.amqp_url,
                   "DATABASE_PREFIX": infra.database_prefix, "LOG_LEVEL": "WARNING", "SMTP_PORT": str(smtp_port),
                   "LICENSING_RUN_DIR": str(run_dir), "LICENSING_ADMIN_EMAIL": ADMIN_EMAIL,
                   "LICENSING_ADMIN_PASSWORD": PASSWORD,
                   # one user drives the whole load: the gateway's per-user limit would be the figure
                   "RATE_LIMIT_PER_USER": "0", "RATE_LIMIT_PER_ADDRESS": "0",
                   **{f"{name.upper()}_PORT": str(port) for name, port in ports.items()}}
    environment.pop("SMTP_HOST", None)
    process = subprocess.Popen([sys.executable, str(ROOT / "deploy" / "run" / "run.py")], env=environment,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    return process, f"http://127.0.0.1:{ports['gateway']}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transfers", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--raw-events", type=int, default=8000)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    with _own_vhost(LOCAL_AMQP) as (vhost, amqp_url):
        infra = TestInfrastructure(LOCAL_POSTGRES, amqp_url, f"bench_{uuid.uuid4().hex[:8]}", vhost)
        run_dir = Path(f"/tmp/{infra.database_prefix}")
        process = None
        try:
            print(f"preparing databases {infra.database_prefix}_* and vhost {vhost} ...", file=sys.stderr)
            asyncio.run(_create_databases(infra))
            process, base = run_system(infra, run_dir)
            asyncio.run(bench(infra, base, args.transfers, args.clients, args.raw_events))
        finally:
            if process is not None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=60)
            asyncio.run(_drop_databases(infra))
    return 0


if __name__ == "__main__":
    sys.exit(main())
