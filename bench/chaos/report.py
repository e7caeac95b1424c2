"""The printed report: per seed its plan's fingerprint, the load, each fault with its recovery
time, the drain, and every check's numbers; then one line per seed."""

from bench.chaos.runner import SeedReport


def _verdict(report: SeedReport) -> str:
    return "PASS" if report.ok else "FAIL: " + ", ".join(report.failures())


def _numbers(numbers: dict) -> str:
    return ", ".join(f"{name} {value}" for name, value in numbers.items())


def seed_report(report: SeedReport) -> str:
    load = report.load
    refused = ", ".join(f"{status}: {n}" for status, n in sorted(load.refused.items())) or "none"
    lines = [
        f"seed {report.seed}  (plan {report.fingerprint})  {_verdict(report)}",
        f"  load: {load.operations} operations, {load.requests} requests in {load.seconds:.1f} s, "
        f"{load.faulted_attempts} attempts met a fault and were retried; accepted: {len(load.transfers)} transfers, "
        f"{len(load.activations)} activations, {len(load.subscriptions)} subscription licences, "
        f"{len(load.devices)} devices; refused answers: {refused}",
    ]
    if load.outcomes:
        lines.append("  licences and devices: " + ", ".join(f"{what} {n}" for what, n in sorted(load.outcomes.items())))
    lines.append("  faults:")
    for outcome in report.faults:
        recovery = "NOT recovered" if outcome.recovery is None else f"recovered in {outcome.recovery:.1f} s"
        late = " (over the limit)" if outcome.recovery is not None and report.too_slow(outcome) else ""
        lines.append(f"    at {outcome.at:5.1f} s  {outcome.did:<55} {recovery}{late}")
        if report.too_slow(outcome):
            lines.append(f"    {'':<10}  waited longest for: {outcome.waited_for}")
    drained = "did NOT drain" if report.drain_seconds is None else f"drained in {report.drain_seconds:.1f} s"
    lines.append(f"  {drained} after the load stopped; time spent: "
                 + ", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in report.phases.items()))
    for check in report.checks:
        lines.append(f"  {check.name:<22} {'ok  ' if check.ok else 'FAIL'}  {_numbers(check.numbers)}")
        if not check.ok and check.examples:
            lines.append(f"  {'':<22}       e.g. {'; '.join(check.examples)}")
    return "\n".join(lines)


def summary(reports: list[SeedReport]) -> str:
    lines = ["", f"{'seed':>6}  {'plan':<12}  {'ops':>5}  {'transfers':>9}  {'activations':>11}  {'licences':>8}  "
                 f"{'devices':>7}  {'faults':>6}  {'worst recovery':>14}  result"]
    for r in reports:
        recoveries = [f.recovery for f in r.faults]
        worst = "none" if None in recoveries else f"{max(recoveries, default=0):.1f} s"
        lines.append(f"{r.seed:>6}  {r.fingerprint:<12}  {r.load.operations:>5}  {len(r.load.transfers):>9}  "
                     f"{len(r.load.activations):>11}  {len(r.load.subscriptions):>8}  {len(r.load.devices):>7}  "
                     f"{len(r.faults):>6}  {worst:>14}  "
                     f"{_verdict(r)}")
    passed = sum(r.ok for r in reports)
    lines.append(f"{passed} of {len(reports)} seeds passed")
    return "\n".join(lines)
