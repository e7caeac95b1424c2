import base64
import hashlib
from functools import cached_property

from cryptography.fernet import Fernet, MultiFernet
from pydantic import Field, model_validator

from devices.domain.license_files import SigningKey
from shared.settings import ServiceSettings

# Development defaults, in this repository: anywhere but development the service refuses them.
DEVELOPMENT_LICENSE_KEY_SECRET = "licensing-dev-license-key-secret"
DEVELOPMENT_LICENSE_SIGNING_KEY = "ZGV2LWxpY2Vuc2Utc2lnbmluZy1rZXktMzItYnl0ZXM"


class DevicesSettings(ServiceSettings):
    service_name: str = "devices"

    # HMAC secret of the stored license keys and fingerprints (lookup), and the root of the Fernet
    # key that seals the keys for display. Changing it makes every issued key unusable.
    license_key_secret: str = Field(default=DEVELOPMENT_LICENSE_KEY_SECRET, alias="LICENSE_KEY_SECRET")
    # Ed25519 keys (base64url of 32-byte seeds, comma separated): the first signs license files,
    # all are published at /api/v1/device/signing-keys, so files signed before a rotation still verify.
    license_signing_keys: str = Field(default=DEVELOPMENT_LICENSE_SIGNING_KEY, alias="LICENSE_SIGNING_KEYS")
    # The device API's limits per license key and per client address: requests per minute.
    device_rate_per_key: int = Field(default=120, ge=0, alias="DEVICE_RATE_PER_KEY")
    device_rate_per_address: int = Field(default=600, ge=0, alias="DEVICE_RATE_PER_ADDRESS")
    # Seconds between two writes of the validations' last_validated_at (coalesced in memory).
    validation_flush_interval: float = Field(default=5.0, gt=0, alias="VALIDATION_FLUSH_INTERVAL")
    license_file_default_ttl_days: int = 7
    license_file_max_ttl_days: int = 90

    @model_validator(mode="after")
    def _no_development_device_secrets_elsewhere(self):
        if self.environment != "development" and (
                self.license_key_secret == DEVELOPMENT_LICENSE_KEY_SECRET
                or DEVELOPMENT_LICENSE_SIGNING_KEY in self.license_signing_keys.split(",")):
            raise ValueError("LICENSE_KEY_SECRET or LICENSE_SIGNING_KEYS hold a development value, with"
                             f" LICENSING_ENV={self.environment}: set your own (see docs/license-files.md)")
        return self

    @cached_property
    def key_secret(self) -> bytes:
        return self.license_key_secret.encode()

    @cached_property
    def key_sealer(self) -> MultiFernet:
        derived = hashlib.sha256(b"license-key-sealing:" + self.key_secret).digest()
        return MultiFernet([Fernet(base64.urlsafe_b64encode(derived))])

    @cached_property
    def signing_keys(self) -> list[SigningKey]:
        return [SigningKey.from_seed(seed.strip()) for seed in self.license_signing_keys.split(",") if seed.strip()]
