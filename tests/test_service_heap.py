"""A running service leaves its startup objects out of the garbage collector's walks, and says at
/metrics what each collection cost."""

import gc
import re

import httpx

from shared.heap import YOUNG_GENERATION_SIZE
from shared.service import create_service_app
from shared.testing import running


def _gauged(metrics: str, name: str, generation: int) -> float:
    [value] = re.findall(rf'^{name}{{generation="{generation}"}} (\S+)$', metrics, re.MULTILINE)
    return float(value)


async def test_a_running_service_freezes_its_startup_objects_and_reports_its_collections(infrastructure):
    app = create_service_app(infrastructure.settings(service_name="orgs"))
    try:
        frozen_before = gc.get_freeze_count()  # not 0 if another test's app runs on
        async with running(app), httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                                   base_url="http://orgs") as client:
            # The app's routes, tables and pools are all left out of every collection.
            assert gc.get_freeze_count() > max(frozen_before, 50_000)
            assert gc.get_threshold()[0] == YOUNG_GENERATION_SIZE
            before = (await client.get("/metrics")).text
            gc.collect(0)
            after = (await client.get("/metrics")).text
            assert _gauged(after, "python_gc_collections_total", 0) > _gauged(before, "python_gc_collections_total", 0)
            assert _gauged(after, "python_gc_cpu_seconds_total", 0) > _gauged(before, "python_gc_cpu_seconds_total", 0)
        # Stopped, nothing stays out of the collector's reach (a test process goes on).
        assert gc.get_freeze_count() == 0
    finally:
        await app.state.engine.dispose()
