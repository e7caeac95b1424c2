"""Events produced by the orgs service."""

import uuid

from shared.events.envelope import EventPayload


class OrganizationCreated(EventPayload):
    routing_key = "orgs.organization.created"

    org_id: uuid.UUID
    name: str
    tier: str
    parent_id: uuid.UUID | None = None
