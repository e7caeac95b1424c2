"""The raw baseline of a transfer: what the platform cannot beat, measured on this machine.

    uv run python bench/raw_transfer_baseline.py [--transfers 5000] [--clients 64]

One transfer, done by hand with plain asyncpg and aio-pika and nothing else: in one database
transaction, lock the source holding (FOR UPDATE), move one license to the destination holding,
write the two ledger rows and one outbox row; after the commit, publish the event with publisher
confirms (persistent, mandatory) to a quorum queue. 64 clients, one holding for all of them (as in
bench/transfers_end_to_end.py, where every split comes from the same distributor holding).
A transfer is done when its publish is confirmed.

Works on a database and a vhost of its own, removed at the end. Nothing asserted; it prints
transfers/s, p50 and p99. bench/transfers_end_to_end.py runs it in the same run as the real path
and prints the ratio.
"""

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid

import aio_pika
import asyncpg

from shared.testing import LOCAL_AMQP, LOCAL_POSTGRES, _own_vhost

SCHEMA = """
CREATE TABLE holdings (id bigint PRIMARY KEY, available bigint NOT NULL CHECK (available >= 0));
CREATE TABLE ledger_entries (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, holding_id bigint NOT NULL,
    transfer_id uuid NOT NULL, kind text NOT NULL, quantity bigint NOT NULL, at timestamptz NOT NULL DEFAULT now());
CREATE TABLE outbox (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, event_id uuid NOT NULL UNIQUE,
    routing_key text NOT NULL, body jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
"""
SOURCE, DESTINATION = 1, 2


async def one_transfer(pool: asyncpg.Pool, exchange: aio_pika.abc.AbstractExchange) -> None:
    transfer_id, event_id = uuid.uuid4(), uuid.uuid4()
    body = json.dumps({"event_id": str(event_id), "type": "entitlements.transfer.completed",
                       "payload": {"transfer_id": str(transfer_id), "quantity": 1}})
    async with pool.acquire() as connection, connection.transaction():
        await connection.fetchval("SELECT available FROM holdings WHERE id = $1 FOR UPDATE", SOURCE)
        await connection.execute("UPDATE holdings SET available = available - 1 WHERE id = $1", SOURCE)
        await connection.execute("UPDATE holdings SET available = available + 1 WHERE id = $1", DESTINATION)
        await connection.executemany(
            "INSERT INTO ledger_entries (holding_id, transfer_id, kind, quantity) VALUES ($1, $2, $3, $4)",
            [(SOURCE, transfer_id, "transfer_out", -1), (DESTINATION, transfer_id, "transfer_in", 1)])
        await connection.execute("INSERT INTO outbox (event_id, routing_key, body) VALUES ($1, $2, $3::jsonb)",
                                 event_id, "entitlements.transfer.completed", body)
    await exchange.publish(
        aio_pika.Message(body.encode(), message_id=str(event_id), content_type="application/json",
                         delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
        routing_key="entitlements.transfer.completed", mandatory=True, timeout=10)


async def raw_transfer_baseline(postgres_dsn: str, amqp_url: str, transfers: int, clients: int) -> dict:
    """transfers/s, p50 and p99 (ms) of the hand-made transfer on a database of its own."""
    server = postgres_dsn.replace("+asyncpg", "")
    database = f"bench_raw_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(f"{server}/postgres")
    await admin.execute(f'CREATE DATABASE "{database}"')
    try:
        pool = await asyncpg.create_pool(f"{server}/{database}", min_size=clients // 4, max_size=clients // 4)
        connection = await aio_pika.connect(amqp_url)
        try:
            await pool.execute(SCHEMA)
            await pool.execute("INSERT INTO holdings VALUES ($1, $3), ($2, 0)", SOURCE, DESTINATION, transfers)
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            exchange = await channel.declare_exchange("bench.raw.transfers", aio_pika.ExchangeType.TOPIC, durable=True)
            queue = await channel.declare_queue("bench.raw.transfers", durable=True,
                                                arguments={"x-queue-type": "quorum"})
            await queue.bind(exchange, routing_key="#")
            latencies: list[float] = []
            remaining = iter(range(transfers))

            async def client() -> None:
                for _ in remaining:
                    began = time.perf_counter()
                    await one_transfer(pool, exchange)
                    latencies.append(time.perf_counter() - began)

            started = time.perf_counter()
            await asyncio.gather(*(client() for _ in range(clients)))
            seconds = time.perf_counter() - started
            moved = await pool.fetchval("SELECT available FROM holdings WHERE id = $1", DESTINATION)
            assert moved == transfers, f"the baseline lost transfers: {moved} of {transfers}"
            await queue.delete(if_unused=False, if_empty=False)
            await exchange.delete()
        finally:
            await connection.close()
            await pool.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()
    latencies.sort()
    return {"per_second": transfers / seconds, "p50": statistics.median(latencies) * 1000,
            "p99": latencies[int(0.99 * (len(latencies) - 1))] * 1000}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transfers", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=64)
    args = parser.parse_args()
    with _own_vhost(LOCAL_AMQP) as (_, amqp_url):
        result = asyncio.run(raw_transfer_baseline(LOCAL_POSTGRES, amqp_url, args.transfers, args.clients))
    print(f"raw transfer (asyncpg + aio-pika, {args.clients} clients): {result['per_second']:.0f}/s,"
          f" p50 {result['p50']:.1f} ms, p99 {result['p99']:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
