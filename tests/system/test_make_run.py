"""`make run` for real: the runner (deploy/run/run.py) starts every service, the gateway and the mail
sink under supervisord on the test's databases and virtual host, on free ports; an event made by one
service (orgs creates the vendor on first start) reaches audit; SIGTERM stops every process."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import pytest

from shared.devtools import port_listening, service_ready
from shared.testing import eventually

pytestmark = [pytest.mark.system, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "deploy" / "run" / "run.py"
PROCESSES = ("gateway", "orgs", "identity", "entitlements", "transfers", "audit", "notify")


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _descendants(pid: int) -> set[int]:
    """Every process below `pid` (read from /proc: supervisord puts its children in their own groups)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, stack = set(), [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.add(child)
            stack.append(child)
    return found


def _program(pid: int) -> str | None:
    """Which of the run's programs `pid` is, from its command line."""
    command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    if "mail_sink.py" in command:
        return "mail-sink"
    return next((name for name in PROCESSES if f"{name}.main:create_app" in command), None)


def _niceness(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def test_make_run_starts_everything_and_stops_cleanly(infrastructure, tmp_path):
    *service_ports, smtp_port = _free_ports(len(PROCESSES) + 1)
    ports = dict(zip(PROCESSES, service_ports))
    environment = {
        **os.environ,
        **infrastructure.environment(),
        **{f"{name.upper()}_PORT": str(port) for name, port in ports.items()},
        "SMTP_PORT": str(smtp_port),
        "LICENSING_RUN_DIR": str(tmp_path / "run"),
        "LOG_LEVEL": "WARNING",
    }
    environment.pop("SMTP_HOST", None)
    output = (tmp_path / "runner.out").open("w")
    runner = subprocess.Popen(
        [sys.executable, str(RUNNER)], env=environment, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    processes: set[int] = set()

    def diagnosis() -> str:
        output.flush()
        logs = "".join(
            f"\n--- {log.name}\n" + "".join(log.read_text().splitlines(keepends=True)[-15:])
            for log in sorted((tmp_path / "run" / "logs").glob("*.log"))
        )
        return f"runner output:\n{(tmp_path / 'runner.out').read_text()}{logs}"

    try:
        deadline = time.monotonic() + 90  # about 35 s on an idle 2-core machine: 7 interpreters importing at once
        waiting = dict(ports)
        while waiting and time.monotonic() < deadline and runner.poll() is None:
            waiting = {name: port for name, port in waiting.items() if not await asyncio.to_thread(service_ready, port)}
            await asyncio.sleep(0.5)
        assert not waiting, f"not ready within 90 s: {sorted(waiting)}\n{diagnosis()}"
        assert port_listening(smtp_port), f"the mail sink does not listen\n{diagnosis()}"

        connection = await asyncpg.connect(
            f"{infrastructure.postgres_dsn.replace('+asyncpg', '')}/{infrastructure.database_prefix}_audit"
        )
        try:

            async def vendor_created():
                return await connection.fetchval(
                    "SELECT count(*) FROM audit_events WHERE type = 'orgs.organization.created'"
                    " AND payload->>'tier' = 'vendor'"
                )

            assert await eventually(vendor_created, timeout=15) == 1
        finally:
            await connection.close()

        processes = _descendants(runner.pid)
        assert len(processes) >= len(PROCESSES) + 2  # supervisord, the mail sink, every service
        # mail goes last when the CPU is short (deploy/run/run.py); everything else as started
        niceness = {program: nice for pid in processes if (program := _program(pid)) is not None
                    for nice in [_niceness(pid)]}
        assert niceness == {**dict.fromkeys(PROCESSES, 0), "notify": 10, "mail-sink": 10}, niceness
        runner.send_signal(signal.SIGTERM)
        await asyncio.to_thread(runner.wait, 20)
        assert runner.returncode == 0, diagnosis()
        deadline = time.monotonic() + 5
        while any(_alive(pid) for pid in processes) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert not [pid for pid in processes if _alive(pid)], f"processes left over\n{diagnosis()}"
        assert not [port for port in [*ports.values(), smtp_port] if port_listening(port)]
    finally:
        if runner.poll() is None:
            processes |= _descendants(runner.pid)
            runner.kill()
            runner.wait()
        for pid in processes:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        output.close()
