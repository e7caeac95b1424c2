"""pytest plugin (loaded with `-p shared.testing`): a real PostgreSQL and RabbitMQ for the tests.

It uses the servers on this machine when they answer (BRIEF section 7), in isolation: databases
named `test_<run>_<service>` and a virtual host of the run's own, all removed at the end. Where
they do not answer and Docker does, it starts them with testcontainers.

The services connect as their own broker users (shared.bus.authorisation), created for the run's
virtual host with its topology; `guest` is the tests' own producer and administrator, and the
services' consumers accept its events (`bus_trusted_publishers`, `bus_accept_unstamped`), which a
test of the bus's authentication turns off.
"""

import asyncio
import contextlib
import json
import os
import time
import shutil
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
import uvicorn

from shared.bus.authorisation import create_users
from shared.devtools import SERVICES_WITH_DATABASE, ensure_database, migrate, unreachable_servers
from shared.settings import ServiceSettings

LOCAL_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432"
LOCAL_AMQP = "amqp://guest:guest@127.0.0.1:5672/"
TEST_PUBLISHER = "guest"  # the broker user of the tests' own producers


@dataclass(frozen=True)
class TestInfrastructure:
    postgres_dsn: str  # server, without a database
    amqp_url: str  # the run's own virtual host
    database_prefix: str
    vhost: str

    def database_url(self, service: str) -> str:
        return f"{self.postgres_dsn}/{self.database_prefix}_{service}"

    def settings(self, settings_class: type[ServiceSettings] = ServiceSettings, **overrides) -> ServiceSettings:
        service = overrides.pop("service_name", None) or settings_class.model_fields["service_name"].default
        values = {
            "service_name": service,
            "postgres_dsn": self.postgres_dsn,
            "database_url": self.database_url(service),
            "amqp_url": self.amqp_url,
            "identity_url": "http://127.0.0.1:1",  # tests that verify tokens set their own
            "outbox_poll_interval": 0.2,
            "bus_trusted_publishers": (TEST_PUBLISHER,),
            "bus_accept_unstamped": True,
        }
        values.update(overrides)
        return settings_class.model_validate(values)

    def environment(self) -> dict[str, str]:
        """Environment variables for a service started as a process in a test."""
        return {"POSTGRES_DSN": self.postgres_dsn, "AMQP_URL": self.amqp_url, "DATABASE_PREFIX": self.database_prefix,
                "BUS_TRUSTED_PUBLISHERS": json.dumps([TEST_PUBLISHER]), "BUS_ACCEPT_UNSTAMPED": "true"}


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@contextlib.contextmanager
def _own_vhost(base_amqp_url: str):
    vhost = f"licensing-test-{uuid.uuid4().hex[:8]}"
    _rabbitmqctl("add_vhost", vhost)
    _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    try:
        create_users(vhost)
        yield vhost, f"{base_amqp_url.rstrip('/')}/{vhost}"
    finally:
        _rabbitmqctl("delete_vhost", vhost)


@contextlib.contextmanager
def _servers():
    """(postgres dsn, amqp url, vhost): local servers, else testcontainers."""
    local = ServiceSettings(postgres_dsn=LOCAL_POSTGRES, amqp_url=LOCAL_AMQP)
    problems = asyncio.run(unreachable_servers(local))
    if not problems and shutil.which("rabbitmqctl"):
        with _own_vhost(LOCAL_AMQP) as (vhost, amqp_url):
            yield LOCAL_POSTGRES, amqp_url, vhost
        return
    if not shutil.which("docker") or subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        pytest.exit("No PostgreSQL/RabbitMQ here and no Docker engine: " + "; ".join(problems), returncode=3)
    from testcontainers.postgres import PostgresContainer
    from testcontainers.rabbitmq import RabbitMqContainer

    with PostgresContainer("postgres:16", driver="asyncpg") as pg, RabbitMqContainer("rabbitmq:3.13") as mq:
        dsn = f"postgresql+asyncpg://{pg.username}:{pg.password}@{pg.get_container_host_ip()}:{pg.get_exposed_port(5432)}"
        amqp = f"amqp://guest:guest@{mq.get_container_host_ip()}:{mq.get_exposed_port(5672)}/"
        create_users("/", rabbitmqctl=("docker", "exec", "-i", mq.get_wrapped_container().id, "rabbitmqctl"))
        yield dsn, amqp, "/"


@pytest.fixture
def spans():
    """The spans finished during the test, kept in memory. Added to the process's tracer provider
    (set up by the first app), so spans are recorded from here on (shared.tracing)."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()  # it stays attached to the provider, but keeps nothing more


@pytest.fixture(scope="session")
def infrastructure() -> TestInfrastructure:
    prefix = f"test_{uuid.uuid4().hex[:8]}"
    with _servers() as (postgres_dsn, amqp_url, vhost):
        infra = TestInfrastructure(postgres_dsn, amqp_url, prefix, vhost)
        asyncio.run(_create_databases(infra))
        try:
            yield infra
        finally:
            asyncio.run(_drop_databases(infra))


@contextlib.asynccontextmanager
async def isolated_infrastructure(infra: TestInfrastructure) -> AsyncIterator[TestInfrastructure]:
    """A second, empty set of databases and its own vhost, on the same servers: for a test that
    needs a first start (the vendor and its admin created from nothing) and no other test's events."""
    if infra.vhost == "/":  # testcontainers' broker: no rabbitmqctl here, share its vhost
        vhost_context = contextlib.nullcontext(("/", infra.amqp_url))
    else:
        vhost_context = _own_vhost(LOCAL_AMQP)
    with vhost_context as (vhost, amqp_url):
        isolated = TestInfrastructure(infra.postgres_dsn, amqp_url, f"test_{uuid.uuid4().hex[:8]}", vhost)
        await _create_databases(isolated)
        try:
            yield isolated
        finally:
            await _drop_databases(isolated)


async def _create_databases(infra: TestInfrastructure) -> None:
    settings = ServiceSettings(postgres_dsn=infra.postgres_dsn)
    for service in SERVICES_WITH_DATABASE:
        await ensure_database(settings, f"{infra.database_prefix}_{service}")
    # Alembic runs its own event loop, so it runs in a thread; its global context allows one at a time.
    for service in SERVICES_WITH_DATABASE:
        await asyncio.to_thread(migrate, service, infra.database_url(service))


async def _drop_databases(infra: TestInfrastructure) -> None:
    connection = await asyncpg.connect(f"{infra.postgres_dsn.replace('+asyncpg', '')}/postgres")
    try:
        for service in SERVICES_WITH_DATABASE:
            await connection.execute(f'DROP DATABASE IF EXISTS "{infra.database_prefix}_{service}" WITH (FORCE)')
    finally:
        await connection.close()


@contextlib.asynccontextmanager
async def running(app) -> AsyncIterator[object]:
    """Runs an app's lifespan (relay, consumers) for the duration of the block.

    When the block ends, every background worker the app started has ended too: the service's own
    shutdown gives up on a stuck worker after 5 s (the process exits anyway), but here the whole
    session shares one event loop, and a worker left running would go on working in later tests (a
    mail sender of another test's settings taking their mail). Such a worker fails the test here."""
    try:
        async with app.router.lifespan_context(app):
            yield app
    finally:
        left = [task for task in app.state.background_tasks if not task.done()]
        if left:  # stopped here (cancelled again, awaited), not in some later test
            for task in left:
                task.cancel()
            await asyncio.wait(left, timeout=5)
    if left:
        raise AssertionError(f"background workers still running after the app stopped: {[t.get_name() for t in left]}")


@contextlib.asynccontextmanager
async def serving(app, lifespan: str = "off") -> AsyncIterator[str]:
    """Serves an ASGI app on a free 127.0.0.1 port in this event loop; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan=lifespan, log_level="warning", timeout_graceful_shutdown=1,
                                          timeout_keep_alive=75))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()  # startup failed: raise its error here
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


async def eventually(check, timeout: float = 15.0, interval: float = 0.05):
    """Polls an async check until it returns a truthy value; fails with the last value seen."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value or asyncio.get_running_loop().time() > deadline:
            assert value, f"condition not met within {timeout}s (last value: {value!r})"
            return value
        await asyncio.sleep(interval)


# Access tokens as the identity service signs them (RS256, published as JWKS).
KEY_ID = "test-key-1"


@pytest.fixture(scope="session")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def jwks(signing_key) -> dict:
    public = jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key(), as_dict=True)
    return {"keys": [{**public, "kid": KEY_ID, "use": "sig", "alg": "RS256"}]}


@pytest.fixture(scope="session")
def issue_token(signing_key):
    """Signs an access token as identity would; keyword arguments replace claims."""

    def issue(key=None, **claims) -> str:
        now = int(time.time())
        payload = {
            "sub": str(uuid.uuid4()),
            "org": str(uuid.uuid4()),
            "tier": "distributor",
            "role": "admin",
            "aud": "licensing",
            "iss": "licensing-identity",
            "iat": now,
            "exp": now + 300,
            **claims,
        }
        return jwt.encode(payload, key or signing_key, algorithm="RS256", headers={"kid": KEY_ID})

    return issue


@pytest.fixture(scope="session")
async def identity_keys_url(jwks) -> AsyncIterator[str]:
    """A real HTTP endpoint publishing the test signing keys, as identity does; its base URL."""
    from fastapi import FastAPI

    keys = FastAPI()
    keys.get("/.well-known/jwks.json")(lambda: jwks)
    async with serving(keys) as url:
        yield url


os.environ.setdefault("LOG_LEVEL", "WARNING")
