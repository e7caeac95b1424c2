"""The broker connection every service uses: frames written in one turn of the event loop leave
in one send, and nothing is lost or reordered on the way."""

import asyncio

import aiormq

from shared.bus.connection import TurnWriter, connect


async def test_publishes_made_at_once_leave_in_a_few_sends_and_arrive_whole_and_in_order(infrastructure, monkeypatch):
    """As the outbox relay publishes a batch: gathered, each confirmed, not waiting for its frame
    to be written before the next is queued."""
    sends: list[int] = []  # frames per send to the socket
    flush = TurnWriter._flush

    def counted_flush(writer: TurnWriter) -> None:
        if writer._pending:
            sends.append(len(writer._pending))
        flush(writer)

    monkeypatch.setattr(TurnWriter, "_flush", counted_flush)
    connection = await connect(infrastructure.amqp_url, "turn writer test")
    try:
        channel = await connection.channel(publisher_confirms=True)
        queue = await channel.declare_queue(exclusive=True)
        sends.clear()  # from here on: the publishes only
        bodies = [f"event {n}".encode() for n in range(300)]
        underlay = await channel.get_underlay_channel()
        confirms = await asyncio.gather(*(underlay.basic_publish(body, routing_key=queue.name, wait=False)
                                          for body in bodies))
        publishing = list(sends)
        assert all(isinstance(confirm, aiormq.spec.Basic.Ack) for confirm in confirms)

        received = []
        async with queue.iterator() as messages:
            async for message in messages:
                received.append(message.body)
                await message.ack()
                if len(received) == len(bodies):
                    break
    finally:
        await connection.close()

    assert received == bodies
    # every publish is one frame, and they went out many to a send (one send each, before)
    assert sum(publishing) == len(bodies)
    assert len(publishing) <= len(bodies) / 10, publishing
