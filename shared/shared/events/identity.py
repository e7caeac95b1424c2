"""Events produced by the identity service."""

import uuid

from shared.events.envelope import EventPayload


class MemberCreated(EventPayload):
    routing_key = "identity.member.created"

    member_id: uuid.UUID
    org_id: uuid.UUID
    email: str
    role: str


class SignedIn(EventPayload):
    routing_key = "identity.session.started"

    member_id: uuid.UUID
    org_id: uuid.UUID
