from shared.settings import ServiceSettings


class AuditSettings(ServiceSettings):
    service_name: str = "audit"
