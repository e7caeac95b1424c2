from pydantic import AliasChoices, Field

from shared.settings import SERVICE_PORTS, ServiceSettings


class NotifySettings(ServiceSettings):
    service_name: str = "notify"

    # Where the links in the emails point (the portal, served by the gateway).
    # `make run` exports GATEWAY_URL, which follows LICENSING_PORT_BASE.
    portal_url: str = Field(
        default=f"http://127.0.0.1:{SERVICE_PORTS['gateway']}",
        validation_alias=AliasChoices("PORTAL_URL", "GATEWAY_URL", "portal_url"),
    )

    # The SMTP server. `make run` points SMTP_HOST/SMTP_PORT at its local mail sink.
    smtp_host: str = Field(default="127.0.0.1", alias="SMTP_HOST")
    smtp_port: int = Field(default=1025, ge=1, le=65535, alias="SMTP_PORT")
    smtp_username: str | None = Field(default=None, alias="SMTP_USERNAME")
    smtp_password: str | None = Field(default=None, alias="SMTP_PASSWORD")
    # None: upgrade with STARTTLS when the server offers it; true: require it; false: never.
    smtp_starttls: bool | None = Field(default=None, alias="SMTP_STARTTLS")
    smtp_timeout: float = Field(default=30.0, gt=0, alias="SMTP_TIMEOUT")
    mail_from: str = Field(default="Licensing Portal <no-reply@licensing.local>", alias="MAIL_FROM")

    # Retries: attempt n (1-based) that fails waits base * 2**(n-1) seconds, at most max_delay;
    # after max_attempts failures the notification is `failed` (the dead letter). With the defaults a
    # mail survives an SMTP outage of about six hours.
    send_max_attempts: int = Field(default=12, ge=1, le=100, alias="NOTIFY_MAX_ATTEMPTS")
    send_base_delay: float = Field(default=30.0, gt=0, alias="NOTIFY_RETRY_BASE_DELAY")
    send_max_delay: float = Field(default=3600.0, gt=0, alias="NOTIFY_RETRY_MAX_DELAY")
    # While the server is unreachable, how often a lane with nothing due checks whether it is back.
    smtp_probe_interval: float = Field(default=10.0, gt=0, alias="NOTIFY_SMTP_PROBE_INTERVAL")
    sender_poll_interval: float = Field(default=1.0, gt=0, alias="NOTIFY_POLL_INTERVAL")
    sender_concurrency: int = Field(default=4, ge=1, le=64, alias="NOTIFY_SENDER_CONCURRENCY")
    # Rows a lane claims at once (one transaction for all of them; each outcome is still recorded alone).
    sender_batch: int = Field(default=10, ge=1, le=500, alias="NOTIFY_SENDER_BATCH")
