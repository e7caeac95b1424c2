"""Identity reacts to organizations: the vendor's first Admin comes from the settings."""

import asyncio
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa

from sqlalchemy.dialects.postgresql import insert

from identity.db import invites, members
from identity.domain.invites import expiry, new_invite_token
from identity.domain.passwords import hash_password
from identity.domain.tokens import normalize_email, token_hash
from identity.settings import IdentitySettings
from shared.auth.permissions import Role, Tier
from shared.bus.consumer import EventHandler
from shared.db import UnitOfWork
from shared.events.envelope import Envelope
from shared.events.identity import InviteCreated, MemberCreated
from shared.events.orgs import OrganizationCreated


def event_handlers(settings: IdentitySettings) -> dict[str, EventHandler]:
    async def on_organization_created(uow: UnitOfWork, envelope: Envelope) -> None:
        org = envelope.payload_as(OrganizationCreated)
        if org.tier == Tier.VENDOR:
            await create_first_admin(uow, settings, org.org_id)
            return
        # Other tiers get their first Admin by invite: a distributor's admin_email, or the default
        # representative of an integrator or customer.
        email = getattr(org, "admin_email", None) or org.default_representative_email
        if email:
            await invite_first_admin(uow, org.org_id, org.tier, email, settings.invite_ttl_days)

    return {OrganizationCreated.routing_key: on_organization_created}


async def create_first_admin(uow: UnitOfWork, settings: IdentitySettings, org_id: uuid.UUID) -> uuid.UUID | None:
    """Idempotent: the inbox drops a redelivered event, and the unique email makes a second
    event (or a second replica) insert nothing and record nothing."""
    email = normalize_email(settings.admin_email)
    password_hash = await asyncio.to_thread(hash_password, settings.admin_password.get_secret_value())
    member_id = uuid.uuid4()
    inserted = (
        await uow.session.execute(
            insert(members)
            .values(id=member_id, org_id=org_id, tier=Tier.VENDOR.value, email=email, first_name="Vendor",
                    last_name="Admin", role=Role.ADMIN.value, password_hash=password_hash, status="active")
            .on_conflict_do_nothing(index_elements=["email"])
            .returning(members.c.id)
        )
    ).scalar_one_or_none()
    if inserted is None:
        return None
    uow.record(MemberCreated(member_id=member_id, org_id=org_id, email=email, role=Role.ADMIN.value),
               visible_to=[org_id], actor_org_id=org_id)
    return member_id


async def invite_first_admin(
    uow: UnitOfWork, org_id: uuid.UUID, tier: str, email: str, ttl_days: int = 7
) -> uuid.UUID | None:
    """Invites an organization's first Admin; nothing when the email is already a member or invited."""
    email = normalize_email(email)
    await uow.session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(email))))
    if (await uow.session.execute(sa.select(members.c.id).where(members.c.email == email))).first():
        return None
    pending = sa.and_(invites.c.email == email, invites.c.accepted_at.is_(None), sa.not_(invites.c.deleted))
    if (await uow.session.execute(sa.select(invites.c.id).where(pending))).first():
        return None
    token = new_invite_token()
    expires_at = expiry(datetime.now(UTC), ttl_days)
    invite_id = uuid.uuid4()
    await uow.session.execute(sa.insert(invites).values(
        id=invite_id, org_id=org_id, tier=str(tier), email=email, role=Role.ADMIN.value,
        token_hash=token_hash(token), expires_at=expires_at))
    # The plain token rides in the event (inside the bus only) so notify can mail the accept link.
    uow.record(InviteCreated(invite_id=invite_id, org_id=org_id, email=email, role=Role.ADMIN.value, token=token,
                             expires_at=expires_at), visible_to=[org_id], actor_org_id=org_id)
    return invite_id
