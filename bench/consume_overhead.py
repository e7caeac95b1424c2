"""The AMQP client's CPU per delivered message: aio-pika's `Queue.consume` (what the services'
consumers use: an IncomingMessage per delivery) against aiormq's `basic_consume` under it, in the
same run.

    uv run python bench/consume_overhead.py [--messages 5000] [--rounds 4]

On this machine's RabbitMQ, in a virtual host of its own (removed at the end): each round fills a
quorum queue with N persistent messages the size of an event envelope (with the headers the relay
sets), then drains it on a fresh channel as the consumers do (prefetch 256, one ack with
`multiple` per batch of what has arrived), counting this process's CPU while draining. The two
clients take turns, in the opposite order every other round. Prints figures; asserts nothing.
"""

import argparse
import asyncio
import sys
import uuid
from pathlib import Path

import aiormq
import uvloop

from shared.bus.connection import connect
from shared.testing import LOCAL_AMQP, _own_vhost

sys.path.insert(0, str(Path(__file__).resolve().parent))

from process_cpu import own_cpu  # noqa: E402

PREFETCH = 256
PROPERTIES = aiormq.spec.Basic.Properties(
    content_type="application/json", delivery_mode=2,
    headers={"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})


async def _fill(channel, queue_name: str, count: int) -> None:
    underlay = await channel.get_underlay_channel()
    body = b"x" * 900
    await asyncio.gather(*(underlay.basic_publish(body, routing_key=queue_name, properties=PROPERTIES)
                           for _ in range(count)))


async def _drain(received: asyncio.Queue, count: int, ack) -> float:
    """CPU seconds to take `count` messages off `received`, batch by batch, acking each batch."""
    got, started = 0, own_cpu()
    while got < count:
        batch = [await received.get()]
        while not received.empty():
            batch.append(received.get_nowait())
        got += len(batch)
        await ack(batch[-1])
    return own_cpu() - started


async def with_aio_pika(channel, queue_name: str, count: int) -> float:
    received: asyncio.Queue = asyncio.Queue()
    queue = await channel.get_queue(queue_name)
    tag = await queue.consume(received.put)
    used = await _drain(received, count, lambda message: message.ack(multiple=True))
    await queue.cancel(tag)
    return used


async def with_aiormq(channel, queue_name: str, count: int) -> float:
    received: asyncio.Queue = asyncio.Queue()
    underlay = await channel.get_underlay_channel()

    async def deliver(message) -> None:
        received.put_nowait(message)

    consuming = await underlay.basic_consume(queue_name, deliver)
    used = await _drain(received, count, lambda message: underlay.basic_ack(message.delivery_tag, multiple=True))
    await underlay.basic_cancel(consuming.consumer_tag)
    return used


async def run(amqp_url: str, messages: int, rounds: int) -> None:
    connection = await connect(amqp_url, "consume overhead bench")
    clients = {"aio-pika": with_aio_pika, "aiormq": with_aiormq}
    micros: dict[str, list[float]] = {name: [] for name in clients}
    try:
        filling = await connection.channel(publisher_confirms=True)
        queue = await filling.declare_queue(f"bench-{uuid.uuid4().hex[:8]}", durable=True,
                                            arguments={"x-queue-type": "quorum"})
        print(f"{messages} messages per round; client CPU per delivered message, µs")
        for round_ in range(1, rounds + 1):
            for name in clients if round_ % 2 else reversed(clients):
                await _fill(filling, queue.name, messages)
                channel = await connection.channel()
                await channel.set_qos(prefetch_count=PREFETCH)
                micros[name].append(await clients[name](channel, queue.name, messages) / messages * 1e6)
                await channel.close()
                print(f"  round {round_} {name:<9} {micros[name][-1]:7.1f}")
        for name, values in micros.items():
            print(f"mean {name:<9} {sum(values) / len(values):7.1f}")
    finally:
        await connection.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    with _own_vhost(LOCAL_AMQP) as (_, amqp_url):
        uvloop.run(run(amqp_url, args.messages, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
