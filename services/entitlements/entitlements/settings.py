from shared.settings import ServiceSettings


class EntitlementsSettings(ServiceSettings):
    service_name: str = "entitlements"
    # Seconds between two runs of the expiry sweeper (EXPIRY_CHECK_INTERVAL).
    expiry_check_interval: float = 60.0
    expiry_batch_size: int = 200
