"""The orgs service's commands: the only place its state changes. Each changes state and records
its event in the caller's unit of work (the caller commits, so an Idempotency-Key answer joins the
same transaction) and returns the rows the answer is made of; a command that cannot be carried
out raises a Problem and changes nothing. Partner commands reach only the acting org's own
children of the tier: any other id is a 404."""

import uuid

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from orgs.db import organizations, representatives
from orgs.domain.commands import (
    AddRepresentative,
    ChangePartnerStatus,
    CreateDistributor,
    CreatePartner,
    MakeRepresentativeDefault,
    PartnerCommand,
    RemoveRepresentative,
    RepresentativeCommand,
    UpdatePartner,
    UpdateRepresentative,
)
from orgs.domain.partners import ARCHIVED, MAX_REPRESENTATIVES, why_archived_may_not_create
from shared.auth.permissions import Tier
from shared.db import UnitOfWork
from shared.events.orgs import (
    OrganizationArchived,
    OrganizationCreated,
    OrganizationUnarchived,
    OrganizationUpdated,
    RepresentativeAdded,
    RepresentativeInfo,
    RepresentativeMadeDefault,
    RepresentativeRemoved,
    RepresentativeUpdated,
)
from shared.problems import Problem


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


async def create_distributor(uow: UnitOfWork, command: CreateDistributor) -> dict:
    """A distributor under the vendor; identity invites its Admin when it sees the event."""
    org_id = uuid.uuid4()
    org = (
        await uow.session.execute(
            sa.insert(organizations)
            .values(id=org_id, tier=Tier.DISTRIBUTOR.value, parent_id=command.vendor_id, **command.company)
            .returning(organizations)
        )
    ).mappings().one()
    uow.record(
        OrganizationCreated(
            org_id=org_id, name=org["name"], tier=Tier.DISTRIBUTOR.value, parent_id=command.vendor_id,
            country=org["country"], email_domain=org["email_domain"], admin_email=command.admin_email,
        ),
        visible_to=[org_id, command.vendor_id], actor_org_id=command.vendor_id, actor_user_id=command.actor_id,
    )
    return dict(org)


async def create_partner(uow: UnitOfWork, command: CreatePartner) -> tuple[dict, list[dict]]:
    """An integrator or customer under the acting org, which must not be archived; returns its row
    and its representatives'."""
    parent_status = (await uow.session.execute(
        sa.select(organizations.c.status, organizations.c.tier).where(organizations.c.id == command.parent_id)
    )).one_or_none()
    if parent_status is not None and parent_status.status == ARCHIVED:
        raise Problem(403, why_archived_may_not_create(parent_status.tier))
    org_id = uuid.uuid4()
    reps = [{"id": uuid.uuid4(), "org_id": org_id, **rep} for rep in command.representatives]
    org = (
        await uow.session.execute(
            sa.insert(organizations)
            .values(id=org_id, tier=command.tier, parent_id=command.parent_id, **command.company)
            .returning(organizations)
        )
    ).mappings().one()
    # clock_timestamp(): the order of addition decides which one becomes default next.
    await uow.session.execute(sa.insert(representatives).values(created_at=sa.func.clock_timestamp()), reps)
    uow.record(
        OrganizationCreated(
            org_id=org_id, name=org["name"], tier=command.tier, parent_id=command.parent_id,
            country=org["country"], email_domain=org["email_domain"],
            default_representative_email=next(r["email"] for r in reps if r["is_default"]),
            representatives=[_representative_info(r) for r in reps],
        ),
        visible_to=[org_id, command.parent_id], actor_org_id=command.parent_id, actor_user_id=command.actor_id,
    )
    return dict(org), reps


async def update_partner(uow: UnitOfWork, command: UpdatePartner) -> dict:
    """Changes the company fields given; the event names those that really changed (none: no event)."""
    org = await _locked_partner(uow, command)
    changed = sorted(k for k, v in command.changes.items() if org[k] != v)
    if not changed:
        return dict(org)
    updated = await _update_partner_row(uow, command.org_id, {k: command.changes[k] for k in changed})
    _record(uow, command, OrganizationUpdated(
        org_id=command.org_id, name=updated["name"], tier=command.tier, parent_id=command.parent_id,
        changed=changed, country=updated["country"], email_domain=updated["email_domain"],
    ))
    return updated


async def change_partner_status(uow: UnitOfWork, command: ChangePartnerStatus) -> dict:
    """Archives or unarchives (what archived means: orgs.domain.partners.why_archived_may_not_create)."""
    org = await _locked_partner(uow, command)
    if org["status"] == command.status:
        raise Problem(409, f"The {command.tier} is already {command.status}.")
    updated = await _update_partner_row(uow, command.org_id, {"status": command.status})
    event = OrganizationArchived if command.status == ARCHIVED else OrganizationUnarchived
    _record(uow, command, event(org_id=command.org_id, name=org["name"], tier=command.tier,
                                parent_id=command.parent_id))
    return updated


async def add_representative(uow: UnitOfWork, command: AddRepresentative) -> dict:
    org, reps = await _locked_representatives(uow, command)
    if len(reps) >= MAX_REPRESENTATIVES:
        raise Problem(422, f"A {command.tier} may have at most {MAX_REPRESENTATIVES} representatives.")
    _refuse_clash(reps, command.fields["email"], command.tier)
    rep = (
        await uow.session.execute(
            sa.insert(representatives)
            .values(id=uuid.uuid4(), org_id=command.org_id, is_default=not reps, created_at=sa.func.clock_timestamp(),
                    **command.fields)
            .returning(representatives)
        )
    ).mappings().one()
    _record(uow, command, RepresentativeAdded(org_id=command.org_id, org_name=org["name"], tier=command.tier,
                                              **_representative_info(rep).model_dump()))
    return dict(rep)


async def update_representative(uow: UnitOfWork, command: UpdateRepresentative) -> dict:
    org, reps = await _locked_representatives(uow, command)
    rep = _find_representative(reps, command)
    if "email" in command.changes:
        _refuse_clash(reps, command.changes["email"], command.tier, except_id=command.representative_id)
    changed = sorted(k for k, v in command.changes.items() if rep[k] != v)
    if not changed:
        return dict(rep)
    rep = (
        await uow.session.execute(
            sa.update(representatives)
            .where(representatives.c.id == command.representative_id)
            .values(**{k: command.changes[k] for k in changed})
            .returning(representatives)
        )
    ).mappings().one()
    _record(uow, command, RepresentativeUpdated(
        org_id=command.org_id, org_name=org["name"], tier=command.tier, changed=changed,
        **_representative_info(rep).model_dump(exclude={"is_default"}),
    ))
    return dict(rep)


async def remove_representative(uow: UnitOfWork, command: RemoveRepresentative) -> None:
    """The last one stays; removing the default makes the oldest remaining one the default."""
    org, reps = await _locked_representatives(uow, command)
    rep = _find_representative(reps, command)
    if len(reps) == 1:
        raise Problem(409, f"The last representative of a {command.tier} cannot be removed.")
    await uow.session.execute(sa.delete(representatives).where(representatives.c.id == command.representative_id))
    new_default = None
    if rep["is_default"]:
        new_default = next(r for r in reps if r["id"] != command.representative_id)["id"]
        await uow.session.execute(
            sa.update(representatives).where(representatives.c.id == new_default).values(is_default=True)
        )
    _record(uow, command, RepresentativeRemoved(
        org_id=command.org_id, org_name=org["name"], tier=command.tier, representative_id=command.representative_id,
        email=rep["email"], new_default_id=new_default,
    ))


async def make_representative_default(uow: UnitOfWork, command: MakeRepresentativeDefault) -> dict:
    org, reps = await _locked_representatives(uow, command)
    rep = _find_representative(reps, command)
    if rep["is_default"]:
        return dict(rep)
    await uow.session.execute(
        sa.update(representatives)
        .where(representatives.c.org_id == command.org_id, representatives.c.is_default)
        .values(is_default=False)
    )
    rep = (
        await uow.session.execute(
            sa.update(representatives)
            .where(representatives.c.id == command.representative_id)
            .values(is_default=True)
            .returning(representatives)
        )
    ).mappings().one()
    _record(uow, command, RepresentativeMadeDefault(
        org_id=command.org_id, org_name=org["name"], tier=command.tier,
        representative_id=command.representative_id, email=rep["email"],
    ))
    return dict(rep)


def partner_query(parent_id: uuid.UUID, tier: str, org_id: uuid.UUID) -> sa.Select:
    """The org `org_id` if it is one of `parent_id`'s children of `tier` (no row otherwise)."""
    return sa.select(organizations).where(
        organizations.c.id == org_id, organizations.c.parent_id == parent_id, organizations.c.tier == tier
    )


async def _locked_partner(uow: UnitOfWork, command: PartnerCommand):
    """The partner's row, locked until commit: changes of one partner run one after another."""
    org = (await uow.session.execute(
        partner_query(command.parent_id, command.tier, command.org_id).with_for_update()
    )).mappings().one_or_none()
    if org is None:
        raise Problem(404, f"No {command.tier} with id {command.org_id}.")
    return org


async def _locked_representatives(uow: UnitOfWork, command: PartnerCommand):
    """The locked partner and its representatives, oldest first."""
    org = await _locked_partner(uow, command)
    reps = (
        await uow.session.execute(
            sa.select(representatives)
            .where(representatives.c.org_id == command.org_id)
            .order_by(representatives.c.created_at, representatives.c.id)
        )
    ).mappings().all()
    return org, reps


async def _update_partner_row(uow: UnitOfWork, org_id: uuid.UUID, values: dict) -> dict:
    return dict((await uow.session.execute(
        sa.update(organizations).where(organizations.c.id == org_id).values(**values).returning(organizations)
    )).mappings().one())


def _find_representative(reps, command: RepresentativeCommand):
    rep = next((r for r in reps if r["id"] == command.representative_id), None)
    if rep is None:
        raise Problem(404, f"No representative with id {command.representative_id} in {command.tier} {command.org_id}.")
    return rep


def _refuse_clash(reps, email: str, tier: str, except_id: uuid.UUID | None = None) -> None:
    if any(r["email"].lower() == email.lower() and r["id"] != except_id for r in reps):
        raise Problem(409, f"A representative with email '{email}' already exists in this {tier}.")


def _record(uow: UnitOfWork, command: PartnerCommand, event) -> None:
    uow.record(event, visible_to=[command.org_id, command.parent_id], actor_org_id=command.parent_id,
               actor_user_id=command.actor_id)


def _representative_info(rep) -> RepresentativeInfo:
    """A representative as the events carry it, for services that keep a copy."""
    return RepresentativeInfo(
        representative_id=rep["id"], email=rep["email"], first_name=rep.get("first_name"),
        last_name=rep.get("last_name"), phone=rep.get("phone"), is_default=rep["is_default"],
    )
