"""Events produced by the identity service."""

import uuid
from datetime import datetime

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
    email: str | None = None  # optional, for the audit log's message


class InviteCreated(EventPayload):
    """Carries the plain accept-link token so notify can email it. The event stays inside the bus
    (never logged, never served by the gateway); only its sha256 is stored by identity."""

    routing_key = "identity.invite.created"
    secret_fields = frozenset({"token"})

    invite_id: uuid.UUID
    org_id: uuid.UUID
    email: str
    role: str
    token: str
    expires_at: datetime


class InviteResent(EventPayload):
    """A new token (the old one no longer works); carried for the mail like InviteCreated."""

    routing_key = "identity.invite.resent"
    secret_fields = frozenset({"token"})

    invite_id: uuid.UUID
    org_id: uuid.UUID
    email: str
    role: str
    token: str
    expires_at: datetime


class InviteDeleted(EventPayload):
    routing_key = "identity.invite.deleted"

    invite_id: uuid.UUID
    org_id: uuid.UUID
    email: str


class MemberRoleChanged(EventPayload):
    routing_key = "identity.member.role_changed"

    member_id: uuid.UUID
    org_id: uuid.UUID
    old_role: str
    new_role: str
    email: str | None = None  # optional, for the audit log's message


class MemberRemoved(EventPayload):
    routing_key = "identity.member.removed"

    member_id: uuid.UUID
    org_id: uuid.UUID
    email: str
