"""What the orgs service is asked to do (imperative, validated by the API before they are made):
each is carried out by one function of orgs.handlers. `parent_id` is the acting org: a partner
command reaches only that org's own children of `tier`; `actor_id` is the member acting."""

import uuid
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class CreateDistributor:
    vendor_id: uuid.UUID
    actor_id: uuid.UUID | None
    company: dict
    admin_email: str


@dataclass(frozen=True, kw_only=True)
class CreatePartner:
    """An integrator or customer with its representatives (exactly one of them marked default)."""

    parent_id: uuid.UUID
    actor_id: uuid.UUID | None
    tier: str
    company: dict
    representatives: tuple[dict, ...]


@dataclass(frozen=True, kw_only=True)
class PartnerCommand:
    parent_id: uuid.UUID
    actor_id: uuid.UUID | None
    tier: str
    org_id: uuid.UUID


@dataclass(frozen=True, kw_only=True)
class UpdatePartner(PartnerCommand):
    changes: dict


@dataclass(frozen=True, kw_only=True)
class ChangePartnerStatus(PartnerCommand):
    status: str  # "archived" or "active"


@dataclass(frozen=True, kw_only=True)
class AddRepresentative(PartnerCommand):
    fields: dict


@dataclass(frozen=True, kw_only=True)
class RepresentativeCommand(PartnerCommand):
    representative_id: uuid.UUID


@dataclass(frozen=True, kw_only=True)
class UpdateRepresentative(RepresentativeCommand):
    changes: dict


@dataclass(frozen=True, kw_only=True)
class RemoveRepresentative(RepresentativeCommand):
    pass


@dataclass(frozen=True, kw_only=True)
class MakeRepresentativeDefault(RepresentativeCommand):
    pass
