"""The busy paths' AMQP calls, on aiormq's channel beneath aio-pika's robust one.

aio-pika wraps every delivery in an IncomingMessage and every publish in a Message and its own
bookkeeping, which cost more client CPU than the AMQP work itself (bench/consume_overhead.py).
So the consumers consume, and the relay publishes, on the aiormq channel aio-pika exposes
(`get_underlay_channel()`), through aiormq's public calls; aio-pika still owns the connection:
it reconnects, reopens the channel and redeclares the topology and QoS. What it does not know is
a consumer made on the channel beneath it, so `consume()` makes it again on each reopened channel
from aio-pika's `reopen_callbacks`. tests/shared/bus/test_underlay.py pins the behaviour of both
libraries relied on here. aiormq is a declared dependency of shared.
"""

from collections.abc import Awaitable, Callable
from typing import Any

import aio_pika
import aiormq
from aiormq.abc import DeliveredMessage

from shared.logging import get_logger

log = get_logger(__name__)

__all__ = ["DeliveredMessage", "ack", "consume", "delivery_count", "message_id", "publish", "reject", "requeue", "underlay"]


async def consume(channel: aio_pika.abc.AbstractRobustChannel, queue_name: str,
                  on_message: Callable[[DeliveredMessage], Awaitable[None]], consumer_tag: str) -> None:
    """Consumes `queue_name` on the channel beneath `channel`, now and on every channel aio-pika
    reopens after a reconnect or a channel error. Deliveries of a channel that closed may still be
    waiting with the caller: their acks fail harmlessly (the broker redelivers them)."""

    async def consume_on_reopened(_channel: Any) -> None:
        try:
            await _basic_consume(channel, queue_name, on_message, consumer_tag)
        except Exception as error:  # the channel closed again meanwhile: aio-pika reopens it, and calls this again
            log.warning("could not consume on the reopened channel", queue=queue_name, error=repr(error))

    channel.reopen_callbacks.add(consume_on_reopened)
    await _basic_consume(channel, queue_name, on_message, consumer_tag)


async def _basic_consume(channel: aio_pika.abc.AbstractChannel, queue_name: str,
                         on_message: Callable[[DeliveredMessage], Awaitable[None]], consumer_tag: str) -> None:
    await (await underlay(channel)).basic_consume(queue_name, on_message, consumer_tag=consumer_tag)


async def underlay(channel: aio_pika.abc.AbstractChannel) -> aiormq.abc.AbstractChannel:
    """The aiormq channel beneath `channel` now (a new one after a reconnection)."""
    return await channel.get_underlay_channel()


async def publish(channel: aiormq.abc.AbstractChannel, body: bytes, *, exchange: str, routing_key: str,
                  message_id: str, headers: dict[str, str], timeout: float) -> None:
    """A persistent JSON message on `channel` (from `underlay()`), mandatory (an unroutable one
    fails), returning once the broker confirms it. Not waiting for its frame to be written before
    the next publish is queued, so a gathered batch goes out as fast as the connection writes."""
    await channel.basic_publish(
        body,
        exchange=exchange,
        routing_key=routing_key,
        properties=aiormq.spec.Basic.Properties(
            message_id=message_id, content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT.value, headers=headers),
        mandatory=True,
        timeout=timeout,
        wait=False,
    )


def ack(message: DeliveredMessage, *, multiple: bool = False) -> Awaitable[None]:
    return message.channel.basic_ack(message.delivery_tag, multiple=multiple)


def requeue(message: DeliveredMessage) -> Awaitable[None]:
    return message.channel.basic_nack(message.delivery_tag, requeue=True)


def reject(message: DeliveredMessage) -> Awaitable[None]:
    """Not requeued: to the queue's dead-letter queue."""
    return message.channel.basic_reject(message.delivery_tag, requeue=False)


def delivery_count(message: DeliveredMessage) -> int:
    return (message.header.properties.headers or {}).get("x-delivery-count", 0)


def message_id(message: DeliveredMessage) -> str | None:
    return message.header.properties.message_id
