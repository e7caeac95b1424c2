"""The outbox relay: publishes committed outbox rows with publisher confirms, then marks them sent.

Safe with several replicas: rows are claimed with FOR UPDATE SKIP LOCKED, so two relays never
publish the same row at once. A crash between publish and mark republishes (at least once);
consumers' inboxes make that harmless. A returned (unroutable) or nacked message stays unsent.
While behind, it waits a moment after a wake-up, for more commits to share the batch (shared.bus.linger).

Published rows are kept a day (for inspection), but the fields a contract marks secret (an
invite's token) are removed from them five minutes after publishing: the event carried them to its
consumer. Those fields are sealed (encrypted) before they enter the outbox (shared.events.secrets);
the removal is a second layer, so that not even ciphertext outlives its use.
"""

import asyncio
import contextlib

import asyncpg
import sqlalchemy as sa
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncEngine
from yarl import URL

from shared.bus.connection import connect
from shared.bus.linger import BEHIND_AFTER_SECONDS, LINGER_SECONDS, Linger
from shared.cancellation import raise_if_cancelled
from shared.bus.topology import declare_topology
from shared.bus.underlay import Publisher, publish
from shared.db import OUTBOX_CHANNEL, DriverStatement, driver_connection
from shared.events.catalog import CONTRACTS
from shared.logging import get_logger
from shared.metrics import OUTBOX_BACKLOG, OUTBOX_PUBLISHED
from shared.tracing import extract_trace_context, tracer

log = get_logger(__name__)

_CLAIM = DriverStatement(sa.text(
    "SELECT id, event_id, routing_key, body::text AS body, body->'trace_context' ->> 'traceparent' AS traceparent,"
    " extract(epoch FROM now() - created_at)::float8 AS age"
    " FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED"
))
_MARK = DriverStatement(sa.text("UPDATE outbox SET published_at = now() WHERE id = ANY(:ids)"))
_BACKLOG = sa.text("SELECT count(*) FROM outbox WHERE published_at IS NULL")
_PURGE = sa.text("DELETE FROM outbox WHERE published_at < now() - interval '1 day'")
FEWEST_IN_FLIGHT = 10
_CONFIRM_TIMEOUT = 30.0  # seconds
SECRETS_KEPT_SECONDS = 300  # long enough for anything reading a fresh event from the outbox
_SCRUB = sa.text(
    "UPDATE outbox SET body = body #- ARRAY['payload', :field] WHERE routing_key = :routing_key"
    " AND published_at < now() - make_interval(secs => :kept) AND jsonb_exists(body->'payload', :field)"
)
_SECRET_FIELDS = [(key, field) for key, contract in CONTRACTS.items() for field in sorted(contract.secret_fields)]


class OutboxRelay:
    def __init__(
        self,
        *,
        service: str,
        engine: AsyncEngine,
        amqp_url: str,
        exchange_name: str,
        batch_size: int = 500,
        poll_interval: float = 0.5,
        linger: float = LINGER_SECONDS,
        behind_after: float = BEHIND_AFTER_SECONDS,
    ):
        self.service = service
        self._engine = engine
        self._amqp_url = amqp_url
        self._exchange_name = exchange_name
        self._batch_size = batch_size
        self._in_flight = batch_size  # this batch's size: halved after a failed batch, doubled after a good one
        self._poll_interval = poll_interval
        self._wakeup = asyncio.Event()
        self._linger = Linger(service, "relay", linger, behind_after)
        self._publisher = Publisher(amqp_url, f"{service}-relay")
        # The broker checks a message's user_id against the connection's user: a consumer trusts it.
        self._user_id = URL(amqp_url).user or "guest"

    @property
    def in_flight(self) -> int:
        """How many events the next batch may take: halved after a failed batch, doubled after a good one."""
        return self._in_flight

    async def run(self) -> None:
        """Publish until cancelled; broker and database outages are waited out, never fatal."""
        connection = await connect(self._amqp_url, f"{self.service}-relay topology")  # waits for the broker
        try:
            await declare_topology(await connection.channel(), self._exchange_name, queues=())
        finally:
            await connection.close()
        try:
            async with self._listening(), asyncio.TaskGroup() as tasks:
                tasks.create_task(self._report_backlog())
                await self._publish_forever()
        finally:
            await self._publisher.close()

    async def _publish_forever(self) -> None:
        failures = 0
        while True:
            raise_if_cancelled()  # a stop lost inside aio-pika's wait_for must still end the relay
            asked = self._in_flight
            try:
                published = await self.publish_batch()
                failures = 0
                self._in_flight = min(self._batch_size, self._in_flight * 2)
            except Exception as error:  # database or broker down: back off and try again
                failures += 1
                # A broker too slow to confirm a whole batch in time (a loaded machine) is sent
                # less at once: resending all of it would only add to what it must get through.
                self._in_flight = max(FEWEST_IN_FLIGHT, self._in_flight // 2)
                log.warning("outbox relay batch failed", error=repr(error), attempt=failures,
                            next_batch_size=self._in_flight)
                await asyncio.sleep(min(0.1 * 2**failures, 5.0))
                continue
            if published < asked:  # the backlog is drained: wait for the next commit
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self._poll_interval)
                self._wakeup.clear()
                await self._linger.before_batch()

    async def publish_batch(self) -> int:
        """Publish one batch of unsent rows; returns how many were confirmed by the broker."""
        async with driver_connection(self._engine) as conn, conn.transaction():
            rows = await conn.fetch(_CLAIM, {"limit": self._in_flight})
            if not rows:
                return 0
            self._linger.batch_taken(rows[0].age)  # rows come oldest first
            channel = await self._publisher.channel()  # connected again if it was lost
            outcomes = await asyncio.gather(*(self._publish(channel, row) for row in rows), return_exceptions=True)
            confirmed = [row.id for row, outcome in zip(rows, outcomes, strict=True) if outcome is None]
            if confirmed:
                await conn.execute(_MARK, {"ids": confirmed})
        OUTBOX_PUBLISHED.labels(self.service).inc(len(confirmed))
        failed = len(rows) - len(confirmed)
        if failed:
            first_error = next(o for o in outcomes if o is not None)
            raise RuntimeError(f"{failed} of {len(rows)} events not confirmed by the broker: {first_error!r}")
        return len(confirmed)

    async def _publish(self, channel, row) -> None:
        headers = {"traceparent": row.traceparent} if row.traceparent else {}
        with tracer().start_as_current_span(
            f"{row.routing_key} publish", context=extract_trace_context(headers), kind=SpanKind.PRODUCER
        ):
            # Mandatory: a returned (unroutable) event fails its publish, and stays unsent. The
            # timeout is generous: a confirm that comes late is still a confirm, while a timeout
            # sends the event again to every consumer (inboxes drop the copy, after work); on a
            # machine with every core busy, confirms have taken over ten seconds.
            await publish(channel, row.body.encode(), exchange=self._exchange_name, routing_key=row.routing_key,
                          message_id=str(row.event_id), user_id=self._user_id, headers=headers,
                          timeout=_CONFIRM_TIMEOUT)

    @contextlib.asynccontextmanager
    async def _listening(self):
        """LISTEN for commits that wrote outbox rows, so events go out at once rather than at the next poll."""
        dsn = self._engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        listener = None
        try:
            listener = await asyncpg.connect(dsn)
            await listener.add_listener(OUTBOX_CHANNEL, lambda *_: self._wakeup.set())
        except (OSError, asyncpg.PostgresError) as error:
            log.warning("outbox relay cannot LISTEN, polling only", error=repr(error))
        try:
            yield
        finally:
            if listener is not None:
                with contextlib.suppress(Exception):
                    await listener.close(timeout=2)

    async def _report_backlog(self) -> None:
        ticks = 0
        while True:
            raise_if_cancelled()
            with contextlib.suppress(Exception):
                async with self._engine.begin() as conn:
                    OUTBOX_BACKLOG.labels(self.service).set((await conn.execute(_BACKLOG)).scalar_one())
                    if ticks % 600 == 0:
                        await conn.execute(_PURGE)
                    if ticks % 30 == 0:
                        await scrub_published_secrets(conn)
            ticks += 1
            await asyncio.sleep(1.0)


async def scrub_published_secrets(conn, kept_seconds: float = SECRETS_KEPT_SECONDS) -> None:
    """Removes the secret fields of the rows published more than `kept_seconds` ago."""
    for routing_key, field in _SECRET_FIELDS:
        await conn.execute(_SCRUB, {"routing_key": routing_key, "field": field, "kept": kept_seconds})
