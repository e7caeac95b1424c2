"""The transactional outbox: what commits is published, what rolls back is not, once per row."""

import asyncio
import collections
import json
import secrets
import uuid
from datetime import UTC, datetime

import aio_pika
import sqlalchemy as sa

from shared.bus import relay as relay_module
from shared.bus.relay import scrub_published_secrets
from shared.events.envelope import Envelope
from shared.events.identity import InviteCreated
from shared.events.secrets import EventSecrets
from shared.testing import eventually
from tests.conftest import WidgetCounted, relaying


async def test_an_event_committed_while_no_relay_runs_is_published_when_one_starts(producer, audit_service):
    # The relay "died" between the commit and the publish: the row waits in the outbox.
    event_ids = await producer.emit(3)
    await asyncio.sleep(0.3)
    assert await producer.unpublished(event_ids) == 3

    async with relaying(producer.relay()):
        await eventually(lambda: _all_stored(audit_service, event_ids))
    assert await producer.unpublished(event_ids) == 0


async def test_a_state_change_that_rolls_back_publishes_nothing(producer, audit_service):
    async with producer.unit_of_work() as uow:
        rolled_back = uow.record(WidgetCounted(widget="never", count=1)).event_id
        await uow.session.execute(sa.text("SELECT 1"))
        # leaving without commit: the transaction rolls back
    committed = await producer.emit(1)

    async with relaying(producer.relay()):
        await eventually(lambda: _all_stored(audit_service, committed))
    assert await audit_service.count([rolled_back]) == 0
    async with producer.engine.connect() as conn:
        rows = await conn.execute(sa.text("SELECT count(*) FROM outbox WHERE event_id = :id"), {"id": rolled_back})
        assert rows.scalar_one() == 0


async def test_two_relays_at_once_publish_each_row_once(producer, broker):
    queue = await broker.declare_queue(exclusive=True)
    exchange = await broker.get_exchange("licensing.events")
    await queue.bind(exchange, routing_key=WidgetCounted.routing_key)
    event_ids = set()
    for _ in range(10):
        event_ids.update(await producer.emit(200))

    received: collections.Counter = collections.Counter()

    async def collect(message: aio_pika.abc.AbstractIncomingMessage):
        received[Envelope.model_validate_json(message.body).event_id] += 1
        await message.ack()

    await queue.consume(collect)
    async with relaying(producer.relay(batch_size=50)), relaying(producer.relay(batch_size=50)):
        await eventually(lambda: _async(event_ids <= set(received)), timeout=30)
        await asyncio.sleep(0.5)  # anything published twice would have arrived by now
    ours = {event_id: n for event_id, n in received.items() if event_id in event_ids}
    assert len(ours) == 2000
    assert set(ours.values()) == {1}


async def _all_stored(audit_service, event_ids) -> bool:
    return await audit_service.count(event_ids) == len(event_ids)


async def _async(value):
    return value


async def test_an_invite_token_goes_out_sealed_then_leaves_the_database(producer, broker):
    """The token reaches the bus sealed (only a holder of EVENT_SECRETS_KEY, notify, opens it): neither
    the outbox row nor the message holds it in plain; the published row loses even the sealed copy
    minutes later."""
    queue = await broker.declare_queue(exclusive=True)
    await queue.bind(await broker.get_exchange("licensing.events"), routing_key=InviteCreated.routing_key)
    token, org_id = secrets.token_urlsafe(24), uuid.uuid4()
    async with producer.unit_of_work() as uow:
        event_id = uow.record(InviteCreated(invite_id=uuid.uuid4(), org_id=org_id, email="new@example.com",
                                            role="viewer", token=token, expires_at=datetime.now(UTC)),
                              visible_to=[org_id], actor_org_id=org_id).event_id
        await uow.commit()

    async def stored_body() -> str:
        async with producer.engine.connect() as conn:
            return (await conn.execute(sa.text("SELECT body::text FROM outbox WHERE event_id = :id"),
                                       {"id": event_id})).scalar_one()

    assert token not in await stored_body()
    async with relaying(producer.relay()):
        message = await eventually(lambda: queue.get(fail=False))
        # The relay marks the row published just after the broker's confirm: let it commit that.
        await eventually(lambda: producer.published([event_id]))
    assert token not in message.body.decode()
    sealed = Envelope.model_validate_json(message.body).payload["token"]
    assert EventSecrets.from_settings(producer.infrastructure.settings()).open(sealed) == token

    async with producer.engine.begin() as conn:
        await scrub_published_secrets(conn)  # published just now: kept for the minute
    assert json.loads(await stored_body())["payload"]["token"] == sealed
    async with producer.engine.begin() as conn:
        await scrub_published_secrets(conn, kept_seconds=0)
    payload = json.loads(await stored_body())["payload"]
    assert "token" not in payload and payload["email"] == "new@example.com"


async def test_a_broker_too_slow_to_confirm_gets_smaller_batches_and_every_event_still_goes_out(
        producer, audit_service, monkeypatch):
    event_ids = await producer.emit(200)
    relay = producer.relay(batch_size=100)
    monkeypatch.setattr(relay_module, "_CONFIRM_TIMEOUT", 1e-6)  # no confirm can come in time
    async with relaying(relay):
        # Each failed batch halves the next, down to the floor, and nothing is marked sent.
        await eventually(lambda: _async(relay.in_flight == relay_module.FEWEST_IN_FLIGHT), timeout=30)
        assert await producer.unpublished(event_ids) == len(event_ids)

        monkeypatch.setattr(relay_module, "_CONFIRM_TIMEOUT", 30.0)  # the broker keeps up again
        await eventually(lambda: _all_stored(audit_service, event_ids), timeout=30)
        # Good batches double it again, up to the configured size.
        await eventually(lambda: _async(relay.in_flight == 100), timeout=10)
    assert await producer.unpublished(event_ids) == 0
    assert await audit_service.count(event_ids) == len(event_ids)  # copies sent meanwhile were dropped
