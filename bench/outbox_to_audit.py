"""Throughput and latency of the event path outbox -> relay -> RabbitMQ -> audit, against a raw aio-pika baseline.

    uv run python bench/outbox_to_audit.py [--events N] [--profile FILE]

Runs on this machine's PostgreSQL and RabbitMQ, in isolation: databases `bench_<run>_<service>`
(created and migrated like the tests do) and a virtual host of its own, all removed at the end,
also on Ctrl-C. Three paths, in one process and on one event loop (uvloop, as uvicorn uses):

  raw          aio-pika only: N messages the size of an event envelope, published with publisher
               confirms (batches of 500 gathered) through a topic exchange to one quorum queue,
               consumed with manual acks (prefetch 256). Latency: publish call -> consumer callback.
  real 10/tx   producer tasks commit N events through UnitOfWork, 10 per transaction; the real
               OutboxRelay publishes them; the real audit service (its lifespan: consumer, inbox,
               audit_events insert) stores them. Throughput: first commit -> the N-th row is counted
               in audit_events. Latency: envelope occurred_at -> audit_events.recorded_at (SQL).
  real 1/tx    the same with one event per transaction.

No assertions: it prints a table. See bench/README.md for measured figures.
"""

import argparse
import asyncio
import contextlib
import os
import signal
import statistics
import sys
import time
import uuid
from pathlib import Path

os.environ.setdefault("LOG_LEVEL", "WARNING")

import aio_pika  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from sqlalchemy.ext.asyncio import async_sessionmaker  # noqa: E402

from audit.main import create_app as create_audit_app  # noqa: E402
from audit.settings import AuditSettings  # noqa: E402
from shared.bus.relay import OutboxRelay  # noqa: E402
from shared.db import UnitOfWork, create_engine  # noqa: E402
from shared.events.envelope import Envelope, EventPayload  # noqa: E402
from shared.testing import (  # noqa: E402
    LOCAL_AMQP,
    LOCAL_POSTGRES,
    TestInfrastructure,
    _create_databases,
    _drop_databases,
    _own_vhost,
    running,
)

PRODUCER_SERVICE = "entitlements"  # any service with a database (and so an outbox) will do
PRODUCER_TASKS = 8
RAW_PUBLISH_BATCH = 500
RAW_PREFETCH = 256
PACED_SECONDS = 10


class BenchBatched(EventPayload):
    routing_key = "entitlements.bench.batched"

    widget: str
    count: int


class BenchSingle(EventPayload):
    routing_key = "entitlements.bench.single"

    widget: str
    count: int


class BenchPaced(EventPayload):
    routing_key = "entitlements.bench.paced"

    widget: str
    count: int


def envelope_size() -> int:
    org = uuid.uuid4()
    envelope = Envelope.wrap(
        BenchBatched(widget="w", count=12345), producer=PRODUCER_SERVICE, actor_org_id=org, visible_to=[org]
    )
    return len(envelope.model_dump_json().encode())


# --- (a) raw aio-pika baseline ---------------------------------------------------------------------


async def raw_baseline(amqp_url: str, events: int, size: int) -> dict:
    queue_name, exchange_name = "bench.raw", "bench.raw"
    consumer_connection = await aio_pika.connect(amqp_url)
    publisher_connection = await aio_pika.connect(amqp_url)
    try:
        consumer_channel = await consumer_connection.channel()
        await consumer_channel.set_qos(prefetch_count=RAW_PREFETCH)
        exchange = await consumer_channel.declare_exchange(exchange_name, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await consumer_channel.declare_queue(queue_name, durable=True, arguments={"x-queue-type": "quorum"})
        await queue.bind(exchange, routing_key="#")

        latencies: list[float] = []
        done = asyncio.Event()

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            latencies.append(time.perf_counter() - float(message.body[:20]))
            await message.ack()
            if len(latencies) >= events:
                done.set()

        consumer_tag = await queue.consume(on_message)

        channel = await publisher_connection.channel(publisher_confirms=True, on_return_raises=True)
        exchange = await channel.get_exchange(exchange_name)
        padding = b" " * (size - 20)

        async def publish() -> None:
            body = f"{time.perf_counter():<20.6f}".encode() + padding
            await exchange.publish(
                aio_pika.Message(body, content_type="application/json", delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key="entitlements.bench.raw",
                mandatory=True,
                timeout=10,
            )

        started = time.perf_counter()
        for first in range(0, events, RAW_PUBLISH_BATCH):
            await asyncio.gather(*(publish() for _ in range(min(RAW_PUBLISH_BATCH, events - first))))
        await asyncio.wait_for(done.wait(), timeout=120)
        seconds = time.perf_counter() - started
        await queue.cancel(consumer_tag)
        await queue.delete(if_unused=False, if_empty=False)
        await consumer_channel.exchange_delete(exchange_name)
    finally:
        await publisher_connection.close()
        await consumer_connection.close()
    latencies.sort()
    return {
        "seconds": seconds,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[int(0.99 * (len(latencies) - 1))] * 1000,
    }


# --- (b) the real path -----------------------------------------------------------------------------


async def produce(sessions, events: int, per_transaction: int, contract, rate: float | None = None) -> None:
    """PRODUCER_TASKS tasks commit `events` events, `per_transaction` in each transaction; as fast as
    they can, or paced at `rate` events/s."""
    transactions = iter(range(0, events, per_transaction))
    org = uuid.uuid4()
    started = time.perf_counter()

    async def worker() -> None:
        for first in transactions:  # a shared iterator: each transaction is taken once
            if rate:
                await asyncio.sleep(max(0.0, started + first / rate - time.perf_counter()))
            async with UnitOfWork(sessions, producer=PRODUCER_SERVICE) as uow:
                for i in range(first, min(first + per_transaction, events)):
                    uow.record(contract(widget="w", count=i), visible_to=[org], actor_org_id=org)
                await uow.commit()

    async with asyncio.TaskGroup() as tasks:
        for _ in range(PRODUCER_TASKS):
            tasks.create_task(worker())


_COUNT = sa.text("SELECT count(*) FROM audit_events WHERE type = :type")
_LATENCY = sa.text(
    "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM recorded_at - occurred_at)) * 1000,"
    " percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM recorded_at - occurred_at)) * 1000"
    " FROM audit_events WHERE type = :type"
)


async def real_path(audit_engine, sessions, events: int, per_transaction: int, contract, rate=None) -> dict:
    async with audit_engine.begin() as conn:
        await conn.execute(sa.text("DELETE FROM audit_events WHERE type = :type"), {"type": contract.routing_key})
    started = time.perf_counter()
    producing = asyncio.create_task(produce(sessions, events, per_transaction, contract, rate))
    deadline = started + 120
    try:
        async with audit_engine.connect() as conn:
            while True:
                stored = (await conn.execute(_COUNT, {"type": contract.routing_key})).scalar_one()
                await conn.rollback()
                if stored >= events:
                    break
                if time.perf_counter() > deadline:
                    raise TimeoutError(f"only {stored} of {events} events reached audit_events within 120 s")
                await asyncio.sleep(0.02)
            seconds = time.perf_counter() - started
            await producing
            p50, p99 = (await conn.execute(_LATENCY, {"type": contract.routing_key})).one()
    finally:
        if not producing.done():
            producing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await producing
    return {"seconds": seconds, "p50": p50, "p99": p99}


@contextlib.asynccontextmanager
async def relaying(relay: OutboxRelay):
    task = asyncio.create_task(relay.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.contextmanager
def profiling(path: str | None):
    if not path:
        yield
        return
    from pyinstrument import Profiler  # `uv pip install pyinstrument`; not a project dependency

    profiler = Profiler(async_mode="disabled", interval=0.0005)
    profiler.start()
    try:
        yield
    finally:
        profiler.stop()
        Path(path).write_text(profiler.output_text(unicode=False, color=False, show_all=False))
        print(f"profile written to {path}", file=sys.stderr)


async def bench(
    infra: TestInfrastructure, events: int, real_events: int, paced_rate: float, only: str | None, profile: str | None
) -> list[tuple]:
    size = envelope_size()
    load_before = os.getloadavg()[0]
    rows = []
    raw = None
    if only in (None, "raw"):
        raw = await raw_baseline(infra.amqp_url, events, size)
        rows.append(("raw aio-pika (confirms, quorum)", events, raw))

    if only in (None, "real10", "real1", "paced"):
        settings = infra.settings(AuditSettings, log_level="WARNING")
        app = create_audit_app(settings)
        producer_settings = infra.settings(service_name=PRODUCER_SERVICE, log_level="WARNING")
        engine = create_engine(infra.database_url(PRODUCER_SERVICE))
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        relay = OutboxRelay(
            service=PRODUCER_SERVICE,
            engine=engine,
            amqp_url=producer_settings.amqp_url,
            exchange_name=producer_settings.events_exchange,
            batch_size=producer_settings.outbox_batch_size,
            poll_interval=producer_settings.outbox_poll_interval,
        )
        try:
            async with running(app), relaying(relay):
                # warm up: connections, topology, statement caches
                await real_path(app.state.engine, sessions, 200, 10, BenchPaced)
                with profiling(profile):
                    for name, per_tx, contract in (("real10", 10, BenchBatched), ("real1", 1, BenchSingle)):
                        if only in (None, name):
                            result = await real_path(app.state.engine, sessions, real_events, per_tx, contract)
                            rows.append((f"real, {per_tx} event(s)/tx", real_events, result))
                if only in (None, "paced") and paced_rate:
                    # below capacity: latency without a backlog
                    paced_events = int(paced_rate * PACED_SECONDS)
                    result = await real_path(app.state.engine, sessions, paced_events, 1, BenchPaced, paced_rate)
                    rows.append((f"real, 1/tx, paced {paced_rate:g}/s", paced_events, result))
        finally:
            await engine.dispose()

    table = []
    for path, n, r in rows:
        ratio = f"{(n / r['seconds']) / (events / raw['seconds']):.2f}" if raw else "-"
        table.append((path, n, r["seconds"], n / r["seconds"], r["p50"], r["p99"], ratio))
    print(
        f"\nenvelope {size} bytes, {os.cpu_count()} CPUs, one process, loop {type(asyncio.get_running_loop()).__module__},"
        f" load average before {load_before:.2f} / after {os.getloadavg()[0]:.2f} (other work on the machine skews the figures)"
    )
    return table


def print_table(table: list[tuple]) -> None:
    header = ("path", "events", "seconds", "events/s", "p50 ms", "p99 ms", "x raw")
    print(f"{header[0]:<34} {header[1]:>7} {header[2]:>8} {header[3]:>9} {header[4]:>8} {header[5]:>8} {header[6]:>6}")
    for path, n, seconds, rate, p50, p99, ratio in table:
        print(f"{path:<34} {n:>7} {seconds:>8.2f} {rate:>9.0f} {p50:>8.1f} {p99:>8.1f} {ratio:>6}")


def _interrupt(*_):
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20000, help="events of the raw baseline (default 20000)")
    parser.add_argument(
        "--real-events",
        type=int,
        help="events of each real path (default: events/4, so that a run stays well under 2 minutes;"
        " the real path is 3-5x slower than the baseline here)",
    )
    parser.add_argument("--paced-rate", type=float, default=100.0, help="events/s of the paced latency run (0: skip)")
    parser.add_argument("--only", choices=("raw", "real10", "real1", "paced"), help="run one path only")
    parser.add_argument("--profile", metavar="FILE", help="pyinstrument text profile of the real paths")
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    args = parser.parse_args()

    loop_factory = None
    if args.loop == "uvloop":
        import uvloop

        loop_factory = uvloop.new_event_loop
    signal.signal(signal.SIGTERM, _interrupt)  # clean up on kill as on Ctrl-C

    with _own_vhost(LOCAL_AMQP) as (vhost, amqp_url):
        infra = TestInfrastructure(LOCAL_POSTGRES, amqp_url, f"bench_{uuid.uuid4().hex[:8]}", vhost)
        try:
            print(f"preparing databases {infra.database_prefix}_* and vhost {vhost} ...", file=sys.stderr)
            with asyncio.Runner(loop_factory=asyncio.new_event_loop) as runner:
                runner.run(_create_databases(infra))
            with asyncio.Runner(loop_factory=loop_factory) as runner:
                table = runner.run(
                    bench(infra, args.events, args.real_events or max(1, args.events // 4), args.paced_rate, args.only,
                          args.profile)
                )
            print_table(table)
        finally:
            # a second Ctrl-C here would leave the databases: ignore it while they are dropped
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
            try:
                asyncio.run(_drop_databases(infra))
            finally:
                signal.signal(signal.SIGINT, previous)
            print(f"dropped {infra.database_prefix}_* and vhost {vhost}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; databases and vhost removed", file=sys.stderr)
        sys.exit(130)
