from shared.settings import ServiceSettings


class TransfersSettings(ServiceSettings):
    service_name: str = "transfers"
