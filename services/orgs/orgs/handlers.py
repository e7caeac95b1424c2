"""The orgs service's commands; each changes state and records its event in one transaction."""

import uuid

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from orgs.db import organizations
from shared.db import UnitOfWork
from shared.events.orgs import OrganizationCreated


async def ensure_vendor(uow: UnitOfWork, name: str) -> uuid.UUID:
    """The platform operator's org exists once, whatever the number of replicas starting at once."""
    vendor_id = uuid.uuid4()
    created = (
        await uow.session.execute(
            insert(organizations)
            .values(id=vendor_id, name=name, tier="vendor")
            .on_conflict_do_nothing(index_elements=["tier"], index_where=sa.text("tier = 'vendor'"))
            .returning(organizations.c.id)
        )
    ).scalar_one_or_none()
    if created is None:
        return (await uow.session.execute(sa.select(organizations.c.id).where(organizations.c.tier == "vendor"))).scalar_one()
    uow.record(
        OrganizationCreated(org_id=vendor_id, name=name, tier="vendor"), visible_to=[vendor_id], actor_org_id=vendor_id
    )
    await uow.commit()
    return vendor_id
