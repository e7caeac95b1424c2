from shared.settings import ServiceSettings


class IdentitySettings(ServiceSettings):
    service_name: str = "identity"
