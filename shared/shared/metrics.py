"""Prometheus metrics every service exposes at /metrics (labelled by service)."""

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter("http_requests_total", "HTTP requests answered", ["service", "method", "route", "status"])
REQUEST_LATENCY = Histogram(
    "http_request_duration_seconds", "HTTP request latency", ["service", "method", "route"]
)
OUTBOX_BACKLOG = Gauge("outbox_backlog", "Outbox rows not yet published", ["service"])
OUTBOX_PUBLISHED = Counter("outbox_published_total", "Events published with broker confirmation", ["service"])
EVENTS_CONSUMED = Counter("events_consumed_total", "Events handled and acknowledged", ["service", "outcome"])
EVENTS_REFUSED = Counter(
    "events_refused_total",
    "Events dead-lettered because their broker-validated publisher does not own their type (shared.bus.authorisation)",
    ["service", "owner", "publisher"],
)
CONSUMER_LAG = Histogram(
    "consumer_lag_seconds",
    "Time from an event's commit to its handling by this consumer",
    ["service"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
QUEUE_DEPTH = Gauge("consumer_queue_depth", "Messages waiting in the consumer's queue", ["service", "queue"])
BATCHES_LINGERED = Counter(
    "bus_batches_lingered_total",
    "Batches a relay or consumer began a moment late, being behind, so that more events share them (shared.bus.linger)",
    ["service", "worker"],
)
DEAD_LETTERS = Gauge("dead_letter_queue_depth", "Messages in the consumer's dead-letter queue", ["service", "queue"])
