"""Identity reacts to organizations: the vendor's first Admin comes from the settings."""

import asyncio
import uuid

from sqlalchemy.dialects.postgresql import insert

from identity.db import members
from identity.domain.passwords import hash_password
from identity.domain.tokens import normalize_email
from identity.settings import IdentitySettings
from shared.auth.permissions import Role, Tier
from shared.bus.consumer import EventHandler
from shared.db import UnitOfWork
from shared.events.envelope import Envelope
from shared.events.identity import MemberCreated
from shared.events.orgs import OrganizationCreated


def event_handlers(settings: IdentitySettings) -> dict[str, EventHandler]:
    async def on_organization_created(uow: UnitOfWork, envelope: Envelope) -> None:
        org = envelope.payload_as(OrganizationCreated)
        if org.tier != Tier.VENDOR:
            return  # other tiers get their first Admin by invite (not built yet)
        await create_first_admin(uow, settings, org.org_id)

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
