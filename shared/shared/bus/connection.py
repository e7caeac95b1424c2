"""Connecting to the broker: robust connections (aio-pika) that reconnect by themselves after an
outage, and reopen their channels, exchanges, queues and QoS."""

import asyncio

import aio_pika

from shared.cancellation import raise_if_cancelled
from shared.logging import get_logger

log = get_logger(__name__)


async def connect(amqp_url: str, name: str) -> aio_pika.abc.AbstractRobustConnection:
    """Connect, waiting for the broker if it is not up yet; later outages are handled by aio-pika."""
    attempt = 0
    while True:
        raise_if_cancelled()
        try:
            return await aio_pika.connect_robust(amqp_url, client_properties={"connection_name": name})
        except (OSError, aio_pika.exceptions.AMQPConnectionError) as error:
            attempt += 1
            log.warning("broker unreachable, retrying", error=repr(error), attempt=attempt)
            await asyncio.sleep(min(0.2 * 2**attempt, 5.0))
