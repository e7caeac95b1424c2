"""Where a transfer's end-to-end latency goes, hop by hop, at a few paced rates below capacity.

    uv run python bench/transfer_hops.py [--rates 10,30,50] [--seconds 15] [--spinner]

Starts the whole system as `make run` does (bench/system_run.py), prepares a distributor holding
as bench/transfers_end_to_end.py does, and sends transfers through the gateway at each rate in
turn. Then it reads the hops off the services' own tables, all on the database's clock:

  POST → relay claims          transfers.requested_at → the transfers outbox row's published_at
                               (set when the relay claims the row, before it publishes)
  publish → entitlements       that claim → entitlements' inbox received_at for the request (the
                               start of the transaction that applies it)
  ledger → relay claims        entitlements' transaction start → its outbox row claimed
                               (the ledger's work, the commit, the relay's wake-up)
  publish → transfers          that claim → transfers' inbox received_at for the outcome
  publish → audit              that claim → audit's recorded_at for the completion
  end to end                   requested_at → the later of transfers' and audit's

Each rate runs on its own holding's transfers, counted by requested_at. No assertions: it prints
the system's CPU while idle (5 s, before the first rate), then per rate p50 / p90 / p99 per hop,
the CPU per transfer of each process, and how busy the machine's cores were: the system's
processes, this load client, the rest (the mail sink, the machine's own).

With --spinner, a busy loop per core runs at the lowest priority (nice 19) during each rate: it
takes only CPU that nothing else wants, and shows how much of the cores the system kept busy
only because they were free (bench/README.md).
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from process_cpu import machine_busy, own_cpu, per_unit, snapshot  # noqa: E402
from system_run import connect, own_infrastructure, pg, running_system  # noqa: E402
from transfers_end_to_end import load, prepare  # noqa: E402

HOPS = ("POST → relay claims", "publish → entitlements", "ledger → relay claims", "publish → transfers",
        "publish → audit", "end to end")


async def hops_since(infra, since: float) -> dict[str, list[float]]:
    """Milliseconds per hop of every transfer completed since `since` (epoch seconds)."""
    transfers, entitlements, audit = [await connect(pg(infra, name)) for name in ("transfers", "entitlements", "audit")]
    try:
        requests = await transfers.fetch(
            "SELECT t.id::text AS transfer_id, t.requested_at, o.published_at AS claimed, o.event_id"
            " FROM transfers t JOIN outbox o ON o.routing_key = 'transfers.transfer.requested'"
            "  AND o.body->'payload'->>'transfer_id' = t.id::text"
            " WHERE t.status = 'completed' AND t.requested_at >= to_timestamp($1)", since)
        outcomes = {row["transfer_id"]: row for row in await entitlements.fetch(
            "SELECT o.body->'payload'->>'transfer_id' AS transfer_id, o.created_at AS began, o.published_at AS claimed,"
            " o.event_id FROM outbox o"
            " WHERE o.routing_key = 'entitlements.transfer.completed' AND o.created_at >= to_timestamp($1)", since)}
        request_received = {row["event_id"]: row["received_at"] for row in await entitlements.fetch(
            "SELECT event_id, received_at FROM inbox WHERE received_at >= to_timestamp($1)", since)}
        outcome_received = {row["event_id"]: row["received_at"] for row in await transfers.fetch(
            "SELECT event_id, received_at FROM inbox WHERE received_at >= to_timestamp($1)", since)}
        audited = {row["transfer_id"]: row["recorded_at"] for row in await audit.fetch(
            "SELECT payload->>'transfer_id' AS transfer_id, recorded_at FROM audit_events"
            " WHERE type = 'entitlements.transfer.completed' AND recorded_at >= to_timestamp($1)", since)}
    finally:
        for conn in (transfers, entitlements, audit):
            await conn.close()

    def ms(start, end) -> float:
        return (end - start).total_seconds() * 1000

    hops: dict[str, list[float]] = {hop: [] for hop in HOPS}
    for request in requests:
        outcome = outcomes.get(request["transfer_id"])
        if (outcome is None or request["transfer_id"] not in audited or outcome["event_id"] not in outcome_received
                or request["event_id"] not in request_received):
            continue
        recorded, in_audit = outcome_received[outcome["event_id"]], audited[request["transfer_id"]]
        for hop, value in zip(HOPS, (
                ms(request["requested_at"], request["claimed"]), ms(request["claimed"], request_received[request["event_id"]]),
                ms(outcome["began"], outcome["claimed"]), ms(outcome["claimed"], recorded),
                ms(outcome["claimed"], in_audit), ms(request["requested_at"], max(recorded, in_audit))), strict=True):
            hops[hop].append(value)
    return hops


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[int(share * (len(ordered) - 1))]


def _spinners(seconds: float) -> list[subprocess.Popen]:
    loop = f"import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end: pass"
    return [subprocess.Popen(["nice", "-n", "19", sys.executable, "-c", loop]) for _ in range(os.cpu_count() or 1)]


async def bench(system, rates: list[float], seconds: float, spinner: bool) -> None:
    infra = system.infra
    async with aiohttp.ClientSession() as session:
        setup = await prepare(session, system.base, infra, quantity=int(sum(rates) * seconds) + 10)
        # The system's own CPU with no load (pollers, timers): what every rate pays besides its transfers.
        idle_before, idle_started = snapshot(system.process.pid, infra.database_prefix), time.monotonic()
        await asyncio.sleep(5)
        idle = per_unit(idle_before, snapshot(system.process.pid, infra.database_prefix), 1)
        idle_seconds = time.monotonic() - idle_started
        print(f"idle: {sum(ms for _, ms in idle) / idle_seconds / 10:.1f}% of one core; busiest: "
              + ", ".join(f"{name} {ms / idle_seconds / 10:.1f}%" for name, ms in idle[:4]))
        for rate in rates:
            since, started = time.time(), time.monotonic()
            before, busy_before, client_before = snapshot(system.process.pid, infra.database_prefix), machine_busy(), own_cpu()
            spinners_before, spinners = own_cpu(children=True), _spinners(seconds) if spinner else []
            result = await load(setup["distributor"], setup["body"], int(rate * seconds), 64, infra, rate)
            cpu = per_unit(before, snapshot(system.process.pid, infra.database_prefix), result["accepted_count"])
            busy, client, wall = machine_busy(), own_cpu() - client_before, time.monotonic() - started
            for process in spinners:
                process.wait()
            spun = own_cpu(children=True) - spinners_before  # the spinners, now waited for
            hops = await hops_since(infra, since)
            print(f"\npaced at {rate:g}/s for {seconds:g} s: {len(hops['end to end'])} transfers completed;"
                  f" accepted p50 {result['accepted_p50']:.1f} ms; CPU {sum(ms for _, ms in cpu):.1f} ms per transfer"
                  f" ({rate * sum(ms for _, ms in cpu) / 10:.0f}% of one core)")
            print("  CPU ms per transfer: " + ", ".join(f"{name} {ms:.2f}" for name, ms in cpu if ms >= 0.05))
            cores = {"the system's processes": sum(ms for _, ms in cpu) * result["accepted_count"] / 1000 / wall,
                     "this load client": client / wall, "the idle-priority spinners": spun / wall}
            cores["the rest"] = (busy[0] - busy_before[0]) / wall - sum(cores.values())
            print(f"  cores busy: {(busy[0] - busy_before[0]) / (busy[1] - busy_before[1]) * (os.cpu_count() or 1):.2f}"
                  f" of {os.cpu_count()}: " + ", ".join(f"{name} {value:.2f}" for name, value in cores.items()
                                                    if spinner or name != "the idle-priority spinners"))
            print(f"  {'hop':<26} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8}")
            for hop, values in hops.items():
                if values:
                    print(f"  {hop:<26} {statistics.median(values):>8.1f} {_percentile(values, 0.9):>8.1f}"
                          f" {_percentile(values, 0.99):>8.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="10,30,50", help="transfers per second, comma-separated")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--spinner", action="store_true", help="an idle-priority busy loop per core during each rate")
    args = parser.parse_args()
    rates = [float(rate) for rate in args.rates.split(",")]
    with own_infrastructure("hops") as infra, running_system(infra, Path(f"/tmp/{infra.database_prefix}")) as system:
        asyncio.run(bench(system, rates, args.seconds, args.spinner))
    return 0


if __name__ == "__main__":
    sys.exit(main())
