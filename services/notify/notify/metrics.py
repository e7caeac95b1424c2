"""Prometheus counters of the notifications (exposed at /metrics with the shared ones)."""

from prometheus_client import Counter

# outcome: queued (a row written), sent, retried (a failed attempt that will be tried again),
# failed (the last attempt failed: the dead letter).
NOTIFICATIONS = Counter("notifications_total", "Email notifications by outcome", ["outcome"])
