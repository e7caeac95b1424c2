"""Connecting to the broker: robust connections that reconnect by themselves after an outage, and
whose frames written in one turn of the event loop leave in one send."""

import asyncio
from typing import Any

import aio_pika
import aiormq
from aiormq.connection import TCPTransportFactory, TLSTransportFactory, TransportFactory
from yarl import URL

from shared.cancellation import raise_if_cancelled
from shared.logging import get_logger

log = get_logger(__name__)

# Frames aiormq queues for a connection's writer (10 by default). A publisher finding the queue
# full waits for room holding its channel's lock, and the publishers behind it then get through one
# per turn of the event loop, each frame in a send of its own. A relay's whole batch (at most 500
# events, about 1 KB each) fits, so its frames are queued in one turn and go out together.
aiormq.Connection.FRAME_BUFFER_SIZE = 1024


async def connect(amqp_url: str, name: str) -> aio_pika.abc.AbstractRobustConnection:
    """Connect, waiting for the broker if it is not up yet; later outages are handled by aio-pika."""
    attempt = 0
    while True:
        raise_if_cancelled()
        try:
            return await aio_pika.connect_robust(amqp_url, client_properties={"connection_name": name},
                                                 connection_class=_TurnConnection)
        except (OSError, aio_pika.exceptions.AMQPConnectionError) as error:
            attempt += 1
            log.warning("broker unreachable, retrying", error=repr(error), attempt=attempt)
            await asyncio.sleep(min(0.2 * 2**attempt, 5.0))


class TurnWriter:
    """A connection's StreamWriter whose writes within one turn of the event loop go to the socket
    as one, at the end of the turn. aiormq writes each frame on its own: a relay publishing a batch
    made a send() per event, and on this machine those sends were a tenth of a relay's service's
    CPU (py-spy), plus as many reads for the broker. Nothing waits for a timer: the turn's frames
    leave as soon as the turn ends, as the comq client does it with cork/uncork."""

    def __init__(self, writer: asyncio.StreamWriter):
        self._writer = writer
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._flush)
        self._pending.append(data)

    def _flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
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
    def __init__(self, transport: TransportFactory):
        self._transport = transport

    async def create(self, url: URL, **kwargs: Any) -> tuple[asyncio.StreamReader, Any]:
        reader, writer = await self._transport.create(url, **kwargs)
        return reader, TurnWriter(writer)


class _TurnConnection(aio_pika.RobustConnection):
    """aiormq's transport (plain or TLS, as the URL says), writing through a TurnWriter. Set here:
    aio-pika passes on only the connection parameters it knows."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        transport = TLSTransportFactory() if self.url.scheme == "amqps" else TCPTransportFactory()
        self.kwargs["transport_factory"] = _TurnTransportFactory(transport)
