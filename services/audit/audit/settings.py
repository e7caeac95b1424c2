from shared.settings import ServiceSettings


class AuditSettings(ServiceSettings):
    service_name: str = "audit"
    # Its filters meet very skewed data (org sizes, search terms): a generic plan can be 100x slower.
    db_custom_plans: bool = True
