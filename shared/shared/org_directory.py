"""A local copy of the organizations (and their representatives) kept from the orgs events, for
services that must know who is whose child, who is archived, and whom to show or notify.

Each service that needs it adds the tables to its metadata (and creates them in a migration with
`create_org_directory_tables`) and merges `ORG_DIRECTORY_HANDLERS` into its event handlers.
An org's row carries the time of the last event applied, so a late redelivery of an older event
(archived after unarchived) cannot overwrite newer state.
"""

import uuid
from collections.abc import Collection
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import DriverStatement, UnitOfWork
from shared.events.envelope import Envelope
from shared.events.orgs import (
    OrganizationArchived,
    OrganizationCreated,
    OrganizationUnarchived,
    OrganizationUpdated,
    RepresentativeAdded,
    RepresentativeMadeDefault,
    RepresentativeRemoved,
    RepresentativeUpdated,
)

_metadata = sa.MetaData()


def add_org_directory_tables(metadata: sa.MetaData) -> tuple[sa.Table, sa.Table]:
    orgs = sa.Table(
        "org_directory",
        metadata,
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("tier", sa.Text, nullable=False),
        sa.Column("parent_id", UUID(as_uuid=True)),
        sa.Column("status", sa.Text, nullable=False, server_default="active"),
        sa.Column("country", sa.Text),
        sa.Column("email_domain", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Index("org_directory_children", "parent_id"),
    )
    representatives = sa.Table(
        "org_directory_representatives",
        metadata,
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("org_id", UUID(as_uuid=True), nullable=False, index=True),
        sa.Column("email", sa.Text, nullable=False),
        sa.Column("first_name", sa.Text),
        sa.Column("last_name", sa.Text),
        sa.Column("phone", sa.Text),
        sa.Column("is_default", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    return orgs, representatives


org_directory, org_directory_representatives = add_org_directory_tables(_metadata)


def create_org_directory_tables(op) -> None:
    """Called from an Alembic migration of each service that keeps the directory."""
    metadata = sa.MetaData()
    add_org_directory_tables(metadata)
    metadata.create_all(bind=op.get_bind())


@dataclass(frozen=True)
class KnownOrg:
    id: uuid.UUID
    name: str
    tier: str
    parent_id: uuid.UUID | None
    status: str


# What a KnownOrg is made of, in its fields' order (a query may select more after them).
KNOWN_ORG_COLUMNS = (org_directory.c.id, org_directory.c.name, org_directory.c.tier, org_directory.c.parent_id,
                     org_directory.c.status)


# = ANY(array), not IN (...): one statement whatever the number of ids.
_FIND_ORGS = DriverStatement(sa.select(*KNOWN_ORG_COLUMNS).where(
    org_directory.c.id == sa.any_(sa.bindparam("ids", type_=ARRAY(UUID(as_uuid=True))))))


async def find_org(session: AsyncSession, org_id: uuid.UUID) -> KnownOrg | None:
    rows = await session.execute(_FIND_ORGS.statement, {"ids": [org_id]})
    return next((KnownOrg(*row) for row in rows), None)


async def find_orgs(uow: UnitOfWork, org_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, KnownOrg]:
    """The known orgs among `org_ids`, by id (unknown ids are absent), in the unit of work."""
    if not org_ids:
        return {}
    return {row.id: KnownOrg(*row) for row in await uow.fetch(_FIND_ORGS, {"ids": list(org_ids)})}


def why_not_eligible(destination: KnownOrg | None, from_org_id: uuid.UUID) -> str | None:
    """Licenses move only to an active child org of the sender; the reason when they may not."""
    if destination is None or destination.parent_id != from_org_id:
        return "The destination is not one of your integrators or customers."
    if destination.status != "active":
        return f"{destination.name} is archived and receives no transfers."
    return None


async def _upsert_org(uow: UnitOfWork, envelope: Envelope, values: dict) -> None:
    stamp = envelope.occurred_at
    statement = insert(org_directory).values(**values, created_at=stamp, updated_at=stamp)
    update = {k: statement.excluded[k] for k in values if k != "id"} | {"updated_at": statement.excluded.updated_at}
    await uow.session.execute(
        statement.on_conflict_do_update(
            index_elements=["id"], set_=update, where=org_directory.c.updated_at <= statement.excluded.updated_at
        )
    )


async def _organization_created(uow: UnitOfWork, envelope: Envelope) -> None:
    event = envelope.payload_as(OrganizationCreated)
    await _upsert_org(
        uow,
        envelope,
        dict(id=event.org_id, name=event.name, tier=event.tier, parent_id=event.parent_id,
             country=event.country, email_domain=event.email_domain),
    )
    for rep in event.representatives:
        await _upsert_representative(uow, event.org_id, rep.model_dump())


async def _organization_updated(uow: UnitOfWork, envelope: Envelope) -> None:
    event = envelope.payload_as(OrganizationUpdated)
    await _upsert_org(
        uow,
        envelope,
        dict(id=event.org_id, name=event.name, tier=event.tier, parent_id=event.parent_id,
             country=event.country, email_domain=event.email_domain),
    )


def _status_handler(contract, status: str):
    async def handle(uow: UnitOfWork, envelope: Envelope) -> None:
        event = envelope.payload_as(contract)
        await _upsert_org(
            uow, envelope, dict(id=event.org_id, name=event.name, tier=event.tier, parent_id=event.parent_id,
                                status=status)
        )

    return handle


async def _upsert_representative(uow: UnitOfWork, org_id: uuid.UUID, rep: dict) -> None:
    values = {
        "id": rep["representative_id"], "org_id": org_id, "email": rep["email"], "first_name": rep.get("first_name"),
        "last_name": rep.get("last_name"), "phone": rep.get("phone"), "is_default": rep.get("is_default", False),
    }
    if values["is_default"]:
        await _clear_default(uow, org_id)
    statement = insert(org_directory_representatives).values(**values)
    await uow.session.execute(
        statement.on_conflict_do_update(
            index_elements=["id"], set_={k: statement.excluded[k] for k in values if k not in ("id", "org_id")}
        )
    )


async def _clear_default(uow: UnitOfWork, org_id: uuid.UUID) -> None:
    await uow.session.execute(
        sa.update(org_directory_representatives)
        .where(org_directory_representatives.c.org_id == org_id)
        .values(is_default=False)
    )


async def _representative_added(uow: UnitOfWork, envelope: Envelope) -> None:
    event = envelope.payload_as(RepresentativeAdded)
    await _upsert_representative(uow, event.org_id, event.model_dump())


async def _representative_updated(uow: UnitOfWork, envelope: Envelope) -> None:
    event = envelope.payload_as(RepresentativeUpdated)
    await uow.session.execute(
        sa.update(org_directory_representatives)
        .where(org_directory_representatives.c.id == event.representative_id)
        .values(email=event.email, first_name=event.first_name, last_name=event.last_name, phone=event.phone)
    )


async def _representative_removed(uow: UnitOfWork, envelope: Envelope) -> None:
    event = envelope.payload_as(RepresentativeRemoved)
    await uow.session.execute(
        sa.delete(org_directory_representatives).where(org_directory_representatives.c.id == event.representative_id)
    )
    if event.new_default_id is not None:
        await _make_default(uow, event.org_id, event.new_default_id)


async def _make_default(uow: UnitOfWork, org_id: uuid.UUID, representative_id: uuid.UUID) -> None:
    await _clear_default(uow, org_id)
    await uow.session.execute(
        sa.update(org_directory_representatives)
        .where(org_directory_representatives.c.id == representative_id)
        .values(is_default=True)
    )


async def _representative_made_default(uow: UnitOfWork, envelope: Envelope) -> None:
    event = envelope.payload_as(RepresentativeMadeDefault)
    await _make_default(uow, event.org_id, event.representative_id)


ORG_DIRECTORY_HANDLERS = {
    OrganizationCreated.routing_key: _organization_created,
    OrganizationUpdated.routing_key: _organization_updated,
    OrganizationArchived.routing_key: _status_handler(OrganizationArchived, "archived"),
    OrganizationUnarchived.routing_key: _status_handler(OrganizationUnarchived, "active"),
    RepresentativeAdded.routing_key: _representative_added,
    RepresentativeUpdated.routing_key: _representative_updated,
    RepresentativeRemoved.routing_key: _representative_removed,
    RepresentativeMadeDefault.routing_key: _representative_made_default,
}
