"""CPU time per process of a running system, read from /proc (Linux), to say where a load's CPU
goes: per service process (the children of `make run`'s supervisord), per service database
(PostgreSQL backends, by database name) and RabbitMQ. Two snapshots around a load, divided by
the work done, give milliseconds of CPU per unit of work."""

import os
import resource

_TICKS = os.sysconf("SC_CLK_TCK")


def _parent(pid: str) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])


def cpu_seconds(pid: int | str) -> float:
    """CPU seconds one process has used so far (user + system)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _descendants(root: int) -> set[str]:
    children: dict[int, list[str]] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            children.setdefault(_parent(pid), []).append(pid)
        except OSError:
            continue  # gone meanwhile
    found, todo = set(), [str(root)]
    while todo:
        for child in children.get(int(todo.pop()), []):
            found.add(child)
            todo.append(child)
    return found


def _label(command: str, database_prefix: str, own: bool) -> str | None:
    if own and "uvicorn" in command and "--factory" in command:
        return command.split("--factory", 1)[1].split()[0].split(".")[0]
    if command.startswith("postgres:") and f" {database_prefix}_" in command:
        return "postgres: " + command.split(f" {database_prefix}_", 1)[1].split()[0]
    if "beam.smp" in command:
        return "rabbitmq (whole broker)"
    return None


def snapshot(root_pid: int, database_prefix: str) -> dict[tuple[str, str], float]:
    """CPU seconds so far of each process of interest, keyed by (label, pid)."""
    own = _descendants(root_pid)
    seconds = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline") as cmdline:
                command = cmdline.read().replace("\0", " ")
            label = _label(command, database_prefix, pid in own)
            if label is None:
                continue
            seconds[(label, pid)] = cpu_seconds(pid)
        except OSError:
            continue
    return seconds


def machine_busy() -> tuple[float, float]:
    """CPU seconds the whole machine has spent busy (not idle nor waiting for I/O, summed over its
    cores), and seconds elapsed in all (idem), so far: two readings give the cores kept busy."""
    fields = [int(value) for value in open("/proc/stat").readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / _TICKS, sum(fields) / _TICKS


def own_cpu(children: bool = False) -> float:
    """CPU seconds this process (the load client) has used so far, or with `children` its child
    processes that ended and were waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def per_unit(before: dict, after: dict, units: int) -> list[tuple[str, float]]:
    """Milliseconds of CPU per unit of work, per label, largest first (processes that started in
    between count from zero)."""
    totals: dict[str, float] = {}
    for (label, pid), seconds in after.items():
        totals[label] = totals.get(label, 0.0) + seconds - before.get((label, pid), 0.0)
    return sorted(((label, seconds * 1000 / units) for label, seconds in totals.items()), key=lambda t: -t[1])


async def gc_seconds(session, ports: dict[str, int]) -> dict[str, float]:
    """CPU seconds each service process has spent in garbage collections so far, from its
    /metrics (python_gc_cpu_seconds_total, shared.heap); `session` is an aiohttp session."""
    seconds = {}
    for service, port in ports.items():
        async with session.get(f"http://127.0.0.1:{port}/metrics") as answer:
            text = await answer.text()
        seconds[service] = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                               if line.startswith("python_gc_cpu_seconds_total{"))
    return seconds
