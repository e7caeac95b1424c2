"""Operator commands used by `make run` and the tests.

    python -m shared.devtools check      PostgreSQL and RabbitMQ reachable? says which is not, and how to start it
    python -m shared.devtools prepare    creates each service's database and runs its migrations
"""

import asyncio
import socket
import sys
import urllib.error
import urllib.request
from importlib.util import find_spec
from pathlib import Path

import aio_pika
import asyncpg
from alembic import command
from alembic.config import Config

from shared.settings import ServiceSettings

SERVICES_WITH_DATABASE = ("orgs", "identity", "entitlements", "transfers", "audit", "notify", "billing")

_HOW_TO_START = {
    "PostgreSQL": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "RabbitMQ": "rabbitmq-server -detached",
}


def _server_dsn(settings: ServiceSettings, database: str = "postgres") -> str:
    return f"{settings.postgres_dsn.replace('+asyncpg', '').rstrip('/')}/{database}"


async def unreachable_servers(settings: ServiceSettings) -> list[str]:
    problems = []
    try:
        connection = await asyncpg.connect(_server_dsn(settings), timeout=5)
        await connection.close()
    except Exception as error:
        problems.append(f"PostgreSQL is unreachable at {settings.postgres_dsn} ({error!r})")
    try:
        connection = await aio_pika.connect(settings.amqp_url, timeout=5)
        await connection.close()
    except Exception as error:
        problems.append(f"RabbitMQ is unreachable at {settings.amqp_url} ({error!r})")
    return problems


async def ensure_database(settings: ServiceSettings, database: str) -> None:
    connection = await asyncpg.connect(_server_dsn(settings))
    try:
        if not await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
            await connection.execute(f'CREATE DATABASE "{database}"')
    finally:
        await connection.close()


def alembic_config(service: str, database_url: str) -> Config:
    spec = find_spec(service)
    if spec is None or spec.origin is None:
        raise SystemExit(f"service package {service!r} is not installed; run `uv sync`")
    config = Config(str(Path(spec.origin).parent.parent / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", database_url)
    return config


def migrate(service: str, database_url: str) -> None:
    """Runs in a thread of its own when called from async code (Alembic's env uses asyncio.run)."""
    command.upgrade(alembic_config(service, database_url), "head")


async def prepare(settings: ServiceSettings) -> None:
    for service in SERVICES_WITH_DATABASE:
        database = f"{settings.database_prefix}_{service}"
        await ensure_database(settings, database)
        await asyncio.to_thread(migrate, service, f"{settings.postgres_dsn.rstrip('/')}/{database}")


def port_listening(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def service_ready(port: int, host: str = "127.0.0.1") -> bool:
    """True when the process on `port` answers its /readyz with 200."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/readyz", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def main(argv: list[str]) -> int:
    settings = ServiceSettings()
    if argv[:1] == ["check"]:
        problems = asyncio.run(unreachable_servers(settings))
        for problem in problems:
            server = problem.split(" ", 1)[0]
            print(f"{problem}\n  start it with: {_HOW_TO_START[server]}", file=sys.stderr)
        return 1 if problems else 0
    if argv[:1] == ["prepare"]:
        asyncio.run(prepare(settings))
        print("databases ready: " + ", ".join(f"{settings.database_prefix}_{s}" for s in SERVICES_WITH_DATABASE))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
