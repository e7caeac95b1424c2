"""The idempotent inbox consumer: once per event, poison to the dead-letter queue, never stuck."""

import asyncio
import contextlib
import shutil
import subprocess
import uuid

import aio_pika
import aiormq
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import async_sessionmaker

from shared.bus import underlay
from shared.bus.consumer import BatchHandler, EventConsumer
from shared.bus.topology import CONSUMERS
from shared.db import UnitOfWork, create_engine
from shared.events.envelope import Envelope
from shared.testing import eventually
from tests.conftest import WidgetCounted

# A consumer whose handler is NOT idempotent by itself (it appends a row per call): only the inbox
# keeps a redelivered event from counting twice. It listens on the notify queue, bound to every event.
CONSUMER = "notify"
POISON = "tests.poison.raised"


class HandlerFailed(Exception):
    pass


async def append_handled_row(uow: UnitOfWork, envelope: Envelope) -> None:
    await uow.session.execute(sa.text("INSERT INTO test_handled (event_id) VALUES (:id)"), {"id": envelope.event_id})


async def always_fail(uow: UnitOfWork, envelope: Envelope) -> None:
    raise HandlerFailed("this handler never succeeds")


@pytest.fixture
async def counting_consumer(infrastructure):
    engine = create_engine(infrastructure.database_url(CONSUMER))
    async with engine.begin() as conn:
        await conn.execute(sa.text("CREATE TABLE IF NOT EXISTS test_handled (event_id uuid NOT NULL)"))
    settings = infrastructure.settings(service_name=CONSUMER)
    consumer = EventConsumer(
        service=CONSUMER,
        session_factory=async_sessionmaker(engine, expire_on_commit=False),
        handlers={WidgetCounted.routing_key: append_handled_row, POISON: always_fail},
        amqp_url=settings.amqp_url,
        exchange_name=settings.events_exchange,
        trusted_publishers=settings.bus_trusted_publishers,
        accept_unstamped=settings.bus_accept_unstamped,
    )
    task = asyncio.create_task(consumer.run())

    async def times_handled(event_id: uuid.UUID) -> int:
        async with engine.connect() as conn:
            rows = await conn.execute(sa.text("SELECT count(*) FROM test_handled WHERE event_id = :id"), {"id": event_id})
            return rows.scalar_one()

    times_handled.consumer = consumer
    yield times_handled
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await engine.dispose()


def envelope_of(event=None, event_type: str | None = None) -> Envelope:
    envelope = Envelope.wrap(event or WidgetCounted(widget="w", count=1), producer="tests", visible_to=[uuid.uuid4()])
    return envelope.model_copy(update={"type": event_type}) if event_type else envelope


async def publish(broker, envelope: Envelope | None = None, body: bytes | None = None, routing_key: str | None = None):
    exchange = await broker.get_exchange("licensing.events")
    message = aio_pika.Message(body if body is not None else envelope.model_dump_json().encode())
    await exchange.publish(message, routing_key=routing_key or envelope.type)


async def test_the_same_event_delivered_twice_is_handled_and_stored_once(broker, counting_consumer, audit_service):
    envelope = envelope_of()
    await publish(broker, envelope)
    await publish(broker, envelope)
    await eventually(lambda: _equals(counting_consumer(envelope.event_id), 1))
    await eventually(lambda: _equals(audit_service.count([envelope.event_id]), 1))
    await _settle_then(lambda: _equals(counting_consumer(envelope.event_id), 1))


async def test_ten_concurrent_deliveries_of_one_event_count_once(broker, counting_consumer, audit_service):
    envelope = envelope_of()
    await asyncio.gather(*(publish(broker, envelope) for _ in range(10)))
    await eventually(lambda: _equals(counting_consumer(envelope.event_id), 1))
    await eventually(lambda: _equals(audit_service.count([envelope.event_id]), 1))
    await _settle_then(lambda: _equals(counting_consumer(envelope.event_id), 1))


async def test_poison_messages_go_to_the_dead_letter_queue_and_consumption_goes_on(broker, counting_consumer):
    garbage_id, poison = str(uuid.uuid4()), envelope_of(event_type=POISON)
    exchange = await broker.get_exchange("licensing.events")
    await exchange.publish(aio_pika.Message(b"{not json", message_id=garbage_id), routing_key="tests.garbage.sent")
    await publish(broker, poison)
    after = envelope_of()
    await publish(broker, after)

    await eventually(lambda: _equals(counting_consumer(after.event_id), 1))
    dead_letter_queue = await broker.get_queue(CONSUMERS[CONSUMER].dead_letter_name)
    dead = await eventually(lambda: _dead_letters_include(dead_letter_queue, {garbage_id, str(poison.event_id)}))
    assert dead == {garbage_id, str(poison.event_id)}
    # the consumer is still alive and handling new events
    later = envelope_of()
    await publish(broker, later)
    await eventually(lambda: _equals(counting_consumer(later.event_id), 1))


async def test_a_batch_is_handled_in_the_order_its_events_came(broker, infrastructure):
    """A batch handler takes each run of consecutive events of its kind at once, never one that
    came after an event handled one by one: the batch means what the events would one by one."""
    calls: list[tuple[str, list[uuid.UUID]]] = []

    async def one_by_one(uow: UnitOfWork, envelope: Envelope) -> None:
        calls.append(("one", [envelope.event_id]))

    async def batched(uow: UnitOfWork, envelopes: list[Envelope]) -> None:
        calls.append(("batch", [e.event_id for e in envelopes]))

    engine = create_engine(infrastructure.database_url(CONSUMER))
    settings = infrastructure.settings(service_name=CONSUMER)
    consumer = EventConsumer(
        service=CONSUMER, session_factory=async_sessionmaker(engine, expire_on_commit=False),
        handlers={WidgetCounted.routing_key: one_by_one, "tests.widget.batched": BatchHandler(batched)},
        amqp_url=settings.amqp_url, exchange_name=settings.events_exchange,
        trusted_publishers=settings.bus_trusted_publishers, accept_unstamped=settings.bus_accept_unstamped)
    first, second, single, last = (envelope_of(event_type="tests.widget.batched"),
                                   envelope_of(event_type="tests.widget.batched"), envelope_of(),
                                   envelope_of(event_type="tests.widget.batched"))
    for envelope in (first, second, single, last):
        await publish(broker, envelope)
    # Taken from the consumer's own queue as it would receive them (the consumer itself is not running).
    queue, messages = await broker.get_queue(CONSUMERS[CONSUMER].name), []
    beneath = await underlay.underlay(broker)
    ours = {e.event_id for e in (first, second, single, last)}
    async with asyncio.timeout(10):
        while ours - {Envelope.model_validate_json(m.body).event_id for m in messages}:
            message = await beneath.basic_get(queue.name, no_ack=False)
            if isinstance(message.delivery, aiormq.spec.Basic.GetEmpty):
                await asyncio.sleep(0.05)
            else:
                messages.append(message)
    try:
        await consumer.handle_batch(messages)
    finally:
        await engine.dispose()

    assert [(kind, ids) for kind, ids in calls if set(ids) <= ours] == [
        ("batch", [first.event_id, second.event_id]),
        ("one", [single.event_id]),
        ("batch", [last.event_id]),
    ]
    assert await queue.get(no_ack=False, fail=False) is None  # all of them acknowledged, none handed back


_seen_dead: set[str] = set()


async def _dead_letters_include(queue, wanted: set[str]) -> set[str] | None:
    while (message := await queue.get(no_ack=False, fail=False)) is not None:
        identity = message.message_id
        with contextlib.suppress(ValueError):
            identity = str(Envelope.model_validate_json(message.body).event_id)
        _seen_dead.add(identity)
        await message.ack()
    found = wanted & _seen_dead
    return found if found == wanted else None


async def _equals(awaitable, expected) -> bool:
    return (await awaitable) == expected


async def _settle_then(check) -> None:
    """After the first success, give redeliveries time to arrive, then check nothing changed."""
    await asyncio.sleep(0.5)
    assert await check()


def _consumer_connections(vhost: str) -> list[str]:
    """The broker's pids of the consumer's connections in `vhost` (named by shared.bus.consumer)."""
    listed = subprocess.run(["rabbitmqctl", "-q", "--no-table-headers", "list_connections", "pid", "vhost",
                             "client_properties"], check=True, capture_output=True, text=True, timeout=60)
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    return [pid for pid, in_vhost, properties in rows
            if in_vhost == vhost and f'{{"connection_name","{CONSUMER}-consumer"}}' in properties]


async def test_a_consumer_whose_channel_the_broker_closes_consumes_again(broker, counting_consumer):
    """The consumer consumes beneath aio-pika (shared.bus.underlay): when aio-pika reopens the
    channel, the consumer must start again on it."""

    async def close_the_channel() -> None:
        with pytest.raises(aio_pika.exceptions.ChannelNotFoundEntity):  # the broker closes the channel (404)
            await counting_consumer.consumer.channel.declare_queue(f"no such queue {uuid.uuid4()}", passive=True)

    await _consumes_again_after(close_the_channel, broker, counting_consumer)


async def _consumes_again_after(outage, broker, counting_consumer) -> None:
    before = envelope_of()
    await publish(broker, before)
    await eventually(lambda: counting_consumer(before.event_id), timeout=30)
    await outage()
    after = envelope_of()
    await publish(broker, after)
    assert await eventually(lambda: counting_consumer(after.event_id), timeout=30) == 1
    assert await counting_consumer(before.event_id) == 1


@pytest.mark.skipif(not shutil.which("rabbitmqctl"), reason="needs the local broker to close a connection")
async def test_a_consumer_whose_connection_the_broker_closes_consumes_again(broker, counting_consumer, infrastructure):
    """As above, after aio-pika reconnects."""

    async def close_the_connection() -> None:
        [pid] = await eventually(lambda: asyncio.to_thread(_consumer_connections, infrastructure.vhost), timeout=30)
        await asyncio.to_thread(subprocess.run, ["rabbitmqctl", "-q", "close_connection", pid, "closed by the test"],
                                check=True, capture_output=True, timeout=60)

    await _consumes_again_after(close_the_connection, broker, counting_consumer)
    assert len(await eventually(lambda: asyncio.to_thread(_consumer_connections, infrastructure.vhost), timeout=30)) == 1
