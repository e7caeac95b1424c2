"""The garbage collector of a service process: what it holds from startup is not walked again,
young objects are collected less often, and what each collection costs is measured.

A service holds some 110,000 to 170,000 objects from its startup until it exits: modules, routes,
SQLAlchemy's tables and compiled statements, pydantic's schemas, the pools. CPython's full
collection walks every one of them; under the transfer load it ran every few seconds and took 60
to 100 ms of CPU each time, with the event loop stopped meanwhile. With the collections of young
objects (every 700 allocations, each also walking what is still in flight), that was 16% of the
transfers service's CPU and 10% of entitlements'. Frozen, the startup objects are left out of every
collection, and a first generation of 7,000 objects is collected far less often (transfers: 46
times instead of 1,421 over the same load), its requests mostly done by then: 2% and 1%
(bench/transfers_end_to_end.py prints it per service).
"""

import contextlib
import gc
import time
from collections.abc import Iterable, Iterator

from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

YOUNG_GENERATION_SIZE = 7_000  # CPython's default is 700; the older generations keep theirs (10, 10)

_startup_garbage_collected = False
_collection_started = 0.0
_seconds_by_generation = [0.0, 0.0, 0.0]


def _timed(phase: str, info: dict) -> None:
    # Runs inside a collection, which may start while this thread holds any lock (a metric's
    # among them): it only adds to a list, which /metrics reads (CollectionTime).
    global _collection_started
    if phase == "start":
        _collection_started = time.thread_time()
    else:
        _seconds_by_generation[info["generation"]] += time.thread_time() - _collection_started


class CollectionTime(Collector):
    """python_gc_cpu_seconds_total{generation}: beside prometheus_client's python_gc_collections_total."""

    def collect(self) -> Iterable[CounterMetricFamily]:
        seconds = CounterMetricFamily("python_gc_cpu_seconds", "CPU time spent in garbage collections, the"
                                      " event loop stopped meanwhile", labels=["generation"])
        for generation, total in enumerate(_seconds_by_generation):
            seconds.add_metric([str(generation)], total)
        return [seconds]


REGISTRY.register(CollectionTime())


@contextlib.contextmanager
def startup_heap_frozen() -> Iterator[None]:
    """Around a running app, entered once its startup is done. The process's first app collects
    the startup's garbage first, so what is frozen is what lives on (a full collection: 0.2 s in a
    test process, which starts apps again and again and pays it once). Thawed on the way out: an app
    that stops in a process that goes on (the tests) leaves nothing the collector cannot reach."""
    global _startup_garbage_collected
    if _timed not in gc.callbacks:
        gc.callbacks.append(_timed)
    gc.set_threshold(YOUNG_GENERATION_SIZE, *gc.get_threshold()[1:])
    if not _startup_garbage_collected:
        gc.collect()
        _startup_garbage_collected = True
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
