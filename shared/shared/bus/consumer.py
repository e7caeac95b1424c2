"""The idempotent inbox consumer.

A message is handled in a database transaction that also records its event id in the inbox;
it is acknowledged only after that commit. A redelivered event finds its id there and changes
nothing. Messages are handled in batches (one commit for many) and, when a batch fails, one by
one, so a failing message is retried alone: after the queue's delivery limit it is dead-lettered.
A message that is not a valid envelope is dead-lettered at once, and so is one whose publisher, as
the broker validated it (the `user_id` property), does not own its event type (shared.bus.
authorisation): a forged event takes no effect. The consumer never stops for one.
While behind, it waits a moment before a batch, for more messages to share it (shared.bus.linger).

It consumes on aiormq's channel beneath aio-pika's robust one (shared.bus.underlay): aio-pika
reconnects, reopens and redeclares, and the consumer is made again on each reopened channel.
"""

import asyncio
import contextlib
import itertools
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import aio_pika
import sqlalchemy as sa
import structlog
from opentelemetry import trace
from opentelemetry.trace import Link, SpanKind
from pydantic import ValidationError
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import context
from shared.bus.connection import connect
from shared.bus.linger import BEHIND_AFTER_SECONDS, LINGER_SECONDS, Linger
from shared.cancellation import raise_if_cancelled
from shared.bus import underlay
from shared.bus.authorisation import owner
from shared.bus.topology import CONSUMERS, declare_topology, routing_key_matches
from shared.bus.underlay import DeliveredMessage
from shared.db import DriverStatement, UnitOfWork, array_params
from shared.events.envelope import Envelope
from shared.logging import get_logger
from shared.settings import BUS_SERVICES
from shared.metrics import CONSUMER_LAG, DEAD_LETTERS, EVENTS_CONSUMED, EVENTS_REFUSED, QUEUE_DEPTH
from shared.tracing import extract_trace_context, tracer

log = get_logger(__name__)

EventHandler = Callable[[UnitOfWork, Envelope], Awaitable[None]]


@dataclass(frozen=True)
class BatchHandler:
    """A handler that takes all matching events of a batch at once (e.g. one multi-row insert),
    for consumers whose per-event round trips would dominate."""

    handle: Callable[[UnitOfWork, list[Envelope]], Awaitable[None]]

_RECORD_IN_INBOX = DriverStatement(sa.text(
    "INSERT INTO inbox (consumer, event_id) SELECT :consumer, unnest(:event_ids)"
    " ON CONFLICT DO NOTHING RETURNING event_id"
).bindparams(*array_params(event_ids=UUID(as_uuid=True))))


class EventConsumer:
    def __init__(
        self,
        *,
        service: str,
        session_factory: async_sessionmaker[AsyncSession],
        handlers: Mapping[str, EventHandler | BatchHandler],
        amqp_url: str,
        exchange_name: str,
        prefetch: int = 256,
        batch_size: int = 128,
        linger: float = LINGER_SECONDS,
        behind_after: float = BEHIND_AFTER_SECONDS,
        trusted_publishers: Iterable[str] = (),
        accept_unstamped: bool = False,
    ):
        """`handlers` maps routing-key patterns (AMQP topic syntax) to the handler of those events.
        `trusted_publishers`: broker users whose events are taken whatever their type; with
        `accept_unstamped`, so are events without a user id (both for a test's own producers)."""
        self.service = service
        self.queue = CONSUMERS[service]
        self._session_factory = session_factory
        self._handlers = {p: h for p, h in handlers.items() if not isinstance(h, BatchHandler)}
        self._batch_handlers = {p: h for p, h in handlers.items() if isinstance(h, BatchHandler)}
        self._amqp_url = amqp_url
        self._trusted_publishers = frozenset(trusted_publishers)
        self._accept_unstamped = accept_unstamped
        self._exchange_name = exchange_name
        self._prefetch = prefetch
        self._batch_size = batch_size
        self._linger = Linger(service, "consumer", linger, behind_after)
        self._received: asyncio.Queue[DeliveredMessage] = asyncio.Queue()
        self._consumer_tag = f"{self.queue.name}.{uuid.uuid4().hex}"
        self.channel: aio_pika.abc.AbstractRobustChannel | None = None  # while it runs

    async def run(self) -> None:
        connection = await connect(self._amqp_url, f"{self.service}-consumer")
        try:
            self.channel = channel = await connection.channel()
            await channel.set_qos(prefetch_count=self._prefetch)
            await declare_topology(channel, self._exchange_name, queues=(self.queue,))
            await underlay.consume(channel, self.queue.name, self._deliver, self._consumer_tag)
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._report_depths(channel))
                while True:
                    raise_if_cancelled()  # a stop lost inside aio-pika's wait_for must still end the consumer
                    await self.handle_batch(await self._next_batch())
        finally:
            await connection.close()

    async def _deliver(self, message: DeliveredMessage) -> None:
        self._received.put_nowait(message)

    async def _next_batch(self) -> list[DeliveredMessage]:
        batch = [await self._received.get()]
        if self._received.qsize() < self._batch_size - 1:  # else a whole batch is here already
            await self._linger.before_batch()
        while len(batch) < self._batch_size and not self._received.empty():
            batch.append(self._received.get_nowait())
        return batch

    async def handle_batch(self, messages: list[DeliveredMessage]) -> None:
        parsed: list[tuple[DeliveredMessage, Envelope]] = []
        for message in messages:
            envelope = self._parse(message)
            if envelope is not None:
                envelope = self._authenticated(message, envelope)
            if envelope is None:
                await _settle(underlay.reject(message))
                EVENTS_CONSUMED.labels(self.service, "dead-lettered").inc()
            else:
                parsed.append((message, envelope))
        if not parsed:
            return
        self._linger.batch_taken((datetime.now(UTC) - parsed[0][1].occurred_at).total_seconds())
        try:
            await self._handle_in_one_transaction(parsed)
        except Exception as error:
            log.warning("batch failed, handling its events one by one", error=repr(error), size=len(parsed))
            for one in parsed:
                await self._handle_alone(one)
            return
        # Delivery tags rise in the order messages arrive, and every earlier one is settled already.
        last = parsed[-1][0]
        await _settle(underlay.ack(last, multiple=True))
        EVENTS_CONSUMED.labels(self.service, "handled").inc(len(parsed))

    async def _handle_alone(self, item: tuple[DeliveredMessage, Envelope]) -> None:
        message, envelope = item
        try:
            await self._handle_in_one_transaction([item])
        except Exception:
            log.exception("event handler failed; the broker will redeliver it", event_id=str(envelope.event_id),
                          event_type=envelope.type,
                          delivery_count=underlay.delivery_count(message))
            # Requeued: the quorum queue counts deliveries and dead-letters it past the limit.
            await _settle(underlay.requeue(message))
            EVENTS_CONSUMED.labels(self.service, "failed").inc()
            return
        await _settle(underlay.ack(message))
        EVENTS_CONSUMED.labels(self.service, "handled").inc()

    async def _handle_in_one_transaction(self, items: list[tuple[DeliveredMessage, Envelope]]) -> None:
        async with UnitOfWork(self._session_factory, producer=self.service) as uow:
            event_ids = list({envelope.event_id for _, envelope in items})
            recorded = await uow.fetch(_RECORD_IN_INBOX, {"consumer": self.service, "event_ids": event_ids})
            new_ids = {row[0] for row in recorded}
            fresh = []
            for _, envelope in items:
                if envelope.event_id in new_ids:  # else a redelivery, or a duplicate within this batch
                    new_ids.discard(envelope.event_id)
                    fresh.append(envelope)
            # In the order they came, as one by one: a batch handler takes each run of consecutive
            # events it handles at once, and never an event that came after one it does not (a
            # member removed after a transfer's rejection must not change who hears of it).
            for patterns, run in itertools.groupby(fresh, key=self._batch_patterns):
                run = list(run)
                for envelope in run:
                    await self._dispatch(uow, envelope)
                for pattern in patterns:
                    # One span for the run, linked to the trace of every event in it.
                    links = [Link(c) for e in run if (c := _span_context(e)) is not None]
                    with tracer().start_as_current_span(
                        f"{self.queue.name} batch process", kind=SpanKind.CONSUMER, links=links
                    ):
                        await self._batch_handlers[pattern].handle(uow, run)
            await uow.commit()

    def _batch_patterns(self, envelope: Envelope) -> tuple[str, ...]:
        return tuple(pattern for pattern in self._batch_handlers if routing_key_matches(pattern, envelope.type))

    async def _dispatch(self, uow: UnitOfWork, envelope: Envelope) -> None:
        CONSUMER_LAG.labels(self.service).observe((datetime.now(UTC) - envelope.occurred_at).total_seconds())
        handlers = [h for pattern, h in self._handlers.items() if routing_key_matches(pattern, envelope.type)]
        if not handlers:
            return
        with handling(envelope):
            for handler in handlers:
                await handler(uow, envelope)

    def _authenticated(self, message: DeliveredMessage, envelope: Envelope) -> Envelope | None:
        """The envelope with its validated publisher, or None (logged, counted) when that publisher
        may not publish it."""
        publisher = underlay.user_id(message)
        if message.routing_key != envelope.type:
            refusal = "its routing key is not its event type"
        elif publisher is None:
            refusal = None if self._accept_unstamped else "it carries no user id"
        elif publisher != owner(envelope.type) and publisher not in self._trusted_publishers:
            refusal = f"its publisher {publisher!r} does not own {owner(envelope.type)!r} events"
        else:
            refusal = None
        if refusal is not None:
            log.error("forged event sent to the dead-letter queue: " + refusal,
                      message_id=underlay.message_id(message), routing_key=message.routing_key,
                      event_type=envelope.type, publisher=publisher)
            claimed = owner(envelope.type) if owner(envelope.type) in BUS_SERVICES else "unknown"  # bounded labels
            EVENTS_REFUSED.labels(self.service, claimed, publisher or "").inc()
            return None
        return envelope.model_copy(update={"published_by": publisher})

    def _parse(self, message: DeliveredMessage) -> Envelope | None:
        try:
            return Envelope.model_validate_json(message.body)
        except ValidationError as error:
            log.error(
                "unreadable message sent to the dead-letter queue",
                message_id=underlay.message_id(message),
                routing_key=message.routing_key,
                error=str(error).splitlines()[0],
            )
            return None

    async def _report_depths(self, channel: aio_pika.abc.AbstractChannel) -> None:
        while True:
            raise_if_cancelled()
            with contextlib.suppress(Exception):
                for name, gauge in ((self.queue.name, QUEUE_DEPTH), (self.queue.dead_letter_name, DEAD_LETTERS)):
                    declared = await channel.declare_queue(name, passive=True)
                    gauge.labels(self.service, name).set(declared.declaration_result.message_count or 0)
            await asyncio.sleep(5.0)


@contextlib.contextmanager
def handling(envelope: Envelope) -> Iterator[None]:
    """The context of handling one event: its actor, its correlation id and a span in its trace,
    so the logs and the events recorded meanwhile carry them on. A BatchHandler enters it for
    each event whose consequences it records."""
    actor_token = context.actor.set(context.Actor(envelope.actor_org_id, envelope.actor_user_id))
    correlation_token = context.correlation_id.set(envelope.correlation_id or str(envelope.event_id))
    try:
        with (
            structlog.contextvars.bound_contextvars(
                event_id=str(envelope.event_id), event_type=envelope.type, correlation_id=envelope.correlation_id
            ),
            tracer().start_as_current_span(
                f"{envelope.type} process",
                context=extract_trace_context(envelope.trace_context),
                kind=SpanKind.CONSUMER,
            ),
        ):
            yield
    finally:
        context.actor.reset(actor_token)
        context.correlation_id.reset(correlation_token)


def _span_context(envelope: Envelope):
    context = trace.get_current_span(extract_trace_context(envelope.trace_context)).get_span_context()
    return context if context.is_valid else None


async def _settle(outcome: Awaitable[None]) -> None:
    """Ack/nack on a channel that died is harmless: the broker redelivers and the inbox dedups."""
    try:
        await outcome
    except Exception as error:
        log.info("could not settle a message on a closed channel; it will be redelivered", error=repr(error))
