from pydantic import Field, SecretStr, field_validator, model_validator

from identity.domain.client_address import parse_trusted_proxies
from shared.settings import ServiceSettings


DEVELOPMENT_ADMIN_PASSWORD = "licensing-dev-password"


class IdentitySettings(ServiceSettings):
    service_name: str = "identity"

    # The vendor's first Admin, created when the vendor organization appears (development defaults).
    admin_email: str = Field(default="admin@example.com", alias="LICENSING_ADMIN_EMAIL")
    admin_password: SecretStr = Field(default=SecretStr(DEVELOPMENT_ADMIN_PASSWORD), alias="LICENSING_ADMIN_PASSWORD")

    invite_ttl_days: int = Field(default=7, ge=1, le=90, alias="INVITE_TTL_DAYS")
    # Short on purpose, though a role change or a removal voids the member's access tokens in every
    # service as soon as the event arrives (shared.auth.member_tokens); sign-out ends refresh at once.
    access_token_ttl_seconds: int = Field(default=900, ge=1, le=3600, alias="ACCESS_TOKEN_TTL_SECONDS")
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=60, alias="REFRESH_TOKEN_TTL_SECONDS")

    # Failed sign-ins within the window, per account from one client address and per client
    # address (an account as such is never blocked: no one can lock anyone else out); past the
    # limit, sign-in answers 429 with Retry-After without checking the password. The address limit
    # also counts invalid invite links.
    sign_in_failures_per_account: int = Field(default=5, ge=1, le=10_000, alias="SIGN_IN_FAILURES_PER_ACCOUNT")
    sign_in_failures_per_address: int = Field(default=20, ge=1, le=100_000, alias="SIGN_IN_FAILURES_PER_ADDRESS")
    sign_in_failure_window_seconds: int = Field(default=900, ge=1, le=86_400, alias="SIGN_IN_FAILURE_WINDOW_SECONDS")
    # Peers whose X-Forwarded-For is believed (the gateway): comma-separated addresses or networks.
    trusted_proxies: str = Field(default="127.0.0.1", alias="TRUSTED_PROXIES")

    @model_validator(mode="after")
    def _no_development_password_elsewhere(self):
        if self.environment != "development" and self.admin_password.get_secret_value() == DEVELOPMENT_ADMIN_PASSWORD:
            raise ValueError(f"LICENSING_ADMIN_PASSWORD is the development default, with LICENSING_ENV={self.environment}:"
                             " set a password of your own")
        return self

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_proxies(cls, value: str) -> str:
        parse_trusted_proxies(value)  # fail at start, not on the first sign-in
        return value
