"""Nothing is lost when the broker restarts or a service is killed between commit and publish."""

import asyncio
import os
import signal
import socket
import subprocess
import sys

import pytest

from shared.testing import eventually
from tests.conftest import EntitlementsWidgetCounted, relaying


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=120)


@pytest.mark.skipif(not os.path.exists("/usr/sbin/rabbitmqctl"), reason="needs the local broker to restart it")
async def test_restarting_rabbitmq_while_events_flow_loses_nothing(producer, audit_service):
    event_ids = []
    async with relaying(producer.relay()):
        for chunk in range(12):
            event_ids += await producer.emit(50)
            if chunk == 3:
                await asyncio.to_thread(_rabbitmqctl, "stop_app")
            if chunk == 7:
                await asyncio.to_thread(_rabbitmqctl, "start_app")
            await asyncio.sleep(0.1)
        stored = await eventually(lambda: _stored_all(audit_service, event_ids), timeout=90, interval=0.5)
    assert stored == len(event_ids) == 600
    assert await producer.unpublished(event_ids) == 0


async def test_a_service_killed_mid_flow_publishes_everything_after_restart(infrastructure, producer, audit_service):
    """SIGKILL the entitlements service (its relay) while events are being committed, then start it again.
    Its relay publishes as the entitlements broker user: the events are the service's own kind."""
    event_ids = []
    service = _start_service(infrastructure, "entitlements")
    try:
        for _ in range(5):
            event_ids += await producer.emit(40, event=EntitlementsWidgetCounted)
        service.send_signal(signal.SIGKILL)
        service.wait(timeout=10)
        for _ in range(5):
            event_ids += await producer.emit(40, event=EntitlementsWidgetCounted)  # committed while no relay is alive
        assert await producer.unpublished(event_ids) > 0
    finally:
        service.kill()
    restarted = _start_service(infrastructure, "entitlements")
    try:
        await eventually(lambda: _stored_all(audit_service, event_ids), timeout=60, interval=0.25)
        assert await producer.unpublished(event_ids) == 0
    finally:
        restarted.terminate()
        restarted.wait(timeout=15)


def _start_service(infrastructure, service: str) -> subprocess.Popen:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {**os.environ, **infrastructure.environment(), "IDENTITY_URL": "http://127.0.0.1:1"}
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", f"{service}.main:create_app", "--port", str(port)],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _stored_all(audit_service, event_ids) -> int | None:
    stored = await audit_service.count(event_ids)
    return stored if stored == len(event_ids) else None
