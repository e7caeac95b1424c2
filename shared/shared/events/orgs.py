"""Events produced by the orgs service."""

import uuid

from shared.events.envelope import EventPayload


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
