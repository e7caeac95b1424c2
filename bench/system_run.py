"""The whole system as `make run` starts it (deploy/run/run.py: every service its own process under
supervisord, and the mail sink), on databases and a vhost of its own, for the scripts that drive it
through the gateway (bench/transfers_end_to_end.py, bench/chaos/). Also what they share to talk
to it: a small aiohttp API client, sign-in, and accepting an invite as its recipient would."""

import asyncio
import contextlib
import functools
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg

from shared.devtools import service_ready
from shared.events.secrets import EventSecrets
from shared.settings import ServiceSettings
from shared.testing import LOCAL_AMQP, LOCAL_POSTGRES, TestInfrastructure, _drop_databases, _own_vhost
from shared import testing

ROOT = Path(__file__).resolve().parents[1]
PROCESSES = ("gateway", "orgs", "identity", "entitlements", "transfers", "audit", "notify", "devices", "billing")
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
    """asyncpg's DSN of one service's database."""
    return f"{infra.postgres_dsn.replace('+asyncpg', '')}/{infra.database_prefix}_{service}"


async def connect(dsn: str, patience: float = 30.0) -> asyncpg.Connection:
    """A connection, waiting while the server is full: other runs on the machine share its 100."""
    deadline = time.monotonic() + patience
    while True:
        try:
            return await asyncpg.connect(dsn)
        except (asyncpg.TooManyConnectionsError, asyncpg.CannotConnectNowError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


# The tests' poll, with the bench's patience: a whole system starts, and a load drains, slowly.
eventually = functools.partial(testing.eventually, timeout=60.0, interval=0.1)


class Api:
    def __init__(self, session: aiohttp.ClientSession, base: str, token: str | None = None):
        self.session, self.base = session, base
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def request(self, method: str, path: str, body=None, headers: dict | None = None) -> tuple[int, object]:
        async with self.session.request(method, self.base + path, json=body,
                                        headers={**self.headers, **(headers or {})}) as answer:
            return answer.status, await answer.json(content_type=None)

    async def call(self, method: str, path: str, body=None, ok=(200, 201, 202)):
        status, data = await self.request(method, path, body)
        return data if status in ok else None


async def sign_in(session, base: str, email: str) -> Api:
    async def login():
        try:
            data = await Api(session, base).call("POST", "/api/v1/auth/login", {"email": email, "password": PASSWORD})
        except aiohttp.ClientConnectionError:
            return None  # the gateway is still starting
        return data and data["access_token"]

    return Api(session, base, await eventually(login))


async def invite_token(infra: TestInfrastructure, email: str) -> str:
    """The accept-link token of the last invite to `email` (what the invite mail carries): sealed in
    the outbox event, opened with the EVENT_SECRETS_KEY the run's processes got (this environment's,
    else the development default, as deploy/run/run.py passes it on)."""
    async def token():
        conn = await connect(pg(infra, "identity"))
        try:
            return await conn.fetchval(
                "SELECT body->'payload'->>'token' FROM outbox WHERE routing_key = 'identity.invite.created'"
                " AND body->'payload'->>'email' = $1 ORDER BY id DESC LIMIT 1", email)
        finally:
            await conn.close()

    return EventSecrets.from_settings(ServiceSettings()).open(await eventually(token))


async def accept_invite(session, base: str, infra, email: str) -> Api:
    body = {"token": await invite_token(infra, email), "first_name": "Bench", "last_name": "User", "password": PASSWORD}
    assert await Api(session, base).call("POST", "/api/v1/invites/accept", body) is not None
    return await sign_in(session, base, email)


@dataclass(frozen=True)
class RunningSystem:
    infra: TestInfrastructure
    run_dir: Path
    ports: dict[str, int]
    process: subprocess.Popen
    # (process, wall-clock time) of every process killed on purpose, for the checks to account for
    kills: list[tuple[str, float]] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    @property
    def supervisor_config(self) -> Path:
        return self.run_dir / "supervisord.conf"

    @property
    def mail_dir(self) -> Path:
        return self.run_dir / "mail"

    def unready(self) -> list[str]:
        return [name for name, port in self.ports.items() if not service_ready(port)]


def start_system(infra: TestInfrastructure, run_dir: Path, settings: dict[str, str] | None = None) -> RunningSystem:
    """deploy/run/run.py on free ports, quiet; `settings` add to or override its environment."""
    *service_ports, smtp_port = free_ports(len(PROCESSES) + 1)
    ports = dict(zip(PROCESSES, service_ports))
    environment = {**os.environ, "POSTGRES_DSN": infra.postgres_dsn, "AMQP_URL": infra.amqp_url,
                   "DATABASE_PREFIX": infra.database_prefix, "LOG_LEVEL": "WARNING", "SMTP_PORT": str(smtp_port),
                   "LICENSING_RUN_DIR": str(run_dir), "LICENSING_ADMIN_EMAIL": ADMIN_EMAIL,
                   "LICENSING_ADMIN_PASSWORD": PASSWORD,
                   # a few users drive the whole load: the gateway's limits would be the figure
                   "RATE_LIMIT_PER_USER": "0", "RATE_LIMIT_PER_ADDRESS": "0",
                   **{f"{name.upper()}_PORT": str(port) for name, port in ports.items()}, **(settings or {})}
    environment.pop("SMTP_HOST", None)
    process = subprocess.Popen([sys.executable, str(ROOT / "deploy" / "run" / "run.py")], env=environment, cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    return RunningSystem(infra, run_dir, ports, process)


def wait_ready(system: RunningSystem, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while unready := system.unready():
        if system.process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"not ready within {timeout:.0f} s: {unready}; see {system.run_dir / 'logs'}")
        time.sleep(0.5)


def stop_system(system: RunningSystem) -> None:
    if system.process.poll() is None:
        system.process.send_signal(signal.SIGTERM)
        system.process.wait(timeout=60)


@contextlib.contextmanager
def running_system(infra: TestInfrastructure, run_dir: Path, settings: dict[str, str] | None = None,
                   ready_timeout: float = 180) -> Iterator[RunningSystem]:
    """The system started on `infra` (its databases already exist), ready; stopped at the end."""
    system = start_system(infra, run_dir, settings)
    try:
        wait_ready(system, ready_timeout)
        yield system
    finally:
        stop_system(system)


@contextlib.contextmanager
def own_infrastructure(name: str) -> Iterator[TestInfrastructure]:
    """A vhost and database names `<name>_<run>_<service>` of its own (the runner creates and
    migrates the databases as it starts), all removed at the end."""
    with _own_vhost(LOCAL_AMQP) as (vhost, amqp_url):
        infra = TestInfrastructure(LOCAL_POSTGRES, amqp_url, f"{name}_{uuid.uuid4().hex[:8]}", vhost)
        try:
            yield infra
        finally:
            asyncio.run(_drop_databases(infra))
