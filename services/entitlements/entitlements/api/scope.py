"""What part of which entitlement lines the caller's org holds: the one place list and detail
queries take their scope from, so no route can show another org's licenses.

A distributor, integrator or customer sees the lines it has received any of (its holding rows),
with its own running totals, and what it has reserved for subscription licences not yet a
customer's; a subscription licence that became a customer's counts as transferred (to that
customer). So for every org: received == available + transferred + activated + reserved. The
vendor issued everything: it sees every line, with the whole quantity as received and transferred,
and what is still unactivated, reserved or activated anywhere (available + reserved + activated
== received, conservation).
An org also sees what each of its child orgs holds (their detail panels), and nothing further.

The holder's org is a bind parameter (`held_by`), so a statement built once serves every holder
of a tier.
"""

import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from entitlements.db import entitlement_lines, holdings
from entitlements.reservations import reservations
from shared.auth.permissions import Tier
from shared.auth.tokens import Caller
from shared.org_directory import find_org
from shared.problems import Problem


@dataclass(frozen=True)
class Holder:
    org_id: uuid.UUID
    tier: Tier


async def holder_for(session: AsyncSession, caller: Caller, org_id: uuid.UUID | None) -> Holder:
    """The caller's own org, or one of its child orgs (archived ones too: they may still hold
    licenses); any other org is unknown to the caller: 404."""
    if org_id is None or org_id == caller.org_id:
        return Holder(caller.org_id, Tier(caller.tier))
    child = await find_org(session, org_id)
    if child is None or child.parent_id != caller.org_id:
        raise Problem(404, f"No organization of yours with id {org_id}.")
    return Holder(child.id, Tier(child.tier))


def held_lines(tier: Tier) -> sa.Subquery:
    """Columns: line_id, received, available, transferred, activated, reserved (integers, never
    null), of the holder given by `held_by` at execution (the vendor's: every line)."""
    if tier == Tier.VENDOR:
        totals = (
            sa.select(
                holdings.c.line_id,
                sa.func.sum(holdings.c.available).label("available"),
                sa.func.sum(holdings.c.activated).label("activated"),
            )
            .group_by(holdings.c.line_id)
            .subquery()
        )
        reserved = _sold(reservations.c.line_id).subquery()
        return (
            sa.select(
                entitlement_lines.c.id.label("line_id"),
                entitlement_lines.c.quantity.label("received"),
                _count(totals.c.available).label("available"),
                entitlement_lines.c.quantity.label("transferred"),
                _count(totals.c.activated).label("activated"),
                _count(reserved.c.reserved).label("reserved"),
            )
            .select_from(entitlement_lines.outerjoin(totals, totals.c.line_id == entitlement_lines.c.id)
                         .outerjoin(reserved, reserved.c.line_id == entitlement_lines.c.id))
            .subquery("held")
        )
    holder = sa.bindparam("holder_org_id", type_=holdings.c.org_id.type)
    sold = _sold(reservations.c.line_id).where(reservations.c.seller_org_id == holder).subquery()
    return (
        sa.select(holdings.c.line_id, holdings.c.received, holdings.c.available,
                  (holdings.c.transferred + _count(sold.c.converted)).label("transferred"),
                  holdings.c.activated, _count(sold.c.reserved).label("reserved"))
        .select_from(holdings.outerjoin(sold, sold.c.line_id == holdings.c.line_id))
        .where(holdings.c.org_id == holder, holdings.c.received > 0)
        .subquery("held")
    )


def _sold(*group_by: sa.ColumnElement) -> sa.Select:
    """Subscription licences' quantities per `group_by`: still reserved, and become a customer's."""
    def of(status: str) -> sa.ColumnElement:
        return sa.func.sum(reservations.c.quantity).filter(reservations.c.status == status)

    return (sa.select(*group_by, of("reserved").label("reserved"), of("converted").label("converted"))
            .group_by(*group_by))


def _count(total: sa.ColumnElement) -> sa.ColumnElement:
    return sa.cast(sa.func.coalesce(total, 0), sa.BigInteger)


def held_by(holder: Holder | Caller) -> dict:
    """The parameters of a statement over `held_lines`."""
    return {"holder_org_id": holder.org_id}
