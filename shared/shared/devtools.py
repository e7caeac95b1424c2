"""Operator commands used by `make run` and the tests.

    python -m shared.devtools check      PostgreSQL and RabbitMQ reachable? says which is not, and how to
                                         start it, or to get it where it is not installed at all
    python -m shared.devtools prepare    creates each service's database and runs its migrations, and on a
                                         broker on this machine, each service's broker user with its
                                         permissions, and the topology (shared.bus.authorisation)

Where a local server is not installed at all, on Debian or Ubuntu as root, `check` offers to install
it from the distribution's packages and start it: it asks on a terminal, and
LICENSING_INSTALL_SERVERS=1 installs without asking (=0 never installs).
"""

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aio_pika
import asyncpg
from alembic import command
from alembic.config import Config

from shared.bus.authorisation import create_users, passwords_from
from shared.settings import BUS_SERVICES, ServiceSettings

SERVICES_WITH_DATABASE = ("orgs", "identity", "entitlements", "transfers", "audit", "notify", "devices", "billing")

_HOW_TO_START = {
    "PostgreSQL": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "RabbitMQ": "rabbitmq-server -detached",
}
_DEBIAN_PACKAGE = {"PostgreSQL": "postgresql", "RabbitMQ": "rabbitmq-server"}
# A fresh Debian cluster asks a password over TCP; the development settings connect as `postgres`
# without one, so the cluster this installs trusts connections from this machine only.
_TRUST_LOCAL_TCP = (
    "for hba in /etc/postgresql/*/main/pg_hba.conf; do "
    "sed -i -E 's/^(host +all +all +(127.0.0.1\\/32|::1\\/128) +)[a-z0-9-]+$/\\1trust/' \"$hba\"; done"
)
_DOCKER = (
    "docker compose up -d postgres rabbitmq, then run with their settings:\n"
    "    POSTGRES_DSN=postgresql+asyncpg://postgres:licensing@127.0.0.1:5432 "
    "AMQP_URL=amqp://licensing:licensing@127.0.0.1:5672/ make run"
)
INSTALL_SETTING = "LICENSING_INSTALL_SERVERS"


def _server_dsn(settings: ServiceSettings, database: str = "postgres") -> str:
    return f"{settings.postgres_dsn.replace('+asyncpg', '').rstrip('/')}/{database}"


async def _connection_errors(settings: ServiceSettings) -> dict[str, Exception | None]:
    """Per server, why a connection failed, or None when it answered."""
    errors: dict[str, Exception | None] = {}
    try:
        connection = await asyncpg.connect(_server_dsn(settings), timeout=5)
        await connection.close()
        errors["PostgreSQL"] = None
    except Exception as error:
        errors["PostgreSQL"] = error
    try:
        connection = await aio_pika.connect(settings.amqp_url, timeout=5)
        await connection.close()
        errors["RabbitMQ"] = None
    except Exception as error:
        errors["RabbitMQ"] = error
    return errors


def _server_url(settings: ServiceSettings, server: str) -> str:
    return settings.postgres_dsn if server == "PostgreSQL" else settings.amqp_url


async def unreachable_servers(settings: ServiceSettings) -> list[str]:
    return [f"{server} is unreachable at {_server_url(settings, server)} ({error!r})"
            for server, error in (await _connection_errors(settings)).items() if error is not None]


@dataclass(frozen=True)
class Server:
    """What `check` found about one server."""

    name: str  # "PostgreSQL" or "RabbitMQ"
    url: str
    reachable: bool
    local: bool  # the settings point at this machine
    installed: bool  # its programs are on this machine


@dataclass(frozen=True)
class Machine:
    debian: bool  # apt-get and the distribution's packages
    root: bool
    docker: bool
    interactive: bool  # someone at a terminal can answer a question
    install_setting: str | None  # LICENSING_INSTALL_SERVERS


@dataclass(frozen=True)
class Advice:
    message: str  # empty when the server answers
    install: bool = False  # install and start it now, without asking
    ask: bool = False  # ask whether to install and start it


def advise(server: Server, machine: Machine) -> Advice:
    """What to say and do about one server: the decision of `check`, apart from the machine."""
    if server.reachable:
        return Advice("")
    if not server.local:
        return Advice(f"{server.name} is unreachable at {server.url}: is it running, and is the setting right?")
    if server.installed:
        return Advice(f"{server.name} is installed but does not answer at {server.url}: is it running?\n"
                      f"  start it with: {_HOW_TO_START[server.name]}")
    package = _DEBIAN_PACKAGE[server.name]
    lines = [f"{server.name} is not installed on this machine (nothing answers at {server.url})."]
    offer = machine.debian and machine.root and machine.install_setting != "0"
    if machine.debian:
        sudo = "" if machine.root else "sudo "
        lines.append(f"  install it from the distribution's packages: {sudo}apt-get install -y {package}")
        lines.append(f"  then start it with: {sudo}{_HOW_TO_START[server.name]}")
        if machine.root and not offer:
            lines.append(f"  ({INSTALL_SETTING}=1 lets `make run` do both)")
    lines.append(f"  or with Docker{'' if machine.docker else ' (not installed here)'}: {_DOCKER}")
    if offer and machine.install_setting == "1":
        return Advice("\n".join([*lines, f"  {INSTALL_SETTING}=1: installing {package} now."]), install=True)
    if offer and machine.interactive:
        return Advice("\n".join(lines), ask=True)
    if offer:
        lines.append(f"  ({INSTALL_SETTING}=1 lets `make run` install and start it without asking)")
    return Advice("\n".join(lines))


def _installed(server: str) -> bool:
    if server == "PostgreSQL":
        return bool(shutil.which("pg_ctlcluster") or shutil.which("postgres")
                    or list(Path("/usr/lib/postgresql").glob("*/bin/postgres")))
    return bool(shutil.which("rabbitmq-server") or Path("/usr/lib/rabbitmq").is_dir())


def _local(url: str) -> bool:
    return (urlsplit(url.replace("+asyncpg", "")).hostname or "localhost") in ("127.0.0.1", "localhost", "::1")


def _this_machine() -> Machine:
    return Machine(
        debian=Path("/etc/debian_version").is_file() and shutil.which("apt-get") is not None,
        root=os.geteuid() == 0,
        docker=shutil.which("docker") is not None,
        interactive=sys.stdin.isatty(),
        install_setting=os.environ.get(INSTALL_SETTING),
    )


def _install_and_start(server: str) -> bool:
    """apt-get install, then start (and for PostgreSQL, trust this machine's TCP connections)."""
    steps = [f"apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q {_DEBIAN_PACKAGE[server]}"]
    if server == "PostgreSQL":
        steps.append(_TRUST_LOCAL_TCP)
    steps.append(_HOW_TO_START[server])
    for step in steps:
        print(f"check: {step}", file=sys.stderr, flush=True)
        if subprocess.run(step, shell=True).returncode != 0:
            print(f"check: that step failed; install {server} by hand (see above).", file=sys.stderr)
            return False
    return True


def check(settings: ServiceSettings, machine: Machine | None = None, patience: float = 60.0) -> int:
    """Says what is missing and how to get it; installs and starts what the machine and its
    operator allow; 0 once both servers answer."""
    machine = machine or _this_machine()
    errors = asyncio.run(_connection_errors(settings))
    installed_now = False
    for name, error in errors.items():
        url = _server_url(settings, name)
        server = Server(name, url, error is None, _local(url), error is None or _installed(name))
        advice = advise(server, machine)
        if not advice.message:
            continue
        print(f"{advice.message}\n  ({error!r})", file=sys.stderr)
        if advice.install or (advice.ask and input(f"Install {name} from the distribution's packages and "
                                                   "start it now? [y/N] ").strip().lower() in ("y", "yes")):
            if not _install_and_start(name):
                return 1
            installed_now = True
    if all(error is None for error in errors.values()):
        return 0
    if not installed_now:
        return 1
    deadline = time.monotonic() + patience  # a server just started takes a few seconds to answer
    while unreachable := asyncio.run(unreachable_servers(settings)):
        if time.monotonic() > deadline:
            print("\n".join(unreachable), file=sys.stderr)
            return 1
        time.sleep(1)
    return 0


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
    prepare_broker(settings)


def prepare_broker(settings: ServiceSettings) -> None:
    """The services' broker users (passwords: `<SERVICE>_AMQP_PASSWORD`, else the development ones)
    on a broker of this machine, with rabbitmqctl. A broker elsewhere loads them from its
    definitions (deploy/rabbitmq/); one on this machine without rabbitmqctl is said to need them."""
    if not _local(settings.amqp_url):
        return
    if not shutil.which("rabbitmqctl"):
        print("prepare: no rabbitmqctl here to create the services' broker users: the broker must load "
              "deploy/rabbitmq/definitions.json (compose's does)", file=sys.stderr)
        return
    create_users(amqp_vhost(settings.amqp_url), passwords_from(dict(os.environ)), settings.events_exchange)


def amqp_vhost(amqp_url: str) -> str:
    return unquote(urlsplit(amqp_url).path[1:]) or "/"


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
        return check(settings)
    if argv[:1] == ["prepare"]:
        asyncio.run(prepare(settings))
        print("databases ready: " + ", ".join(f"{settings.database_prefix}_{s}" for s in SERVICES_WITH_DATABASE)
              + f"; broker users: {', '.join(BUS_SERVICES)}")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
