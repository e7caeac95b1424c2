"""The broker topology, declared idempotently.

One durable topic exchange for events; per consumer service one durable quorum queue with a
bounded delivery count and a dead-letter queue. The whole of it is declared before the services
start (`python -m shared.devtools prepare`, the tests, or a broker's definitions file:
deploy/rabbitmq/), so an event is never unroutable because its consumers have not started yet.
Each service then declares what its broker user may (shared.bus.authorisation): the exchanges,
and its own queue.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange

DEAD_LETTER_EXCHANGE = "licensing.dead-letter"

# Deliveries of one message before it is dead-lettered. A queue argument, so fixed in code: a queue
# redeclared with another value is refused by the broker (changing it needs a policy or a new queue).
DELIVERY_LIMIT = 5


@dataclass(frozen=True)
class ConsumerQueue:
    service: str
    bindings: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.service}.events"

    @property
    def dead_letter_name(self) -> str:
        return f"{self.name}.dead-letter"


# Who listens to what: the routing keys are `<producer>.<aggregate>.<past-tense verb>`.
CONSUMERS: dict[str, ConsumerQueue] = {
    q.service: q
    for q in (
        ConsumerQueue("audit", ("#",)),
        ConsumerQueue("notify", ("#",)),
        ConsumerQueue("identity", ("orgs.#",)),
        ConsumerQueue("entitlements", ("transfers.transfer.requested", "orgs.#", "identity.member.*",
                                       "billing.subscription.reservation_requested", "billing.subscription.assigned",
                                       "billing.subscription.deleted")),
        ConsumerQueue("transfers", ("entitlements.transfer.*", "orgs.#", "identity.member.*")),
        ConsumerQueue("orgs", ("identity.member.*",)),
        ConsumerQueue("billing", ("entitlements.reservation.*", "orgs.#", "identity.member.*")),
        ConsumerQueue("devices", ("entitlements.product.created", "entitlements.entitlement.issued",
                                  "entitlements.activation.*", "orgs.#", "identity.member.*",
                                  "billing.subscription.paused", "billing.subscription.resumed")),
    )
}


async def declare_topology(channel: AbstractChannel, exchange_name: str,
                           queues: Iterable[ConsumerQueue] | None = None) -> AbstractExchange:
    """The exchanges and `queues` (all of them when None: as an administrator)."""
    exchange = await channel.declare_exchange(exchange_name, aio_pika.ExchangeType.TOPIC, durable=True)
    dead_letters = await channel.declare_exchange(DEAD_LETTER_EXCHANGE, aio_pika.ExchangeType.DIRECT, durable=True)
    for consumer in CONSUMERS.values() if queues is None else queues:
        dead_letter_queue = await channel.declare_queue(
            consumer.dead_letter_name, durable=True, arguments={"x-queue-type": "quorum"}
        )
        await dead_letter_queue.bind(dead_letters, routing_key=consumer.name)
        queue = await channel.declare_queue(
            consumer.name,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                # RabbitMQ 3.10 quorum queues have no default limit: a poison message would loop forever.
                "x-delivery-limit": DELIVERY_LIMIT,
                "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
                "x-dead-letter-routing-key": consumer.name,
            },
        )
        for binding in consumer.bindings:
            await queue.bind(exchange, routing_key=binding)
    return exchange


@lru_cache(maxsize=4096)
def routing_key_matches(pattern: str, routing_key: str) -> bool:
    """AMQP topic matching: `*` is one word, `#` is zero or more words."""
    return _match(pattern.split("."), routing_key.split("."))


def _match(pattern: list[str], words: list[str]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_match(rest, words[i:]) for i in range(len(words) + 1))
    if not words:
        return False
    return (head == "*" or head == words[0]) and _match(rest, words[1:])
