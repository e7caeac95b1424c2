"""Fixtures for the cross-service tests: the audit service running in-process on the test
infrastructure, a producer that writes events through a real outbox, and broker helpers."""

import asyncio
import contextlib
import uuid

import aio_pika
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import async_sessionmaker

from audit.main import create_app as create_audit_app
from audit.settings import AuditSettings
from shared.bus.relay import OutboxRelay
from shared.bus.topology import declare_topology
from shared.db import UnitOfWork, create_engine
from shared.events.envelope import EventPayload
from shared.testing import running


class WidgetCounted(EventPayload):
    """A test-only event: stands for any state change a service records."""

    routing_key = "tests.widget.counted"

    widget: str
    count: int


class EntitlementsWidgetCounted(WidgetCounted):
    """The same, under a routing key of the entitlements service: what its own relay, connected as
    its own broker user, may publish."""

    routing_key = "entitlements.widget.counted"


class Producer:
    """A service's write side on its real database: state change plus event, in one transaction."""

    def __init__(self, infrastructure, service: str = "entitlements"):
        self.infrastructure = infrastructure
        self.service = service
        self.engine = create_engine(infrastructure.database_url(service))
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.sessions, producer=self.service)

    async def emit(self, count: int = 1, org_id: uuid.UUID | None = None,
                   event: type[WidgetCounted] = WidgetCounted) -> list[uuid.UUID]:
        org_id = org_id or uuid.uuid4()
        async with self.unit_of_work() as uow:
            ids = [
                uow.record(event(widget="w", count=i), visible_to=[org_id], actor_org_id=org_id).event_id
                for i in range(count)
            ]
            await uow.commit()
        return ids

    def relay(self, **overrides) -> OutboxRelay:
        settings = self.infrastructure.settings(service_name=self.service)
        return OutboxRelay(
            service=self.service,
            engine=self.engine,
            # Its `tests.` events are no service's: it publishes as the tests' own producer.
            amqp_url=self.infrastructure.amqp_url,
            exchange_name=settings.events_exchange,
            **({"poll_interval": 0.1} | overrides),
        )

    async def published(self, event_ids) -> bool:
        """Every one of these events is out (for `eventually`)."""
        return await self.unpublished(event_ids) == 0

    async def unpublished(self, event_ids) -> int:
        async with self.engine.connect() as conn:
            return (
                await conn.execute(
                    sa.text("SELECT count(*) FROM outbox WHERE published_at IS NULL AND event_id = ANY(:ids)"),
                    {"ids": list(event_ids)},
                )
            ).scalar_one()


@contextlib.asynccontextmanager
async def relaying(relay: OutboxRelay):
    task = asyncio.create_task(relay.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
async def producer(infrastructure):
    producer = Producer(infrastructure)
    yield producer
    await producer.engine.dispose()


class AuditStore:
    def __init__(self, engine):
        self.engine = engine

    async def count(self, event_ids) -> int:
        async with self.engine.connect() as conn:
            return (
                await conn.execute(
                    sa.text("SELECT count(*) FROM audit_events WHERE event_id = ANY(:ids)"), {"ids": list(event_ids)}
                )
            ).scalar_one()


@pytest.fixture
async def audit_service(infrastructure):
    """The real audit service (consumer, inbox, tables) running for the test."""
    app = create_audit_app(infrastructure.settings(AuditSettings, trace_sql=True))  # test_tracing reads its SQL spans
    async with running(app):
        yield AuditStore(app.state.engine)


@pytest.fixture
async def broker(infrastructure):
    connection = await aio_pika.connect(infrastructure.amqp_url)
    channel = await connection.channel()
    settings = infrastructure.settings()
    await declare_topology(channel, settings.events_exchange)
    yield channel
    await connection.close()
