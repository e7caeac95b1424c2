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
    """A change to one of the acting org's integrators or customers."""

    parent_id: uuid.UUID
    actor_id: uuid.UUID | None
    tier: str
    org_id: uuid.UUID


@dataclass(frozen=True, kw_only=True)
class UpdatePartner(PartnerCommand):
    """Change the company fields given (name, country, ...): `changes`."""

    changes: dict


@dataclass(frozen=True, kw_only=True)
class ChangePartnerStatus(PartnerCommand):
    """Archive or unarchive the partner."""

    status: str  # "archived" or "active"


@dataclass(frozen=True, kw_only=True)
class AddRepresentative(PartnerCommand):
    """Add a representative (`fields`: email, names, phone, note)."""

    fields: dict


@dataclass(frozen=True, kw_only=True)
class RepresentativeCommand(PartnerCommand):
    """A change to one representative of such a partner."""

    representative_id: uuid.UUID


@dataclass(frozen=True, kw_only=True)
class UpdateRepresentative(RepresentativeCommand):
    """Change the representative's fields given: `changes`."""

    changes: dict


@dataclass(frozen=True, kw_only=True)
class RemoveRepresentative(RepresentativeCommand):
    """Remove a representative; never the last one."""


@dataclass(frozen=True, kw_only=True)
class MakeRepresentativeDefault(RepresentativeCommand):
    """Make this representative the partner's default one."""
