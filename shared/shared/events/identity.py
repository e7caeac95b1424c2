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
    # The member's access tokens carry a version ("ver"); those older than this are void everywhere
    # (shared.auth.member_tokens). Absent from events of producers that predate it.
    token_version: int | None = None


class MemberRemoved(EventPayload):
    """Every access token of the member is void from now on, whatever its version."""

    routing_key = "identity.member.removed"

    member_id: uuid.UUID
    org_id: uuid.UUID
    email: str
    token_version: int | None = None


class InviteWithdrawn(EventPayload):
    """A pending invite ended because its email accepted another organization's invite: its link
    now says so. Carries no token."""

    routing_key = "identity.invite.withdrawn"

    invite_id: uuid.UUID
    org_id: uuid.UUID
    email: str


class FirstAdminInviteFailed(EventPayload):
    """A new organization's first Admin could not be invited: never skipped silently, but
    reported to the organization that created it (and to the new one), whose audit logs show it."""

    routing_key = "identity.invite.failed"

    org_id: uuid.UUID
    parent_id: uuid.UUID | None = None
    email: str | None = None  # the address that could not be invited, when there was one
    reason: str
