from shared.settings import ServiceSettings


class TransfersSettings(ServiceSettings):
    service_name: str = "transfers"
    # How long a transfer to an org not yet in the directory waits for it before a 409 (seconds):
    # an org created a moment ago reaches this service over the bus.
    destination_wait_seconds: float = 2.0
