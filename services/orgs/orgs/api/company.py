"""The company fields every organization below the vendor has (distributors, integrators,
customers): their validated input types, the create body they share, and how they are shown."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from orgs.domain.partners import check_country, check_email_domain, check_phone
from shared.validation import check_email

Email = Annotated[str, Field(max_length=254), AfterValidator(check_email)]
EmailDomain = Annotated[str, Field(max_length=253), AfterValidator(check_email_domain)]
Country = Annotated[str, Field(max_length=2), AfterValidator(check_country)]
Phone = Annotated[str, Field(max_length=32), AfterValidator(check_phone)]
Name = Annotated[str, Field(min_length=1, max_length=100)]
Note = Annotated[str, Field(max_length=2000)]
CompanyName = Annotated[str, Field(min_length=1, max_length=200)]
Address = Annotated[str, Field(max_length=500)]
ContactName = Annotated[str, Field(max_length=200)]
TaxId = Annotated[str, Field(max_length=50)]


class CompanyIn(BaseModel):
    """The company fields of a new organization; subclasses add what their tier needs."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: CompanyName
    email_domain: EmailDomain | None = None
    address: Address | None = None
    country: Country | None = None
    phone: Phone | None = None
    contact_name: ContactName | None = None
    contact_email: Email | None = None
    tax_id: TaxId | None = None
    note: Note | None = None


class CompanyPatch(CompanyIn):
    """A partial update of the company fields; tier, status, parent and ids are not among them."""

    name: CompanyName | None = None


class PartnerOut(BaseModel):
    id: uuid.UUID
    name: str
    tier: str
    parent_id: uuid.UUID
    status: str
    created_at: datetime
    email_domain: str | None
    address: str | None
    country: str | None
    phone: str | None
    contact_name: str | None
    contact_email: str | None
    tax_id: str | None
    note: str | None
