import ipaddress

from pydantic import Field, field_validator, model_validator

from shared.settings import ServiceSettings

DEVELOPMENT_CLAIM_CODE_SECRET = "licensing-development-claim-code-secret"


class BillingSettings(ServiceSettings):
    service_name: str = "billing"

    # The key of the claim codes' HMAC: the stored hashes are useless without it. Rotating it
    # invalidates the codes not yet redeemed (sellers issue new ones).
    claim_code_secret: str = Field(default=DEVELOPMENT_CLAIM_CODE_SECRET, alias="CLAIM_CODE_SECRET")
    claim_code_valid_days: int = Field(default=30, ge=1, alias="CLAIM_CODE_VALID_DAYS")
    # Redemption attempts allowed per window: per customer org, per client address, and in total.
    # Beyond them: 429 with Retry-After. 40 random bits against a handful of guesses an hour.
    claim_attempt_window_seconds: int = Field(default=900, ge=1, alias="CLAIM_ATTEMPT_WINDOW_SECONDS")
    claim_attempts_per_org: int = Field(default=10, ge=1, alias="CLAIM_ATTEMPTS_PER_ORG")
    claim_attempts_per_address: int = Field(default=20, ge=1, alias="CLAIM_ATTEMPTS_PER_ADDRESS")
    claim_attempts_total: int = Field(default=1000, ge=1, alias="CLAIM_ATTEMPTS_TOTAL")
    # Peers whose X-Forwarded-For is believed (the gateway), comma-separated addresses or networks:
    # for the per-address throttle.
    trusted_proxies: str = Field(default="127.0.0.1", alias="TRUSTED_PROXIES")
    # The console's "expiring soon" filter, by default.
    expiring_soon_days: int = Field(default=30, ge=1, alias="EXPIRING_SOON_DAYS")
    # Seconds between two passes of the worker that renews periods and resumes pauses on their date.
    lifecycle_check_interval: float = Field(default=60.0, gt=0, alias="LIFECYCLE_CHECK_INTERVAL")

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        for entry in value.split(","):
            if entry.strip():
                ipaddress.ip_network(entry.strip(), strict=False)  # a bad entry fails at start, not per request
        return value

    @model_validator(mode="after")
    def _no_development_claim_secret_elsewhere(self):
        if self.environment != "development" and self.claim_code_secret == DEVELOPMENT_CLAIM_CODE_SECRET:
            raise ValueError(f"CLAIM_CODE_SECRET is the development value, with LICENSING_ENV={self.environment}:"
                             " set a secret of your own")
        return self
