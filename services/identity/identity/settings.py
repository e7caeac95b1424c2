from pydantic import Field, SecretStr

from shared.settings import ServiceSettings


class IdentitySettings(ServiceSettings):
    service_name: str = "identity"

    # The vendor's first Admin, created when the vendor organization appears (development defaults).
    admin_email: str = Field(default="admin@example.com", alias="LICENSING_ADMIN_EMAIL")
    admin_password: SecretStr = Field(default=SecretStr("licensing-dev-password"), alias="LICENSING_ADMIN_PASSWORD")

    invite_ttl_days: int = Field(default=7, ge=1, le=90, alias="INVITE_TTL_DAYS")
    access_token_ttl_seconds: int = Field(default=900, alias="ACCESS_TOKEN_TTL_SECONDS")
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, alias="REFRESH_TOKEN_TTL_SECONDS")
