"""Stopping a background loop whose cancellation was lost on its way."""

import asyncio


def cancel_requested() -> bool:
    """Whether the current task was cancelled, whether or not the CancelledError reached it (below)."""
    return asyncio.current_task().cancelling() > 0


def raise_if_cancelled() -> None:
    """Raises CancelledError in a task that was cancelled, even if the CancelledError never reached it.

    On Python 3.11 `asyncio.wait_for` returns the awaited result instead of raising when the result
    and the cancellation come in the same turn of the event loop (CPython gh-86296, fixed in 3.12);
    aiosmtplib waits for every SMTP reply that way, aio-pika for its calls. A loaded machine makes
    that likely. The request stays counted by `Task.cancelling()`, so a loop that calls this before
    each new piece of work still stops, instead of working on after its app has stopped."""
    if cancel_requested():
        raise asyncio.CancelledError
