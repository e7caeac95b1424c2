"""The AMQP calls beneath aio-pika (shared.bus.underlay), and the behaviour of aio-pika and aiormq
they rely on: an upgrade that changes it fails here.

- aio-pika: a robust channel the broker closes is reopened, its `reopen_callbacks` are awaited
  once it is open again, and `get_underlay_channel()` then gives the new aiormq channel.
- aiormq: a connection writes through the writer its `transport_factory` gives, and sizes its
  frame queue by the class's `FRAME_BUFFER_SIZE`: a publisher's gathered batch leaves in a few
  sends (TurnWriter), not one per frame. `basic_consume` delivers `DeliveredMessage`s carrying their channel, delivery tag,
  routing key, body and properties; `basic_publish(..., wait=False)` on a confirming channel
  returns once the broker confirms, and raises for a message the broker returns (mandatory, on a
  channel opened with `on_return_raises`); a gathered batch arrives whole and in order.
"""

import asyncio
import uuid

import aio_pika
import aiormq
import pytest

from shared.bus import underlay
from shared.bus.connection import connect
from shared.testing import eventually


async def test_consumes_and_publishes_beneath_aio_pika_and_consumes_again_on_a_reopened_channel(infrastructure):
    connection = await connect(infrastructure.amqp_url, "underlay test")
    try:
        channel = await connection.channel(publisher_confirms=True)
        queue = await channel.declare_queue(exclusive=True)
        received: list[underlay.DeliveredMessage] = []

        async def on_message(message: underlay.DeliveredMessage) -> None:
            received.append(message)

        await underlay.consume(channel, queue.name, on_message, consumer_tag=f"underlay-test-{uuid.uuid4().hex}")

        async def publish_batch(bodies: list[bytes]) -> None:
            publishing = await underlay.underlay(channel)
            await asyncio.gather(*(underlay.publish(publishing, body, exchange="", routing_key=queue.name,
                                                    message_id=body.decode(), headers={"traceparent": "t"},
                                                    timeout=30) for body in bodies))

        first = [f"first {n}".encode() for n in range(300)]
        await publish_batch(first)
        await eventually(lambda: _at_least(received, len(first)), timeout=30)
        assert [m.body for m in received] == first  # whole and in order
        last = received[-1]
        assert (last.routing_key, underlay.message_id(last), last.header.properties.headers) == (
            queue.name, "first 299", {"traceparent": "t"})
        assert underlay.delivery_count(last) == 0
        await underlay.ack(last, multiple=True)
        old_channel = last.channel

        # The broker closes the channel (a passive declaration of a queue that does not exist):
        # aio-pika reopens it, and the consumer is made again on the new one.
        with pytest.raises(aio_pika.exceptions.ChannelNotFoundEntity):
            await channel.declare_queue(f"no such queue {uuid.uuid4()}", passive=True)
        assert old_channel.is_closed
        await eventually(lambda: _reopened(channel), timeout=30)
        second = [f"second {n}".encode() for n in range(10)]
        await publish_batch(second)
        await eventually(lambda: _at_least(received, len(first) + len(second)), timeout=30)
        assert [m.body for m in received[len(first):]] == second
        assert received[-1].channel is not old_channel and received[-1].channel is await underlay.underlay(channel)
        await underlay.ack(received[-1], multiple=True)
    finally:
        await connection.close()


async def test_an_unroutable_publish_fails(infrastructure):
    connection = await connect(infrastructure.amqp_url, "underlay test")
    try:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)  # as the relay's
        with pytest.raises(aiormq.exceptions.PublishError):  # mandatory: returned, so not sent
            await underlay.publish(await underlay.underlay(channel), b"{}", exchange="", routing_key="no such queue",
                                   message_id="1", headers={}, timeout=30)
    finally:
        await connection.close()


async def test_a_publishers_batch_leaves_in_a_few_sends_and_arrives_whole_and_in_order(infrastructure):
    """As the outbox relay publishes a batch: gathered, each confirmed, not waiting for its frame
    to be written before the next is queued."""
    writers: list[underlay.TurnWriter] = []
    publisher = underlay.Publisher(infrastructure.amqp_url, "publisher test", on_writer=writers.append)
    connection = await connect(infrastructure.amqp_url, "publisher test queue")
    try:
        queue = await (await connection.channel()).declare_queue(exclusive=True)
        channel = await publisher.channel()
        [writer] = writers
        sends, frames = writer.sends, writer.frames
        bodies = [f"event {n}".encode() for n in range(300)]
        await asyncio.gather(*(underlay.publish(channel, body, exchange="", routing_key=queue.name, message_id=str(n),
                                                headers={}, timeout=30) for n, body in enumerate(bodies)))
        assert writer.frames - frames >= len(bodies)  # a frame at least per publish,
        assert writer.sends - sends <= len(bodies) / 30, writer.sends - sends  # many to a send

        received = []
        async with queue.iterator() as messages:
            async for message in messages:
                received.append(message.body)
                await message.ack()
                if len(received) == len(bodies):
                    break
        assert received == bodies

        await channel.close()  # a channel lost: the next use opens another
        assert not (await publisher.channel()).is_closed
    finally:
        await publisher.close()
        await connection.close()


async def _reopened(channel) -> bool:
    return not (await underlay.underlay(channel)).is_closed


async def _at_least(items: list, count: int) -> bool:
    return len(items) >= count
