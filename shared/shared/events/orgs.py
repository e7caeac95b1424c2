"""Events produced by the orgs service."""

import uuid

from shared.events.envelope import EventPayload


class RepresentativeInfo(EventPayload):
    """A representative as other services keep it (the transactions log shows them)."""

    representative_id: uuid.UUID
    email: str
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    is_default: bool = False


class OrganizationCreated(EventPayload):
    routing_key = "orgs.organization.created"

    org_id: uuid.UUID
    name: str
    tier: str
    parent_id: uuid.UUID | None = None
    # Added for consumers that keep a local copy (optional: older events lack them).
    country: str | None = None
    email_domain: str | None = None
    default_representative_email: str | None = None
    # A distributor's first Admin, invited by identity (distributors only).
    admin_email: str | None = None
    representatives: list[RepresentativeInfo] = []


class OrganizationArchived(EventPayload):
    """An archived integrator or customer receives no transfers until it is unarchived."""

    routing_key = "orgs.organization.archived"

    org_id: uuid.UUID
    name: str
    tier: str
    parent_id: uuid.UUID | None = None


class OrganizationUnarchived(EventPayload):
    routing_key = "orgs.organization.unarchived"

    org_id: uuid.UUID
    name: str
    tier: str
    parent_id: uuid.UUID | None = None


class OrganizationUpdated(EventPayload):
    routing_key = "orgs.organization.updated"

    org_id: uuid.UUID
    name: str
    tier: str
    parent_id: uuid.UUID | None = None
    changed: list[str] = []
    country: str | None = None
    email_domain: str | None = None


class RepresentativeAdded(EventPayload):
    routing_key = "orgs.representative.added"

    org_id: uuid.UUID
    representative_id: uuid.UUID
    email: str
    is_default: bool = False
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    # Optional, for the audit log's message ("Representative bob@x.com added to Acme").
    org_name: str | None = None
    tier: str | None = None


class RepresentativeUpdated(EventPayload):
    routing_key = "orgs.representative.updated"

    org_id: uuid.UUID
    representative_id: uuid.UUID
    email: str
    changed: list[str] = []
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    # Optional, for the audit log's message ("Representative bob@x.com added to Acme").
    org_name: str | None = None
    tier: str | None = None


class RepresentativeRemoved(EventPayload):
    routing_key = "orgs.representative.removed"

    org_id: uuid.UUID
    representative_id: uuid.UUID
    email: str
    # Set when the removed one was the default and another took its place.
    new_default_id: uuid.UUID | None = None
    # Optional, for the audit log's message ("Representative bob@x.com added to Acme").
    org_name: str | None = None
    tier: str | None = None


class RepresentativeMadeDefault(EventPayload):
    routing_key = "orgs.representative.made_default"

    org_id: uuid.UUID
    representative_id: uuid.UUID
    email: str
    # Optional, for the audit log's message ("Representative bob@x.com added to Acme").
    org_name: str | None = None
    tier: str | None = None
