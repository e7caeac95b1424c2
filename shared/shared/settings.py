"""Settings every service reads from the environment (documented in the README)."""

from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


# Where each service listens in a development run (`make run`); the gateway is the public entry.
SERVICE_PORTS = {
    "gateway": 8000,
    "orgs": 8001,
    "identity": 8002,
    "entitlements": 8003,
    "transfers": 8004,
    "audit": 8005,
    "notify": 8006,
    "devices": 8007,
    "billing": 8008,
}

# The services that use the bus: each has a broker user of its own, named after it, that may publish
# only the routing keys beginning with its name (shared.bus.authorisation). A service added to
# SERVICE_PORTS gets its user with it; the gateway alone never touches the bus.
BUS_SERVICES = tuple(service for service in SERVICE_PORTS if service != "gateway")


def development_bus_password(service: str) -> str:
    """A service's broker password in development (`make run`, the tests, compose's defaults):
    known to anyone reading this file, hence refused elsewhere."""
    return f"licensing-dev-bus-{service}"


# The development default of EVENT_SECRETS_KEY (base64 of "licensing-dev-event-secrets-key!"): set
# your own anywhere else, the same list in every service (see shared.events.secrets).
DEVELOPMENT_EVENT_SECRETS_KEY = "bGljZW5zaW5nLWRldi1ldmVudC1zZWNyZXRzLWtleSE="


class ServiceSettings(BaseSettings):
    """Base settings; each service subclasses it and sets its own `service_name` default.

    Variables are read without a prefix (DATABASE_URL, AMQP_URL, ...) so one environment
    can configure the whole system; DATABASE_URL, when set, names one service's database outright.
    """

    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True)

    service_name: str = "service"
    environment: str = Field(default="development", alias="LICENSING_ENV")

    # PostgreSQL: the server; each service uses its own database on it.
    postgres_dsn: str = Field(default="postgresql+asyncpg://postgres@127.0.0.1:5432", alias="POSTGRES_DSN")
    database_prefix: str = Field(default="licensing", alias="DATABASE_PREFIX")
    database_url: str | None = None
    db_pool_size: int = Field(default=10, ge=1, alias="DB_POOL_SIZE")  # connections kept per service process
    db_pool_timeout: float = Field(default=30.0, gt=0, alias="DB_POOL_TIMEOUT")  # seconds a request waits for one
    db_custom_plans: bool = False  # see shared.db.create_engine

    # The broker and its virtual host. A service connects as its own broker user (its name) with
    # AMQP_PASSWORD, whatever user the URL names; the URL's user is for operator commands
    # (`python -m shared.devtools prepare` creates the services' users with it).
    amqp_url: str = Field(default="amqp://guest:guest@127.0.0.1:5672/", alias="AMQP_URL")
    amqp_password: str | None = Field(default=None, alias="AMQP_PASSWORD")
    # Broker users whose events a consumer accepts on any routing key, and whether it accepts events
    # with no broker-validated user id at all: for a test's own producers only (shared.testing).
    bus_trusted_publishers: tuple[str, ...] = ()
    bus_accept_unstamped: bool = False
    events_exchange: str = "licensing.events"
    consumer_prefetch: int = 256
    consumer_batch_size: int = 128
    # While behind (the events taken are older than `bus_behind_after` seconds), a relay or a
    # consumer waits `bus_linger` seconds before its next batch, for more events to share it
    # (shared.bus.linger); 0 never waits.
    bus_linger: float = Field(default=0.02, ge=0, le=1, alias="BUS_LINGER")
    bus_behind_after: float = Field(default=0.02, ge=0, alias="BUS_BEHIND_AFTER")

    # Fernet keys (comma separated, the sealing one first) that seal the secret fields of events
    # (an invite's token) from the producer's outbox to the consumer that uses them.
    event_secrets_key: str = Field(default=DEVELOPMENT_EVENT_SECRETS_KEY, alias="EVENT_SECRETS_KEY")

    outbox_batch_size: int = 500
    outbox_poll_interval: float = 0.5

    identity_url: str = Field(default=f"http://127.0.0.1:{SERVICE_PORTS['identity']}", alias="IDENTITY_URL")
    jwt_audience: str = Field(default="licensing", alias="JWT_AUDIENCE")
    jwt_issuer: str = Field(default="licensing-identity", alias="JWT_ISSUER")

    # Request bodies beyond these sizes get 413 (shared.middleware.BodySizeLimitMiddleware); the
    # larger one is for the routes that take files (shared.middleware.LARGE_BODY_ROUTES).
    max_request_body_bytes: int = Field(default=1024 * 1024, ge=1, alias="MAX_REQUEST_BODY_BYTES")
    max_import_body_bytes: int = Field(default=50 * 1024 * 1024, ge=1, alias="MAX_IMPORT_BODY_BYTES")
    # Who may read /metrics (comma-separated addresses or networks): the scraper, never the public.
    metrics_allowed_from: str = Field(default="127.0.0.1/32,::1/128", alias="METRICS_ALLOWED_FROM")

    otlp_endpoint: str | None = Field(default=None, alias="OTEL_EXPORTER_OTLP_ENDPOINT")
    # A span per SQL statement; unset: only when spans are exported (they cost CPU on every query).
    trace_sql: bool | None = Field(default=None, alias="TRACE_SQL")
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")

    @model_validator(mode="after")
    def _no_development_secret_elsewhere(self):
        """The development key is in this repository: anywhere but development it would seal nothing."""
        if self.environment != "development" and DEVELOPMENT_EVENT_SECRETS_KEY in self.event_secrets_key.split(","):
            raise ValueError(f"EVENT_SECRETS_KEY holds the development key, with LICENSING_ENV={self.environment}:"
                             " set keys of your own (see the README)")
        return self

    @model_validator(mode="after")
    def _connect_as_the_service(self):
        """A bus service's AMQP URL names its own broker user; no development password elsewhere."""
        if self.environment != "development" and self.bus_accept_unstamped:
            raise ValueError(f"BUS_ACCEPT_UNSTAMPED with LICENSING_ENV={self.environment}: it would accept forged events")
        if self.service_name not in BUS_SERVICES:
            return self
        password = self.amqp_password or development_bus_password(self.service_name)
        if self.environment != "development" and password == development_bus_password(self.service_name):
            raise ValueError(f"AMQP_PASSWORD is unset or the development one, with LICENSING_ENV={self.environment}:"
                             f" set the password of the broker user {self.service_name!r} (see deploy/README.md)")
        self.amqp_url = with_credentials(self.amqp_url, self.service_name, password)
        return self

    def traces_sql(self) -> bool:
        return self.trace_sql if self.trace_sql is not None else self.otlp_endpoint is not None

    def database_name(self) -> str:
        return f"{self.database_prefix}_{self.service_name}"

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"{self.postgres_dsn.rstrip('/')}/{self.database_name()}"


def with_credentials(amqp_url: str, user: str, password: str) -> str:
    """`amqp_url` with its user and password replaced."""
    parts = urlsplit(amqp_url)
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
