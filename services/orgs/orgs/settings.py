from pydantic import Field

from shared.settings import ServiceSettings


class OrgsSettings(ServiceSettings):
    service_name: str = "orgs"
    vendor_name: str = Field(default="Vendor", alias="LICENSING_VENDOR_NAME")
