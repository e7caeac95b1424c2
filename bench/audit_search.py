"""Searching 1,000,000 stored audit events by text and date range, through the real route.

    uv run python bench/audit_search.py [--events 1000000] [--queries 200] [--keep]

Creates its own database `bench_audit_<pid>` on the local PostgreSQL, applies the audit
migrations, loads N events with COPY (asyncpg, streamed from a generator: never all in memory),
then sends GET /api/v1/audit-events requests to the real audit app (create_app; httpx
ASGITransport, a real signed token checked against a real JWKS endpoint) and prints p50/p99 per
kind of query. The database is dropped at the end (also on Ctrl-C / SIGTERM) unless --keep.

Bulk load as one would do it for real: the secondary indexes of audit_events and audit_chain are
dropped before COPY and built again after it (their definitions come from audit.db, so they are the
service's own), then ANALYZE. The orgs' hash chains are loaded too (audit.bulk_load.copy_records):
an org's newest records, the dashboard's list, are read through its chain.

The data: 40 orgs of very unequal size (the largest sees about a fifth of all events), one in ten
events shared by two orgs (transfers), 2,000 members with emails, messages from the service's
own templates (audit.domain.records.describe) over products, companies, projects and
entitlement ids, spread over two years. No assertions: it prints figures (bench/README.md).
"""

import argparse
import asyncio
import contextlib
import os
import random
import signal
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

os.environ.setdefault("LOG_LEVEL", "WARNING")

import asyncpg  # noqa: E402
import httpx  # noqa: E402
import jwt  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from sqlalchemy.dialects import postgresql  # noqa: E402

from audit.bulk_load import copy_records  # noqa: E402
from audit.db import audit_chain, audit_events  # noqa: E402
from audit.domain.records import describe  # noqa: E402
from audit.domain.subjects import subject_ids  # noqa: E402
from audit.main import create_app  # noqa: E402
from audit.settings import AuditSettings  # noqa: E402
from shared.devtools import ensure_database, migrate  # noqa: E402
from shared.settings import ServiceSettings  # noqa: E402
from shared.testing import KEY_ID, LOCAL_POSTGRES, serving  # noqa: E402

ORGS = 40
MEMBERS = 2_000
SPAN = timedelta(days=730)
END = datetime(2026, 11, 1, tzinfo=UTC)
PRODUCTS = [f"{a} {b}" for a in ("Core", "Edge", "Vision", "Audio", "Control", "Secure", "Cloud", "Signal")
            for b in ("Server", "Gateway", "Suite", "Player", "Recorder", "Analytics")]
COMPANIES = [f"{a} {b}" for a in ("Northwind", "Contoso", "Fabrikam", "Tailspin", "Wingtip", "Adventure", "Litware",
                                  "Proseware", "Lucerne", "Margie", "Woodgrove", "Coho", "Alpine", "Fourth", "Humongous")
             for b in ("Systems", "Integration", "Security", "Media", "Networks", "Partners", "AV", "Solutions")]
FIRST = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj",
         "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yolanda")
LAST = ("smith", "jones", "garcia", "miller", "davis", "martin", "lee", "walker", "hall", "young", "king", "wright")
ROLES = ("admin", "project_manager", "technician", "support", "auditor", "viewer")


def make_world(rng: random.Random):
    orgs = [uuid.uuid4() for _ in range(ORGS)]
    weights = [1 / (rank + 1) for rank in range(ORGS)]  # Zipf-like: org 0 is the busiest
    members = []
    for i in range(MEMBERS):
        org = rng.choices(orgs, weights)[0]
        email = f"{rng.choice(FIRST)}.{rng.choice(LAST)}{i}@{rng.choice(COMPANIES).split()[0].lower()}.test"
        members.append((uuid.uuid4(), org, email))
    by_org: dict[uuid.UUID, list] = {org: [] for org in orgs}
    for member in members:
        by_org[member[1]].append(member)
    return orgs, weights, members, by_org


def events(rng: random.Random, count: int, orgs, weights, members, by_org):
    """Records for copy_records, generated one at a time, oldest first."""
    step = SPAN / count
    start = END - SPAN
    for i in range(count):
        org = rng.choices(orgs, weights)[0]
        actor = rng.choice(by_org[org] or members)
        other = rng.choice(orgs)
        kind = rng.random()
        if kind < 0.25:
            event_type, payload = "identity.session.started", {"member_id": str(actor[0]), "org_id": str(org), "email": actor[2]}
        elif kind < 0.35:
            newcomer = rng.choice(members)
            event_type, payload = "identity.member.created", {
                "member_id": str(newcomer[0]), "org_id": str(org), "email": newcomer[2], "role": rng.choice(ROLES)}
        elif kind < 0.55:
            event_type, payload = "entitlements.transfer.completed", {
                "transfer_id": str(uuid.uuid4()), "from_org_id": str(org), "to_org_id": str(other),
                "entitlement_id": f"ENT-{rng.randrange(100_000):06d}", "product_id": str(uuid.uuid4()),
                "product_name": rng.choice(PRODUCTS), "quantity": rng.randrange(1, 500), "action": rng.choice(("transfer", "split"))}
        elif kind < 0.75:
            event_type, payload = "entitlements.activation.created", {
                "activation_id": str(uuid.uuid4()), "org_id": str(org), "entitlement_id": f"ENT-{rng.randrange(100_000):06d}",
                "product_id": str(uuid.uuid4()), "product_name": rng.choice(PRODUCTS), "quantity": rng.randrange(1, 50),
                "project_name": f"{rng.choice(COMPANIES)} site {rng.randrange(1000)}"}
        elif kind < 0.9:
            event_type, payload = "orgs.organization.created", {
                "org_id": str(uuid.uuid4()), "name": f"{rng.choice(COMPANIES)} {rng.randrange(10_000)}",
                "tier": rng.choice(("integrator", "customer")), "parent_id": str(org)}
        else:
            event_type, payload = "orgs.representative.added", {
                "org_id": str(other), "representative_id": str(uuid.uuid4()),
                "email": f"{rng.choice(FIRST)}.{rng.choice(LAST)}@{rng.choice(COMPANIES).split()[0].lower()}.test"}
        record = describe(event_type, payload)
        visible_to = [org, other] if event_type == "entitlements.transfer.completed" and other != org else [org]
        row = {
            "event_id": uuid.uuid4(), "type": event_type, "category": record.category, "message": record.message,
            "occurred_at": start + step * i, "producer": event_type.split(".")[0], "actor_org_id": org,
            "actor_user_id": actor[0], "visible_to": visible_to, "subject_ids": subject_ids(payload, org, actor[0]),
            "correlation_id": None, "payload": payload,
        }
        yield row


async def load(dsn: str, count: int, rng: random.Random, world) -> dict[str, float]:
    orgs, weights, members, by_org = world
    connection = await asyncpg.connect(dsn)
    timings = {}
    try:
        await connection.execute("SET maintenance_work_mem = '512MB'")
        indexes = [*audit_events.indexes, *audit_chain.indexes]
        for index in indexes:
            await connection.execute(f"DROP INDEX {index.name}")
        await connection.copy_records_to_table(
            "audit_members", records=members, columns=("member_id", "org_id", "email"))
        started = time.perf_counter()
        await copy_records(connection, events(rng, count, orgs, weights, members, by_org))
        timings["COPY with the chains (generating rows as it goes)"] = time.perf_counter() - started
        started = time.perf_counter()
        for index in indexes:
            await connection.execute(str(sa.schema.CreateIndex(index).compile(dialect=postgresql.dialect())))
        timings["building the indexes"] = time.perf_counter() - started
        started = time.perf_counter()
        await connection.execute("VACUUM ANALYZE audit_events")
        await connection.execute("VACUUM ANALYZE audit_chain")
        await connection.execute("ANALYZE audit_members")
        timings["VACUUM ANALYZE"] = time.perf_counter() - started
        timings["database size (MB)"] = await connection.fetchval("SELECT pg_database_size(current_database())") / 1e6
    finally:
        await connection.close()
    return timings


def query_mix(rng: random.Random, world, queries: int) -> dict[str, list[dict]]:
    orgs, weights, members, _ = world
    terms = ([p.split()[0] for p in PRODUCTS] + [p for p in rng.sample(PRODUCTS, 10)] + [c.split()[0] for c in COMPANIES]
             + ["signed in", "split", "joined as Auditor", "representative", "site 42", "Customer"]
             + [f"ENT-{rng.randrange(100_000):06d}" for _ in range(20)] + [m[2].split("@")[0] for m in rng.sample(members, 20)])

    def window() -> dict:
        length = rng.choice((timedelta(days=1), timedelta(days=7), timedelta(days=30), timedelta(days=90)))
        begin = END - SPAN + (SPAN - length) * rng.random()
        return {"from": begin.isoformat(), "to": (begin + length).isoformat()}

    def org() -> uuid.UUID:
        return rng.choices(orgs, weights)[0]

    return {
        "text": [{"org": org(), "params": {"search": rng.choice(terms)}} for _ in range(queries)],
        "date range": [{"org": org(), "params": window()} for _ in range(queries)],
        "text + date range": [{"org": org(), "params": {"search": rng.choice(terms)} | window()} for _ in range(queries)],
        "text, busiest org": [{"org": orgs[0], "params": {"search": rng.choice(terms)}} for _ in range(queries)],
        "newest 20 (dashboard)": [{"org": org(), "params": {"limit": 20}} for _ in range(queries)],
    }


async def measure(app, keys_url: str, key, mix, clients: int = 1) -> dict[str, tuple]:
    """Per kind: p50, p99 and max ms, mean rows, and requests/s with `clients` requests at once."""
    def token(org: uuid.UUID) -> str:
        now = int(time.time())
        claims = {"sub": str(uuid.uuid4()), "org": str(org), "tier": "distributor", "role": "admin", "aud": "licensing",
                  "iss": "licensing-identity", "iat": now, "exp": now + 3600}
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": KEY_ID})

    results, slowest = {}, []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://audit") as client:
        warm = mix["text"][0]
        await client.get("/api/v1/audit-events", params=warm["params"], headers={"Authorization": f"Bearer {token(warm['org'])}"})
        for kind, requests in mix.items():
            latencies, found, waiting = [], [], iter(requests)

            async def one_client() -> None:
                for request in waiting:
                    headers = {"Authorization": f"Bearer {token(request['org'])}"}
                    started = time.perf_counter()
                    response = await client.get("/api/v1/audit-events", params=request["params"], headers=headers)
                    latencies.append((time.perf_counter() - started) * 1000)
                    slowest.append((latencies[-1], kind, request["params"].get("search"), request["org"]))
                    response.raise_for_status()
                    found.append(len(response.json()["items"]))

            began = time.perf_counter()
            await asyncio.gather(*(one_client() for _ in range(clients)))
            per_second = len(requests) / (time.perf_counter() - began)
            latencies.sort()
            p99 = latencies[min(len(latencies) - 1, round(0.99 * len(latencies)) - 1)]
            results[kind] = (statistics.median(latencies), p99, latencies[-1], statistics.mean(found), per_second)
    return results, sorted(slowest, key=lambda s: s[0], reverse=True)[:8]


async def world_of(dsn: str):
    """The orgs (busiest first) and members of a database loaded by an earlier --keep run."""
    connection = await asyncpg.connect(dsn)
    try:
        orgs = [row["org"] for row in await connection.fetch(
            "SELECT org, count(*) FROM audit_events, unnest(visible_to) AS org GROUP BY org ORDER BY count(*) DESC")]
        members = [tuple(row) for row in await connection.fetch("SELECT member_id, org_id, email FROM audit_members")]
    finally:
        await connection.close()
    return orgs, [1 / (rank + 1) for rank in range(len(orgs))], members, None


async def main(count: int, queries: int, keep: bool, reuse: str | None, clients: int) -> None:
    database = reuse or f"bench_audit_{os.getpid()}"
    dsn = f"{LOCAL_POSTGRES.replace('+asyncpg', '')}/{database}"
    rng = random.Random(20261123)
    if reuse:
        keep, timings, total_load, world = True, {}, 0.0, await world_of(dsn)
    else:
        await ensure_database(ServiceSettings(postgres_dsn=LOCAL_POSTGRES), database)
    try:
        if not reuse:
            await asyncio.to_thread(migrate, "audit", f"{LOCAL_POSTGRES}/{database}")
            world = make_world(rng)
            started = time.perf_counter()
            timings = await load(dsn, count, rng, world)
            total_load = time.perf_counter() - started

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
        keys = FastAPI()
        keys.get("/.well-known/jwks.json")(lambda: {"keys": [{**public, "kid": KEY_ID, "use": "sig", "alg": "RS256"}]})
        async with serving(keys) as keys_url:
            app = create_app(AuditSettings(database_url=f"{LOCAL_POSTGRES}/{database}", identity_url=keys_url))
            mix = query_mix(rng, world, queries)
            results, slowest = await measure(app, keys_url, key, mix)
            at_once, _ = await measure(app, keys_url, key, mix, clients)
            await app.state.engine.dispose()

        print(f"\nreused {database}" if reuse else f"\nloaded {count:,} events in {total_load:.1f} s")
        for name, value in timings.items():
            print(f"  {name:<36} {value:8.1f}")
        print(f"\n{queries} requests per kind, GET /api/v1/audit-events (limit 50 unless said), one at a time")
        print(f"  {'kind':<24} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'mean rows':>10}")
        for kind, (p50, p99, worst, rows, _) in results.items():
            print(f"  {kind:<24} {p50:8.1f} {p99:8.1f} {worst:8.1f} {rows:10.1f}")
        print(f"\nthe same requests, {clients} at once (one audit process, as deployed)")
        print(f"  {'kind':<24} {'per s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
        for kind, (p50, p99, worst, _, per_second) in at_once.items():
            print(f"  {kind:<24} {per_second:8.0f} {p50:8.1f} {p99:8.1f} {worst:8.1f}")
        print("\nthe slowest requests (to EXPLAIN with --keep):")
        for took, kind, term, org in slowest:
            print(f"  {took:8.1f} ms  {kind:<24} search={term!r}  org={org} (rank {world[0].index(org)})")
    finally:
        if not keep:
            connection = await asyncpg.connect(f"{LOCAL_POSTGRES.replace('+asyncpg', '')}/postgres")
            try:
                await connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            finally:
                await connection.close()


def _interrupted(*_) -> None:
    """SIGTERM ends the run like Ctrl-C, so the finally block drops the database."""
    raise KeyboardInterrupt


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the database (for EXPLAIN)")
    parser.add_argument("--database", help="measure again on a database an earlier --keep run loaded")
    parser.add_argument("--clients", type=int, default=64, help="the concurrent round's clients")
    arguments = parser.parse_args()
    signal.signal(signal.SIGTERM, _interrupted)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(arguments.events, arguments.queries, arguments.keep, arguments.database, arguments.clients))
