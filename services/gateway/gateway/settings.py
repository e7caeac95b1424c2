from pydantic import Field

from shared.settings import SERVICE_PORTS, ServiceSettings


def _local(service: str) -> str:
    return f"http://127.0.0.1:{SERVICE_PORTS[service]}"


class GatewaySettings(ServiceSettings):
    service_name: str = "gateway"

    # Where each upstream service answers; identity_url comes from the base settings.
    orgs_url: str = Field(default=_local("orgs"), alias="ORGS_URL")
    entitlements_url: str = Field(default=_local("entitlements"), alias="ENTITLEMENTS_URL")
    transfers_url: str = Field(default=_local("transfers"), alias="TRANSFERS_URL")
    audit_url: str = Field(default=_local("audit"), alias="AUDIT_URL")
    notify_url: str = Field(default=_local("notify"), alias="NOTIFY_URL")
    devices_url: str = Field(default=_local("devices"), alias="DEVICES_URL")
    billing_url: str = Field(default=_local("billing"), alias="BILLING_URL")

    # A refused or slow connect means the service is down: fail fast with 503. Reads may be
    # long (CSV exports stream for a while), so the read timeout bounds the wait between chunks.
    upstream_connect_timeout: float = 2.0
    upstream_read_timeout: float = 30.0
    upstream_max_connections: int = 512
    upstream_pool_timeout: float = 5.0  # waiting for a free upstream connection when all are busy
    readiness_timeout: float = 2.0

    # Request rates (per second, sustained) and bursts, per client address and per signed-in user.
    # A burst beyond them gets 429 with Retry-After. 0 turns a limit off (e.g. for load tests).
    # Kept per gateway process: with N replicas behind a balancer the effective limit is up to N times.
    rate_limit_per_address: float = 50.0
    rate_limit_per_address_burst: int = 200
    rate_limit_per_user: float = 20.0
    rate_limit_per_user_burst: int = 100

    def upstream_urls(self) -> dict[str, str]:
        return {
            "identity": self.identity_url,
            "orgs": self.orgs_url,
            "entitlements": self.entitlements_url,
            "transfers": self.transfers_url,
            "audit": self.audit_url,
            "notify": self.notify_url,
            "devices": self.devices_url,
            "billing": self.billing_url,
        }
