"""`make chaos`: seeded chaos runs against the whole system, each printing its report.

    uv run python -m bench.chaos [--seeds 3] [--seed 7 ...] [--short] [--broker restart|vhost]

Starts the system as `make run` does (deploy/run/run.py) on databases and a vhost of its own,
removed at the end, and runs seeds 1..N (or the ones named with --seed) one after the other on
it. Each seed sets up its own orgs, so the seeds do not interfere; the system checks cover
everything done so far. Exit status 1 if any seed failed; run that seed again to reproduce it.
"""

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from bench.chaos.faults import BROKER_MODES
from bench.chaos.plan import FULL, SHORT
from bench.chaos.report import seed_report, summary
from bench.chaos.runner import SYSTEM_SETTINGS, run_seed
from bench.system_run import own_infrastructure, running_system


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3, help="run seeds 1..N")
    parser.add_argument("--seed", type=int, action="append", help="run this seed (repeatable); wins over --seeds")
    parser.add_argument("--short", action="store_true", help="the short runs of the test suite")
    parser.add_argument("--broker", choices=BROKER_MODES, default="restart",
                        help="restart: the node's stop_app/start_app (default); vhost: the run's vhost only")
    args = parser.parse_args()
    seeds = args.seed or list(range(1, args.seeds + 1))
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    reports = []
    with own_infrastructure("chaos") as infra, \
            running_system(infra, Path(f"/tmp/{infra.database_prefix}"), SYSTEM_SETTINGS) as system:
        print(f"system ready (logs in {system.run_dir / 'logs'}); broker faults: {args.broker}", flush=True)
        for seed in seeds:
            report = asyncio.run(run_seed(system, seed, SHORT if args.short else FULL, args.broker))
            reports.append(report)
            print(seed_report(report), flush=True)
    print(summary(reports), flush=True)
    return 0 if all(r.ok for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
