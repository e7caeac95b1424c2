"""Batching under load: a relay or a consumer that is behind waits a moment before its next batch,
so that the events coming meanwhile share one transaction.

Each batch costs a transaction whatever its size (for the relay also a claim and a mark), and
every round trip wakes another process. Handled as they came, one or two at a time, the events of
a moderate load keep the cores busy with those fixed costs; every hop then queues behind the
others, and a transfer takes far longer end to end than the same system needs flat out.

Waiting only while behind keeps a quiet system's latency: an event that comes on time goes at
once. "Behind" is the lag of the oldest event of the batch, less the time this worker itself just
waited, so that a wait never keeps itself going.
"""

import asyncio

from shared.metrics import BATCHES_LINGERED
from shared.settings import ServiceSettings

# The defaults of the settings `bus_linger` and `bus_behind_after`, for relays and consumers made
# without settings (tests, benchmarks).
LINGER_SECONDS = ServiceSettings.model_fields["bus_linger"].default
BEHIND_AFTER_SECONDS = ServiceSettings.model_fields["bus_behind_after"].default


class Linger:
    def __init__(self, service: str, worker: str, seconds: float = LINGER_SECONDS,
                 behind_after: float = BEHIND_AFTER_SECONDS):
        """`seconds` 0 never waits."""
        self.seconds = seconds
        self.behind_after = behind_after
        self.behind = False
        self._waited = 0.0
        self._lingered = BATCHES_LINGERED.labels(service, worker)

    async def before_batch(self) -> None:
        """Waits `seconds` if the last batch was behind, else returns at once."""
        self._waited = 0.0
        if self.behind and self.seconds > 0:
            self._lingered.inc()
            await asyncio.sleep(self.seconds)
            self._waited = self.seconds

    def batch_taken(self, oldest_lag: float) -> None:
        """`oldest_lag`: seconds since the oldest event of the batch just taken was written."""
        self.behind = oldest_lag - self._waited > self.behind_after
        self._waited = 0.0
