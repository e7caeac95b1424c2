"""The faults, applied to the running system for real:

  kill       SIGKILL to one service process (its pid from supervisorctl); supervisord restarts it.
  broker     RabbitMQ goes away for `outage` seconds. `restart` (what `make chaos` uses): the node's
             `rabbitmqctl stop_app` then `start_app`, which every vhost on the machine feels.
             `vhost` (the test suite's, so it never disturbs another run on the same broker): the
             run's vhost refuses its user and drops every connection, then lets it back in.
  postgres   pg_terminate_backend on every connection to the run's databases.
"""

import asyncio
import os
import signal
import subprocess
import sys
import time


from bench.chaos.plan import Fault
from bench.system_run import RunningSystem, connect

BROKER_MODES = ("restart", "vhost")


async def _command(*args: str) -> str:
    done = await asyncio.to_thread(subprocess.run, args, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout.strip()


async def rabbitmqctl(*args: str) -> str:
    return await _command("rabbitmqctl", "-q", *args)


class Faults:
    def __init__(self, system: RunningSystem, broker_mode: str):
        if broker_mode not in BROKER_MODES:
            raise ValueError(f"broker mode {broker_mode!r}: one of {BROKER_MODES}")
        self.system, self.broker_mode = system, broker_mode

    async def apply(self, fault: Fault) -> str:
        """Applies the fault; returns when it is over (the broker back), saying what it did."""
        if fault.kind == "kill":
            return await self.kill(fault.target)
        if fault.kind == "broker":
            return await self.broker_outage(fault.outage)
        return await self.terminate_postgres_connections()

    async def kill(self, process: str) -> str:
        pid = int(await _command(sys.executable, "-m", "supervisor.supervisorctl", "-c",
                                 str(self.system.supervisor_config), "pid", process))
        if pid <= 0:
            raise RuntimeError(f"supervisord has no running {process} to kill")
        os.kill(pid, signal.SIGKILL)
        self.system.kills.append((process, time.time()))
        return f"SIGKILL {process} (pid {pid})"

    async def broker_outage(self, outage: float) -> str:
        if self.broker_mode == "restart":
            await rabbitmqctl("stop_app")
            try:
                await asyncio.sleep(outage)
            finally:
                await rabbitmqctl("start_app")
                await rabbitmqctl("await_startup")
            return f"RabbitMQ stop_app, {outage:.1f} s, start_app"
        vhost = self.system.infra.vhost
        await rabbitmqctl("clear_permissions", "-p", vhost, "guest")
        try:
            await rabbitmqctl("close_all_connections", "-p", vhost, "chaos: broker outage")
            await asyncio.sleep(outage)
        finally:
            await rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        return f"vhost {vhost}: connections closed, refused for {outage:.1f} s"

    async def terminate_postgres_connections(self) -> str:
        conn = await connect(f"{self.system.infra.postgres_dsn.replace('+asyncpg', '')}/postgres")
        try:
            terminated = await conn.fetchval(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname LIKE $1 AND pid <> pg_backend_pid()", f"{self.system.infra.database_prefix}\\_%")
        finally:
            await conn.close()
        return f"PostgreSQL: {terminated} connections terminated"
