"""The garbage collector of a service process: what it holds from startup is not walked again,
young objects are collected less often, and what each collection costs is measured.

A service holds a great many objects from its startup until it exits: modules, routes,
SQLAlchemy's tables and compiled statements, pydantic's schemas, the pools. CPython's full
collection walks every one of them, with the event loop stopped meanwhile, and under load it runs
often; the default young generation is small, so its collections come often too and each walks
what is still in flight. Frozen, the startup objects are left out of every collection, and a larger
first generation is collected far less often, its requests mostly done by then
(bench/transfers_end_to_end.py prints the collections' CPU per service).
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
    the startup's garbage first, so what is frozen is what lives on (a full collection is slow in a
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
