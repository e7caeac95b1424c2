from shared.settings import ServiceSettings


class NotifySettings(ServiceSettings):
    service_name: str = "notify"
