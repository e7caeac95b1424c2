"""The busy paths' AMQP calls, through aiormq's public API (a declared dependency of shared).

aio-pika wraps every delivery in an IncomingMessage and every publish in a Message and its own
bookkeeping, which cost more client CPU than the AMQP work itself (bench/consume_overhead.py).

- The consumers consume on the aiormq channel aio-pika exposes (`get_underlay_channel()`);
  aio-pika still owns the connection: it reconnects, reopens the channel and redeclares the
  topology and QoS. What it does not know is a consumer made on the channel beneath it, so
  `consume()` makes it again on each reopened channel from aio-pika's `reopen_callbacks`.
- The relay publishes on a `Publisher`: an aiormq connection of its own whose frames written in
  one turn of the event loop leave in one send (`TurnWriter`, given as aiormq's
  `transport_factory`), with a frame queue that holds a whole batch. aiormq writes each frame on
  its own, and a relay's batch then made a send() per event, plus as many reads for the broker:
  a large share of a relay's CPU. aio-pika does not pass a transport factory on, hence a
  connection of aiormq's; the relay reconnects it in its own retry loop.

tests/shared/bus/test_underlay.py pins the behaviour of both libraries relied on here.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import aio_pika
import aiormq
from aiormq.abc import DeliveredMessage
from aiormq.connection import TCPTransportFactory, TLSTransportFactory, TransportFactory
from yarl import URL

from shared.logging import get_logger

log = get_logger(__name__)

__all__ = ["DeliveredMessage", "Publisher", "TurnWriter", "ack", "consume", "delivery_count", "message_id", "publish",
           "reject", "requeue", "underlay", "user_id"]


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


class TurnWriter:
    """A connection's StreamWriter whose writes within one turn of the event loop go to the socket
    as one, at the end of the turn. Nothing waits for a timer: the turn's frames leave as soon as
    the turn ends (as other AMQP clients do it with cork/uncork)."""

    def __init__(self, writer: asyncio.StreamWriter):
        self._writer = writer
        self._pending: list[bytes] = []
        self.sends = 0  # writes to the socket, and the frames they carried: for tests and profiling
        self.frames = 0

    def write(self, data: bytes) -> None:
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._flush)
        self._pending.append(data)

    def _flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self.sends += 1
            self.frames += len(self._pending)
            self._pending.clear()
            if not self._writer.is_closing():  # else the connection is gone, and with it what waits on these frames
                self._writer.write(data)

    async def drain(self) -> None:
        # Not flushed here: aiormq drains after every frame, and the turn's frames must still go
        # together. What drain waits for, the socket's own buffer emptying, is unchanged.
        await self._writer.drain()

    def write_eof(self) -> None:
        self._flush()
        self._writer.write_eof()

    def close(self) -> None:
        self._flush()
        self._writer.close()

    def __getattr__(self, name: str) -> Any:  # the rest (transport, is_closing, wait_closed, ...) as it is
        return getattr(self._writer, name)


class _TurnTransportFactory(TransportFactory):
    """aiormq's own transport (plain or TLS, as the URL says), writing through a TurnWriter."""

    def __init__(self, url: URL, on_writer: Callable[[TurnWriter], None] | None):
        self._transport = TLSTransportFactory() if url.scheme == "amqps" else TCPTransportFactory()
        self._on_writer = on_writer

    async def create(self, url: URL, **kwargs: Any) -> tuple[asyncio.StreamReader, Any]:
        reader, writer = await self._transport.create(url, **kwargs)
        turn_writer = TurnWriter(writer)
        if self._on_writer is not None:
            self._on_writer(turn_writer)
        return reader, turn_writer


class _BatchConnection(aiormq.Connection):
    # Frames queued for the writer (aiormq's default: 10). A publisher finding the queue full waits
    # for room, and the publishers behind it then get through one per turn of the event loop. A
    # relay's whole batch (at most 500 events) fits, so its frames are queued in one turn.
    FRAME_BUFFER_SIZE = 1024


class Publisher:
    """A publisher-confirms channel (returned messages raise) on an aiormq connection of its own,
    opened on first use and again after it was lost."""

    def __init__(self, amqp_url: str, name: str, *, on_writer: Callable[[TurnWriter], None] | None = None):
        """`on_writer`: told of each connection's TurnWriter (tests count its sends)."""
        self._url = URL(amqp_url)
        self._name = name
        self._on_writer = on_writer
        self._connection: aiormq.Connection | None = None
        self._channel: aiormq.abc.AbstractChannel | None = None

    async def channel(self) -> aiormq.abc.AbstractChannel:
        if self._channel is None or self._channel.is_closed:
            if self._connection is None or self._connection.is_closed:
                await self.close()
                connection = _BatchConnection(self._url, client_properties={"connection_name": self._name},
                                              transport_factory=_TurnTransportFactory(self._url, self._on_writer))
                await connection.connect()
                self._connection = connection
            self._channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
        return self._channel

    async def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()


async def underlay(channel: aio_pika.abc.AbstractChannel) -> aiormq.abc.AbstractChannel:
    """The aiormq channel beneath `channel` now (a new one after a reconnection)."""
    return await channel.get_underlay_channel()


async def publish(channel: aiormq.abc.AbstractChannel, body: bytes, *, exchange: str, routing_key: str,
                  message_id: str, user_id: str | None = None, headers: dict[str, str], timeout: float) -> None:
    """A persistent JSON message on `channel` (from `underlay()`), mandatory (an unroutable one
    fails), returning once the broker confirms it. Not waiting for its frame to be written before
    the next publish is queued, so a gathered batch goes out as fast as the connection writes."""
    await channel.basic_publish(
        body,
        exchange=exchange,
        routing_key=routing_key,
        properties=aiormq.spec.Basic.Properties(
            message_id=message_id, user_id=user_id, content_type="application/json",
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


def user_id(message: DeliveredMessage) -> str | None:
    """The publisher's broker user, as the broker validated it (None when the message has none)."""
    return message.header.properties.user_id
