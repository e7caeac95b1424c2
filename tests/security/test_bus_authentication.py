"""Issue 20, item 11: the bus is authenticated. Each service publishes as its own broker user, which
the broker lets publish only its own routing keys; a consumer takes an event only from the service
that owns its type, as the broker validated the publisher (the message's `user_id`); audit records
that publisher.

The attacks: a service's user publishing another service's key (`transfers.transfer.requested`,
which moves licenses), and an event of another service's type put on a consumer's queue by a user
the broker lets publish anything (here the tests' administrator), with that user's id or none.
"""

import uuid

import aio_pika
import aiormq
import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import async_sessionmaker

from audit.main import create_app as create_audit_app
from audit.settings import AuditSettings
from shared.bus import underlay
from shared.bus.connection import connect
from shared.bus.relay import OutboxRelay
from shared.bus.topology import CONSUMERS
from shared.db import UnitOfWork, create_engine
from shared.events.envelope import Envelope
from shared.events.transfers import TransferRequested
from shared.settings import development_bus_password, with_credentials
from shared.testing import TEST_PUBLISHER, eventually, running
from tests.conftest import relaying

EXCHANGE = "licensing.events"


def transfer_requested() -> TransferRequested:
    return TransferRequested(transfer_id=uuid.uuid4(), from_org_id=uuid.uuid4(), to_org_id=uuid.uuid4(),
                             entitlement_id="ENT-FORGED", product_id=uuid.uuid4(), quantity=5)


def as_service(infrastructure, service: str) -> str:
    return with_credentials(infrastructure.amqp_url, service, development_bus_password(service))


async def publish(amqp_url: str, envelope: Envelope, *, user_id: str | None, routing_key: str | None = None) -> None:
    """Publishes on a confirming channel as `amqp_url`'s user; the broker's refusal raises."""
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(EXCHANGE, ensure=False)
        message = aio_pika.Message(envelope.model_dump_json().encode(), message_id=str(envelope.event_id),
                                   user_id=user_id)
        await exchange.publish(message, routing_key=routing_key or envelope.type)
    finally:
        await connection.close()


@pytest.fixture
async def watched_transfer_requests(infrastructure):
    """A queue of the tests' own, bound as entitlements' is to transfer requests: what reached it."""
    connection = await connect(infrastructure.amqp_url, "bus authentication watcher")
    channel = await connection.channel()
    queue = await channel.declare_queue(f"test.watch.{uuid.uuid4().hex[:8]}", exclusive=True)
    await queue.bind(EXCHANGE, routing_key=TransferRequested.routing_key)

    async def reached(event_id: uuid.UUID) -> bool:
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            if message.message_id == str(event_id):
                return True
        return False

    yield reached
    await connection.close()


@pytest.fixture
async def strict_audit(infrastructure):
    """The real audit service, trusting no test producer: only the services' own users."""
    settings = infrastructure.settings(AuditSettings, bus_trusted_publishers=(), bus_accept_unstamped=False)
    app = create_audit_app(settings)
    async with running(app):
        yield app.state.engine


def refused(service: str, owner: str, publisher: str) -> float:
    labels = {"service": service, "owner": owner, "publisher": publisher}
    return REGISTRY.get_sample_value("events_refused_total", labels) or 0.0


async def stored(engine, event_id: uuid.UUID) -> dict | None:
    async with engine.connect() as conn:
        row = (await conn.execute(sa.text("SELECT producer, published_by FROM audit_events WHERE event_id = :id"),
                                  {"id": event_id})).mappings().first()
    return dict(row) if row else None


async def dead_lettered(infrastructure, queue_name: str, event_ids: set[str]) -> set[str]:
    """Which of `event_ids` are in `queue_name` (taken out: other tests share the queue)."""
    connection = await connect(infrastructure.amqp_url, "dead-letter reader")
    try:
        channel = await underlay.underlay(await connection.channel())
        found = set()
        while True:
            message = await channel.basic_get(queue_name, no_ack=False)
            if isinstance(message.delivery, aiormq.spec.Basic.GetEmpty):
                return found
            if underlay.message_id(message) in event_ids:
                found.add(underlay.message_id(message))
                await underlay.ack(message)
            else:
                await underlay.requeue(message)
                if found == event_ids:
                    return found
    finally:
        await connection.close()


async def test_a_service_cannot_publish_another_services_routing_key(infrastructure, watched_transfer_requests):
    forged = Envelope.wrap(transfer_requested(), producer="transfers")
    with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
        await publish(as_service(infrastructure, "orgs"), forged, user_id="orgs")

    # Nor can it claim to be the owner: the broker checks user_id against the connection's user.
    with pytest.raises(aiormq.exceptions.ChannelPreconditionFailed):
        await publish(as_service(infrastructure, "orgs"), forged, user_id="transfers",
                      routing_key="orgs.integrator.created")

    # The owner's user publishes it, and it arrives; the forged one never did.
    genuine = Envelope.wrap(transfer_requested(), producer="transfers")
    await publish(as_service(infrastructure, "transfers"), genuine, user_id="transfers")
    await eventually(lambda: watched_transfer_requests(genuine.event_id))
    assert not await watched_transfer_requests(forged.event_id)


async def test_a_service_cannot_read_or_remove_another_services_queue(infrastructure):
    connection = await aio_pika.connect(as_service(infrastructure, "orgs"))
    try:
        channel = await underlay.underlay(await connection.channel())
        with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
            await channel.basic_get(CONSUMERS["entitlements"].name)
    finally:
        await connection.close()


async def test_events_of_a_type_their_publisher_does_not_own_are_dead_lettered_not_recorded(
        infrastructure, strict_audit):
    stamped = Envelope.wrap(transfer_requested(), producer="transfers")
    unstamped = Envelope.wrap(transfer_requested(), producer="transfers")
    refused_before = {publisher: refused("audit", "transfers", publisher) for publisher in (TEST_PUBLISHER, "")}
    # The tests' administrator may publish anything: the broker routes these to every consumer.
    await publish(infrastructure.amqp_url, stamped, user_id=TEST_PUBLISHER)
    await publish(infrastructure.amqp_url, unstamped, user_id=None)

    # A legitimate event, through the real outbox relay of the owning service, after the forged ones.
    engine = create_engine(infrastructure.database_url("transfers"))
    try:
        async with UnitOfWork(async_sessionmaker(engine, expire_on_commit=False), producer="transfers") as uow:
            genuine = uow.record(transfer_requested(), visible_to=[uuid.uuid4()])
            await uow.commit()
        settings = infrastructure.settings(service_name="transfers")
        relay = OutboxRelay(service="transfers", engine=engine, amqp_url=settings.amqp_url,
                            exchange_name=settings.events_exchange, poll_interval=0.1)
        async with relaying(relay):
            # The consumer kept running: the genuine event is recorded, with the service the broker authenticated.
            assert await eventually(lambda: stored(strict_audit, genuine.event_id)) == {
                "producer": "transfers", "published_by": "transfers"}
    finally:
        await engine.dispose()
    forged_ids = {str(stamped.event_id), str(unstamped.event_id)}
    assert await eventually(lambda: dead_lettered(infrastructure, CONSUMERS["audit"].dead_letter_name, forged_ids))
    assert await stored(strict_audit, stamped.event_id) is None
    assert await stored(strict_audit, unstamped.event_id) is None
    # Operators see it: events_refused_total, per claimed owner and actual publisher.
    assert {p: refused("audit", "transfers", p) - before for p, before in refused_before.items()} == {
        TEST_PUBLISHER: 1, "": 1}


async def test_an_event_whose_routing_key_differs_from_its_type_is_refused(infrastructure, strict_audit):
    """The broker checks the routing key; the consumer acts on the type: they must agree."""
    smuggled = Envelope.wrap(transfer_requested(), producer="transfers")
    await publish(as_service(infrastructure, "orgs"), smuggled, user_id="orgs", routing_key="orgs.integrator.created")
    assert await eventually(lambda: dead_lettered(infrastructure, CONSUMERS["audit"].dead_letter_name,
                                                  {str(smuggled.event_id)}))
    assert await stored(strict_audit, smuggled.event_id) is None
