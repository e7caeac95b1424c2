"""Device validations per second, p50 and p99: the devices service against a raw endpoint doing the
same indexed lookup (bare ASGI on uvicorn and asyncpg), in the same run, straight to the service
(as an Ingress would route /api/v1/device/) and through the gateway.

Seeds a database of its own (L licenses, D devices spread over them; keys and fingerprints stored
as the service stores them), on a vhost of its own, then starts three processes: the devices
service, the raw endpoint and the gateway (rate limits off: the load comes from one address), each
uvicorn with uvloop and httptools as deployed. C aiohttp clients POST /api/v1/device/validate
with a random activated (key, fingerprint) each time, N requests per target, the targets taken in
turn. Then one paced run straight to the service at half the rate it reached (its p99 at half of
capacity). Every answer must be 200 with code VALID, or the run says how many were not.

    .venv/bin/python bench/device_validation.py                         # 10,000 licenses, 50,000 devices
    .venv/bin/python bench/device_validation.py --licenses 200 --devices 1000 --requests 2000

Prints figures only; asserts nothing.
"""

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POSTGRES = os.environ.get("POSTGRES_DSN", "postgresql+asyncpg://postgres@127.0.0.1:5432")
AMQP = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
VALIDATE = "/api/v1/device/validate"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the raw endpoint (a child process) -------------------------------------------------------------

RAW_LOOKUP = (
    "SELECT l.id, l.expires_on, l.grace_period_days, l.suspended, l.paused, l.revoked_at, d.id AS device_id"
    " FROM licenses l LEFT JOIN devices d ON d.license_id = l.id AND d.fingerprint_digest = $2"
    " AND d.status = 'active' WHERE l.key_digest = $1"
)


def serve_raw(port: int, dsn: str) -> None:
    """A bare ASGI app: read the body, digest key and fingerprint, one lookup, a JSON answer."""
    import asyncpg
    import uvicorn

    from devices.domain.keys import fingerprint_digest, key_digest
    from devices.settings import DevicesSettings

    secret = DevicesSettings().key_secret
    pool: asyncpg.Pool | None = None

    async def app(scope, receive, send):
        nonlocal pool
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    pool = await asyncpg.create_pool(dsn.replace("+asyncpg", ""), min_size=10, max_size=10)
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await pool.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = json.loads(body)
        row = await pool.fetchrow(RAW_LOOKUP, key_digest(secret, request["key"]),
                                  fingerprint_digest(secret, request["fingerprint"]))
        valid = row is not None and row["device_id"] is not None
        answer = json.dumps({"valid": valid, "code": "VALID" if valid else "NOT_FOUND"}).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(answer)).encode())]})
        await send({"type": "http.response.body", "body": answer})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")


# --- seeding ----------------------------------------------------------------------------------------

async def seed(dsn: str, licenses: int, devices: int) -> list[tuple[str, str]]:
    """The (key, fingerprint) of every activated device."""
    import asyncpg

    from devices.domain.keys import fingerprint_digest, key_digest, key_hint, new_license_key
    from devices.settings import DevicesSettings

    settings = DevicesSettings()
    secret = settings.key_secret
    now = datetime.now(UTC)
    license_rows, keys = [], []
    for n in range(licenses):
        key = new_license_key()
        keys.append((uuid.uuid4(), key))
        license_rows.append((keys[-1][0], key_digest(secret, key), settings.key_sealer.encrypt(key.encode()).decode(),
                             key_hint(key), uuid.uuid4(), uuid.uuid4(), "ENT-BENCH-000001", uuid.uuid4(), "Edge",
                             f"Project {n}", max(1, devices // licenses + 1), 5, 1, 14, True, True, 3, now))
    device_rows, pairs = [], []
    for n in range(devices):
        license_id, key = keys[n % licenses]
        fingerprint = f"bench-device-{n}"
        pairs.append((key, fingerprint))
        device_rows.append((uuid.uuid4(), license_id, fingerprint_digest(secret, fingerprint), f"Device {n}", now))
    connection = await asyncpg.connect(dsn.replace("+asyncpg", ""))
    try:
        await connection.copy_records_to_table("licenses", records=license_rows, columns=[
            "id", "key_digest", "key_sealed", "key_hint", "org_id", "activation_id", "entitlement_id", "product_id",
            "product_name", "project_name", "max_devices", "max_license_users", "default_user_activation_cap",
            "grace_period_days", "virtual_machines_allowed", "offline_allowed", "device_resets_per_30_days",
            "created_at"])
        await connection.copy_records_to_table("devices", records=device_rows, columns=[
            "id", "license_id", "fingerprint_digest", "name", "activated_at"])
        await connection.execute("ANALYZE licenses; ANALYZE devices")
    finally:
        await connection.close()
    return pairs


# --- the load ---------------------------------------------------------------------------------------

async def load(url: str, pairs, requests: int, clients: int, rate: float | None = None) -> dict:
    """`requests` validations by `clients` concurrent clients (at `rate` per second, if given)."""
    import aiohttp

    latencies: list[float] = []
    failures = 0
    counter = iter(range(requests))
    started = time.perf_counter()

    async def client(session):
        nonlocal failures
        for n in counter:
            if rate is not None:
                delay = started + n / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            key, fingerprint = random.choice(pairs)
            sent = time.perf_counter()
            async with session.post(url + VALIDATE, json={"key": key, "fingerprint": fingerprint}) as answer:
                body = await answer.json(content_type=None)
            latencies.append(time.perf_counter() - sent)
            if answer.status != 200 or body.get("code") != "VALID":
                failures += 1

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(client(session) for _ in range(clients)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {"per_second": requests / elapsed, "p50_ms": 1000 * statistics.median(latencies),
            "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], "failures": failures}


def show(name: str, figures: dict) -> None:
    print(f"  {name:<28} {figures['per_second']:8.0f}/s   p50 {figures['p50_ms']:6.1f} ms"
          f"   p99 {figures['p99_ms']:6.1f} ms   not VALID: {figures['failures']}")


# --- the run ----------------------------------------------------------------------------------------

@contextlib.contextmanager
def own_vhost():
    vhost = f"licensing-bench-{uuid.uuid4().hex[:8]}"
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True, capture_output=True)
    subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], check=True,
                   capture_output=True)
    try:
        yield f"{AMQP.rstrip('/')}/{vhost}"
    finally:
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], capture_output=True)


@contextlib.contextmanager
def process(command: list[str], env: dict[str, str], port: int):
    child = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if child.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{command} did not start")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        child.terminate()
        child.wait(timeout=15)


def uvicorn_factory(factory: str, port: int) -> list[str]:
    return [sys.executable, "-m", "uvicorn", "--factory", factory, "--port", str(port), "--log-level", "warning",
            "--no-access-log", "--timeout-keep-alive", "75"]


async def main(arguments) -> None:
    from shared.devtools import ensure_database, migrate
    from shared.settings import ServiceSettings

    database = f"bench_devices_{uuid.uuid4().hex[:8]}"
    dsn = f"{POSTGRES}/{database}"
    await ensure_database(ServiceSettings(postgres_dsn=POSTGRES), database)
    try:
        await asyncio.to_thread(migrate, "devices", dsn)
        pairs = await seed(dsn, arguments.licenses, arguments.devices)
        print(f"{arguments.licenses} licenses, {arguments.devices} devices; {arguments.clients} clients,"
              f" {arguments.requests} validations per target and round")
        ports = {name: free_port() for name in ("devices", "raw", "gateway")}
        with own_vhost() as amqp, contextlib.ExitStack() as stack:
            service_env = {"DATABASE_URL": dsn, "AMQP_URL": amqp, "DEVICE_RATE_PER_KEY": "0",
                           "DEVICE_RATE_PER_ADDRESS": "0", "LOG_LEVEL": "WARNING"}
            devices = stack.enter_context(process(uvicorn_factory("devices.main:create_app", ports["devices"]),
                                                  service_env, ports["devices"]))
            raw = stack.enter_context(process([sys.executable, __file__, "--serve-raw", str(ports["raw"]), dsn], {},
                                              ports["raw"]))
            gateway = stack.enter_context(process(uvicorn_factory("gateway.main:create_app", ports["gateway"]), {
                "DEVICES_URL": devices, "RATE_LIMIT_PER_ADDRESS": "0", "RATE_LIMIT_PER_USER": "0",
                "LOG_LEVEL": "WARNING"}, ports["gateway"]))
            targets = {"raw (uvicorn + asyncpg)": raw, "devices service": devices, "through the gateway": gateway}
            for url in targets.values():  # warm: connections, prepared statements, caches
                await load(url, pairs, min(500, arguments.requests), arguments.clients)
            results: dict[str, list[dict]] = {name: [] for name in targets}
            for round_number in range(arguments.rounds):
                order = list(targets) if round_number % 2 == 0 else list(reversed(targets))
                print(f"round {round_number + 1}")
                for name in order:
                    figures = await load(targets[name], pairs, arguments.requests, arguments.clients)
                    results[name].append(figures)
                    show(name, figures)
            best = {name: max(runs, key=lambda f: f["per_second"]) for name, runs in results.items()}
            raw_rate = best["raw (uvicorn + asyncpg)"]["per_second"]
            print("best of the rounds")
            for name, figures in best.items():
                show(name, figures)
                print(f"  {'':<28} {figures['per_second'] / raw_rate:.2f} of the raw endpoint")
            half = best["devices service"]["per_second"] / 2
            paced = await load(devices, pairs, arguments.requests, arguments.clients, rate=half)
            print(f"devices service paced at half its rate ({half:.0f}/s)")
            show("devices service, paced", paced)
    finally:
        import asyncpg

        connection = await asyncpg.connect(f"{POSTGRES.replace('+asyncpg', '')}/postgres")
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        finally:
            await connection.close()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve-raw":
        serve_raw(int(sys.argv[2]), sys.argv[3])
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--licenses", type=int, default=10_000)
    parser.add_argument("--devices", type=int, default=50_000)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=2)
    asyncio.run(main(parser.parse_args()))
