"""The gateway's own CPU per proxied API request, on the full FastAPI stack and on the lean path
(gateway.api.fast_proxy), measured in the same run.

Three kinds of process: a trivial upstream (aiohttp: publishes the signing keys as identity does
and answers every /api/v1 request with 202 and a small JSON body), one gateway process per path
(uvicorn with uvloop and httptools, as deployed), and this process, which drives the load: C
clients POST /api/v1/transfers with a valid access token, N requests per round, the paths taken in
turn, in the opposite order every other round. Only the gateway processes' CPU is counted (utime +
stime from /proc, before and after each round). Rate limits stay on, set too high to refuse
anything, so their check is counted too.

    .venv/bin/python bench/gateway_overhead.py                      # 4000 requests x 2 rounds x 2 paths
    .venv/bin/python bench/gateway_overhead.py --requests 10000 --rounds 3 --clients 64

Prints figures only; asserts nothing.
"""

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PATHS = ("full", "lean")

sys.path.insert(0, str(Path(__file__).resolve().parent))

from process_cpu import cpu_seconds  # noqa: E402


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the child processes -------------------------------------------------------------------------

def serve_upstream(port: int, jwks_file: str) -> None:
    from aiohttp import web

    jwks = json.loads(Path(jwks_file).read_text())
    answer = json.dumps({"id": str(uuid.uuid4()), "status": "pending", "quantity": 1}).encode()

    async def keys(_request):
        return web.json_response(jwks)

    async def api(request):
        await request.read()
        return web.Response(status=202, body=answer, content_type="application/json")

    app = web.Application()
    app.router.add_get("/.well-known/jwks.json", keys)
    app.router.add_route("*", "/api/v1/{rest:.*}", api)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def serve_gateway(port: int, path: str) -> None:
    import uvicorn

    from gateway.main import create_app

    app = create_app(lean_proxy=path == "lean")
    # As deploy/run/run.py starts it (uvicorn's defaults: uvloop, httptools, proxy headers).
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, timeout_keep_alive=75)


# --- the driver ----------------------------------------------------------------------------------

def _keys_and_token() -> tuple[dict, str]:
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    jwks = {"keys": [{**public, "kid": "bench-key", "use": "sig", "alg": "RS256"}]}
    now = int(time.time())
    claims = {"sub": str(uuid.uuid4()), "org": str(uuid.uuid4()), "tier": "distributor", "role": "admin",
              "email": "bench@example.com", "aud": "licensing", "iss": "licensing-identity",
              "iat": now, "exp": now + 3600}
    return jwks, jwt.encode(claims, key, algorithm="RS256", headers={"kid": "bench-key"})


async def _wait_until_up(url: str) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            try:
                async with session.get(url) as response:
                    await response.read()
                    return
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


async def _drive(session, base_url: str, token: str, requests: int, clients: int) -> dict[int, int]:
    body = json.dumps({"license_id": str(uuid.uuid4()), "to_org_id": str(uuid.uuid4()), "quantity": 1})
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    statuses: dict[int, int] = {}
    left = requests

    async def client():
        nonlocal left
        while left > 0:
            left -= 1
            async with session.post(f"{base_url}/api/v1/transfers", data=body, headers=headers) as response:
                await response.read()
                statuses[response.status] = statuses.get(response.status, 0) + 1

    await asyncio.gather(*(client() for _ in range(clients)))
    return statuses


async def run(args) -> None:
    import aiohttp

    jwks, token = _keys_and_token()
    upstream_port = _free_port()
    ports = {path: _free_port() for path in PATHS}
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        jwks_file = Path(tmp) / "jwks.json"
        jwks_file.write_text(json.dumps(jwks))
        upstream_url = f"http://127.0.0.1:{upstream_port}"
        env = {**os.environ, "LOG_LEVEL": "WARNING", "IDENTITY_URL": upstream_url, "TRANSFERS_URL": upstream_url,
               "RATE_LIMIT_PER_ADDRESS": "1000000", "RATE_LIMIT_PER_ADDRESS_BURST": "1000000",
               "RATE_LIMIT_PER_USER": "1000000", "RATE_LIMIT_PER_USER_BURST": "1000000"}
        env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)

        def start(*child_args) -> subprocess.Popen:
            process = subprocess.Popen([sys.executable, __file__, *child_args], env=env, cwd=ROOT)
            stack.callback(_stop, process)
            return process

        start("--serve-upstream", str(upstream_port), str(jwks_file))
        gateways = {path: start("--serve-gateway", str(ports[path]), path) for path in PATHS}
        await _wait_until_up(f"{upstream_url}/.well-known/jwks.json")
        for path in PATHS:
            await _wait_until_up(f"http://127.0.0.1:{ports[path]}/healthz")

        connector = aiohttp.TCPConnector(limit=args.clients * len(PATHS))
        async with aiohttp.ClientSession(connector=connector) as session:
            for path in PATHS:  # warm up: connections, the verified token, first-call imports
                await _drive(session, f"http://127.0.0.1:{ports[path]}", token, args.warmup, args.clients)
            results: dict[str, list[tuple[float, float]]] = {path: [] for path in PATHS}
            print(f"{args.requests} requests per round, {args.clients} clients, POST /api/v1/transfers -> 202")
            print(f"{'round':>5} {'path':>5} {'req/s':>8} {'gateway CPU ms/req':>19}  statuses")
            for round_ in range(1, args.rounds + 1):
                # In turn forwards and backwards: the path taken second in a round did better for it.
                for path in PATHS if round_ % 2 else PATHS[::-1]:
                    pid = gateways[path].pid
                    cpu, started = cpu_seconds(pid), time.perf_counter()
                    statuses = await _drive(session, f"http://127.0.0.1:{ports[path]}", token,
                                            args.requests, args.clients)
                    elapsed, used = time.perf_counter() - started, cpu_seconds(pid) - cpu
                    results[path].append((args.requests / elapsed, used * 1000 / args.requests))
                    print(f"{round_:>5} {path:>5} {args.requests / elapsed:>8.0f} "
                          f"{used * 1000 / args.requests:>19.3f}  {statuses}")
            print("mean:")
            for path in PATHS:
                rates, cpus = zip(*results[path], strict=True)
                print(f"{'':>5} {path:>5} {sum(rates) / len(rates):>8.0f} {sum(cpus) / len(cpus):>19.3f}")


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=4000, help="requests per round and path")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--serve-upstream", nargs=2, metavar=("PORT", "JWKS_FILE"), help=argparse.SUPPRESS)
    parser.add_argument("--serve-gateway", nargs=2, metavar=("PORT", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_upstream:
        serve_upstream(int(args.serve_upstream[0]), args.serve_upstream[1])
    elif args.serve_gateway:
        serve_gateway(int(args.serve_gateway[0]), args.serve_gateway[1])
    else:
        import uvloop

        uvloop.run(run(args))


if __name__ == "__main__":
    main()
