"""One seed's chaos run on a running system: set up its world, start the load, apply the fault
schedule while it runs (after each fault, wait for processing to resume and time it), let the
system drain once the load stopped, then check. Returns a report; nothing here asserts."""

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
import asyncpg

from bench.chaos.checks import (
    MAILED_EVENTS, Check, client_checks, licenses_of_activations, published_events, reservations, system_checks,
    unpublished_count,
)
from bench.chaos.faults import Faults
from bench.chaos.load import Load, LoadResult, post
from bench.chaos.plan import Fault, Size, make_plan
from bench.chaos.world import Cast, set_up
from bench.system_run import RunningSystem, connect, pg

RECOVERY_LIMIT = 30.0  # seconds from the end of a fault to processing resumed, without a manual step
RECOVERY_WAIT = 90.0  # how long to keep looking before calling it not recovered
DRAIN_TIMEOUT = 120.0
# The machine's PostgreSQL allows 100 connections for every run on it; the services' default pools
# (10 each) would take most of them, and reconnect all at once after a fault.
# The local sink answers at once: a short SMTP timeout keeps notify's lease on a mail short (after
# a crash mid-send, the mail waits for the lease to end).
# A few users and one address drive the whole load: the device API's limits per key and address,
# and the claim code throttles, would be what the run measures.
SYSTEM_SETTINGS = {"DB_POOL_SIZE": "5", "SMTP_TIMEOUT": "5", "DEVICE_RATE_PER_KEY": "0",
                   "DEVICE_RATE_PER_ADDRESS": "0", "CLAIM_ATTEMPTS_PER_ORG": "100000",
                   "CLAIM_ATTEMPTS_PER_ADDRESS": "100000", "CLAIM_ATTEMPTS_TOTAL": "100000"}


@dataclass
class FaultOutcome:
    fault: Fault
    at: float  # seconds since the load started
    did: str
    recovery: float | None  # None: not recovered within RECOVERY_WAIT
    canary: str | None = None  # the transfer that showed processing resumed
    waited_for: str = ""  # what recovery waited for last


@dataclass
class SeedReport:
    seed: int
    fingerprint: str
    load: LoadResult
    faults: list[FaultOutcome]
    drain_seconds: float | None
    checks: list[Check]
    phases: dict[str, float]  # seconds spent setting up, under load and faults, draining, checking
    recovery_limit: float | None  # None: recovering at all (within RECOVERY_WAIT) is enough

    def too_slow(self, outcome: FaultOutcome) -> bool:
        return outcome.recovery is None or (self.recovery_limit is not None and outcome.recovery > self.recovery_limit)

    @property
    def recovery_ok(self) -> bool:
        return not any(self.too_slow(f) for f in self.faults)

    @property
    def ok(self) -> bool:
        return self.recovery_ok and all(check.ok for check in self.checks)

    def failures(self) -> list[str]:
        failed = [check.name for check in self.checks if not check.ok]
        return failed + ([] if self.recovery_ok else ["recovery"])


async def _value(system: RunningSystem, service: str, query: str, *args):
    conn = await connect(pg(system.infra, service))
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


# Where each part of the pipeline leaves a timestamp when it works: the consumers' inboxes, the
# relays' publications, audit's stored events and notify's sent mail.
_PROGRESS = {
    "entitlements": ("SELECT max(received_at) FROM inbox", "SELECT max(published_at) FROM outbox"),
    "transfers": ("SELECT max(received_at) FROM inbox", "SELECT max(published_at) FROM outbox"),
    "audit": ("SELECT max(recorded_at) FROM audit_events",),
    "notify": ("SELECT max(received_at) FROM inbox", "SELECT max(sent_at) FROM notifications"),
}


async def _stalled(system: RunningSystem, since: datetime) -> list[str]:
    """The parts of the pipeline that have done nothing since `since`."""
    stalled = []
    for service, queries in _PROGRESS.items():
        for query in queries:
            last = await _value(system, service, query)
            if last is None or last <= since:
                stalled.append(f"{service}: {query}")
    return stalled


async def recovered(system: RunningSystem, cast: Cast, key: str) -> tuple[float | None, str | None, str]:
    """Seconds until every service is ready again, the gateway accepts a transfer, and every part
    of the pipeline (consumers, relays, audit, the mail sender) has worked since the fault ended.
    The transfer (a canary, 1 license) makes sure there is work for all of them. Also its id, and
    what was waited for last."""
    began, since = time.monotonic(), datetime.now(UTC)
    body = {"entitlement_id": cast.canary.entitlement_id, "product_id": cast.canary.product_id, "quantity": 1,
            "to_org_id": cast.orgs["canary"].id}
    answer = await post(cast.clients["distributor"], "/api/v1/transfers", body, key, deadline=RECOVERY_WAIT)
    if answer.status != 202:
        return None, None, f"the gateway accepting a transfer (last answer {answer.status})"
    waiting_for = "the gateway accepting a transfer"
    while time.monotonic() - began < RECOVERY_WAIT:
        try:
            unready = await asyncio.to_thread(system.unready)
            still = ", ".join([f"{name} ready" for name in unready] + await _stalled(system, since))
            if not still:
                return time.monotonic() - began, answer.body["id"], waiting_for
            waiting_for = still
        except (OSError, asyncpg.PostgresError):
            pass  # PostgreSQL itself is fine; a connection of ours may still meet the fault
        await asyncio.sleep(0.2)
    return None, answer.body["id"], waiting_for


async def apply_schedule(system: RunningSystem, cast: Cast, seed: int, faults: list[Fault],
                         broker_mode: str, started: float) -> list[FaultOutcome]:
    injector = Faults(system, broker_mode)
    outcomes = []
    for index, fault in enumerate(faults):
        await asyncio.sleep(fault.pause_before)
        at = time.monotonic() - started
        did = await injector.apply(fault)
        key = f"chaos-canary-{seed}-{index}-{uuid.uuid4().hex[:6]}"
        recovery, canary, waited_for = await recovered(system, cast, key)
        outcomes.append(FaultOutcome(fault, at, did, recovery, canary, waited_for))
    return outcomes


async def _licences_in_flight(system: RunningSystem) -> int:
    """Subscription licences the ledger has not settled (reserved or refused, converted once a
    customer's, released once deleted), activations the devices service has not made a license of
    (or revoked), pauses it has not applied: what their checks would call wrong, until they pass."""
    checks = [await reservations(system), await licenses_of_activations(system)]
    return sum(check.numbers[name] for check in checks for name in check.must_be_zero)


async def _in_flight(system: RunningSystem) -> int:
    """Work not done yet: pending transfers, unpublished events, events audit or notify has not
    handled, mail not sent, subscription licences and licenses not settled."""
    events = await published_events(system)
    mailed = [e for e, key in events.items() if key in MAILED_EVENTS]
    return (
        await _value(system, "transfers", "SELECT count(*) FROM transfers WHERE status = 'pending'")
        + await unpublished_count(system)
        + len(events) - await _value(system, "audit", "SELECT count(*) FROM audit_events WHERE event_id = ANY($1)",
                                      list(events))
        + len(mailed) - await _value(system, "notify", "SELECT count(DISTINCT event_id) FROM notifications"
                                                       " WHERE event_id = ANY($1)", mailed)
        + await _value(system, "notify", "SELECT count(*) FROM notifications WHERE state = 'queued'")
        + await _licences_in_flight(system)
    )


async def drain(system: RunningSystem, timeout: float = DRAIN_TIMEOUT) -> float | None:
    """Seconds until nothing is in flight; None: still busy after `timeout`."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if not await _in_flight(system):
            return time.monotonic() - began
        await asyncio.sleep(0.5)
    return None


async def run_seed(system: RunningSystem, seed: int, size: Size, broker_mode: str,
                   recovery_limit: float | None = RECOVERY_LIMIT) -> SeedReport:
    plan = make_plan(seed, size)
    began = time.monotonic()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        cast = await set_up(session, system, seed, plan.world)
        started = time.monotonic()
        phases = {"set up": started - began}
        stop = asyncio.Event()
        load = asyncio.create_task(Load(cast, plan.operations(), size.rate).run(stop, size.min_operations))
        try:
            faults = await apply_schedule(system, cast, seed, plan.faults, broker_mode, started)
        finally:
            stop.set()
            result = await load
    phases["load and faults"] = time.monotonic() - started
    drain_seconds = await drain(system)
    phases["drain"] = time.monotonic() - began - sum(phases.values())
    checks = await system_checks(system)
    canaries = {f.canary for f in faults if f.canary}
    checks.append(await client_checks(system, result, cast.org_ids(), canaries))
    phases["checks"] = time.monotonic() - began - sum(phases.values())
    return SeedReport(seed, plan.fingerprint(), result, faults, drain_seconds, checks, phases, recovery_limit)
