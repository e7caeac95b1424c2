"""Batching under load (shared.bus.linger): a relay or consumer that is behind waits a moment so that
the events coming meanwhile share its next batch; one that is on time never waits."""

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import async_sessionmaker

from shared.bus.consumer import BatchHandler, EventConsumer
from shared.bus.linger import Linger
from shared.db import create_engine
from shared.testing import eventually
from tests.shared.bus.test_inbox import envelope_of, publish
from tests.conftest import relaying

CONSUMER = "notify"  # its queue is bound to every event
LINGERED_TYPE = "tests.widget.lingered"


def lingered(service: str, worker: str) -> float:
    return REGISTRY.get_sample_value("bus_batches_lingered_total", {"service": service, "worker": worker}) or 0.0


async def test_a_worker_waits_only_while_behind_and_its_own_wait_never_keeps_it_behind():
    linger = Linger("tests-linger", "consumer", seconds=0.01, behind_after=0.05)

    linger.batch_taken(0.001)  # on time
    await linger.before_batch()
    assert lingered("tests-linger", "consumer") == 0

    linger.batch_taken(0.2)  # late
    await linger.before_batch()
    assert lingered("tests-linger", "consumer") == 1

    # 0.055 s old, of which 0.01 s was its own wait: on time again, so the next batch goes at once.
    linger.batch_taken(0.055)
    await linger.before_batch()
    assert lingered("tests-linger", "consumer") == 1

    never = Linger("tests-linger", "relay", seconds=0, behind_after=0.05)
    never.batch_taken(10.0)
    await never.before_batch()
    assert lingered("tests-linger", "relay") == 0


async def test_late_events_share_the_consumers_next_batch_and_events_on_time_go_at_once(broker, infrastructure):
    batches: list[list[uuid.UUID]] = []

    async def record_batch(uow, envelopes) -> None:
        batches.append([envelope.event_id for envelope in envelopes])

    def handled(*envelopes):
        async def check() -> bool:
            return all(any(envelope.event_id in batch for batch in batches) for envelope in envelopes)
        return check

    engine = create_engine(infrastructure.database_url(CONSUMER))
    settings = infrastructure.settings(service_name=CONSUMER)
    consumer = EventConsumer(
        service=CONSUMER, session_factory=async_sessionmaker(engine, expire_on_commit=False),
        handlers={LINGERED_TYPE: BatchHandler(record_batch)},
        amqp_url=settings.amqp_url, exchange_name=settings.events_exchange, linger=1.0, behind_after=2.0,
        trusted_publishers=settings.bus_trusted_publishers, accept_unstamped=settings.bus_accept_unstamped)
    task = asyncio.create_task(consumer.run())
    try:
        # Whatever earlier tests left in the queue is handled first, and may leave the consumer
        # behind for one batch: two events, one after the other, bring it to the present.
        for _ in range(2):
            settling = envelope_of(event_type=LINGERED_TYPE)
            await publish(broker, settling)
            await eventually(handled(settling), timeout=30)
        waits_before = lingered(CONSUMER, "consumer")
        for _ in range(3):  # one at a time, each handled before the next is sent
            on_time = envelope_of(event_type=LINGERED_TYPE)
            await publish(broker, on_time)
            await eventually(handled(on_time))
        assert lingered(CONSUMER, "consumer") == waits_before

        written_long_ago = datetime.now(UTC) - timedelta(seconds=10)
        late = [envelope_of(event_type=LINGERED_TYPE).model_copy(update={"occurred_at": written_long_ago})
                for _ in range(4)]
        await publish(broker, late[0])
        await eventually(handled(late[0]))
        for envelope in late[1:]:  # each comes within the second the consumer now waits
            await publish(broker, envelope)
        await eventually(handled(*late))
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await engine.dispose()

    assert [batch for batch in batches if late[1].event_id in batch] == [[e.event_id for e in late[1:]]]
    assert lingered(CONSUMER, "consumer") == waits_before + 1


async def test_a_relay_behind_publishes_the_commits_of_its_wait_in_one_batch(producer, audit_service):
    async with relaying(producer.relay(linger=1.0, behind_after=0.5)):
        # Rows earlier tests left unpublished go first, and may leave the relay behind for one
        # batch: two commits, one after the other, bring it to the present.
        for _ in range(2):
            settling = await producer.emit(1)
            await eventually(lambda: producer.published(settling), timeout=30)
        waits_before = lingered(producer.service, "relay")
        on_time = await producer.emit(1)
        await eventually(lambda: producer.published(on_time))
        assert lingered(producer.service, "relay") == waits_before

    old = await producer.emit(1)
    await asyncio.sleep(0.6)  # older than behind_after when the relay starts and takes it
    async with relaying(producer.relay(linger=1.0, behind_after=0.5)):
        await eventually(lambda: producer.published(old))
        during_the_wait = [event_id for _ in range(3) for event_id in await producer.emit(1)]  # three commits
        await eventually(lambda: producer.published(during_the_wait))

    async with producer.engine.connect() as conn:
        published_at = (await conn.execute(sa.text(
            "SELECT DISTINCT published_at FROM outbox WHERE event_id = ANY(:ids)"), {"ids": during_the_wait})).all()
    assert len(published_at) == 1, "the three commits went out in one batch (one claim, one published_at)"
    assert lingered(producer.service, "relay") == waits_before + 1
