"""The device API's limits: at most `limit` requests per key (a license key, an address) in each
fixed window of `window` seconds. Pure: the clock is passed in. Per process, as the gateway's are:
with several replicas a client gets up to the limit from each."""

import math


class WindowLimit:
    def __init__(self, limit: int, window: float = 60.0, max_keys: int = 200_000):
        self.limit = limit
        self.window = window
        self._max_keys = max_keys
        self._counts: dict[str, tuple[int, int]] = {}  # key -> (window number, requests in it)

    def wait(self, key: str, now: float) -> float:
        """0 when the request may go ahead (it is counted), else the seconds until it may."""
        if self.limit <= 0:
            return 0.0
        current = int(now // self.window)
        number, count = self._counts.get(key, (current, 0))
        if number != current:
            count = 0
        if count >= self.limit:
            return (current + 1) * self.window - now
        if key not in self._counts and len(self._counts) >= self._max_keys:
            self._forget_before(current)
        self._counts[key] = (current, count + 1)
        return 0.0

    def _forget_before(self, current: int) -> None:
        """Counts of past windows are worth nothing; if all are current, start the window afresh."""
        stale = [key for key, (number, _) in self._counts.items() if number != current]
        for key in stale:
            del self._counts[key]
        if len(self._counts) >= self._max_keys:
            self._counts.clear()


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
