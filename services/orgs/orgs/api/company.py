"""The company fields every organization below the vendor has (distributors, integrators,
customers): their validated input types, the create body they share, and how they are shown."""

import re
import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from orgs.domain.partners import EMAIL_DOMAIN, check_country, check_email_domain
from shared.validation import Email, FilledLine, Line, Phone, Text, documented

# check_country upper-cases what it is given, so the document admits either case.
COUNTRY_CODE = re.compile(r"^[A-Za-z]{2}$")

EmailDomain = Annotated[str, Field(max_length=253), documented(EMAIL_DOMAIN), AfterValidator(check_email_domain)]
Country = Annotated[str, Field(max_length=2), documented(COUNTRY_CODE), AfterValidator(check_country)]
# Names and ids are single lines (a CR or LF in them could split a mail header or a CSV row); a
# note and an address may have several.
Name = Annotated[FilledLine, Field(max_length=100)]
Note = Annotated[Text, Field(max_length=2000)]
CompanyName = Annotated[FilledLine, Field(max_length=200)]
Address = Annotated[Text, Field(max_length=500)]
ContactName = Annotated[Line, Field(max_length=200)]
TaxId = Annotated[Line, Field(max_length=50)]


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

    name: CompanyName = None  # may be left out, not emptied: null is refused


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
