"""What part of which entitlement lines the caller's org holds: the one place list and detail
queries take their scope from, so no route can show another org's licenses.

A distributor, integrator or customer sees the lines it has received any of (its holding rows),
with its own running totals. The vendor issued everything: it sees every line, with the whole
quantity as received and transferred, and what is still unactivated or activated anywhere.
An org also sees what each of its child orgs holds (their detail panels), and nothing further.

The holder's org is a bind parameter (`held_by`), so a statement built once serves every holder
of a tier.
"""

import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from entitlements.db import entitlement_lines, holdings
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
    """Columns: line_id, received, available, transferred, activated (integers, never null), of
    the holder given by `held_by` at execution (the vendor's: every line)."""
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
        return (
            sa.select(
                entitlement_lines.c.id.label("line_id"),
                entitlement_lines.c.quantity.label("received"),
                sa.cast(sa.func.coalesce(totals.c.available, 0), sa.BigInteger).label("available"),
                entitlement_lines.c.quantity.label("transferred"),
                sa.cast(sa.func.coalesce(totals.c.activated, 0), sa.BigInteger).label("activated"),
            )
            .select_from(entitlement_lines.outerjoin(totals, totals.c.line_id == entitlement_lines.c.id))
            .subquery("held")
        )
    return (
        sa.select(holdings.c.line_id, holdings.c.received, holdings.c.available, holdings.c.transferred,
                  holdings.c.activated)
        .where(holdings.c.org_id == sa.bindparam("holder_org_id", type_=holdings.c.org_id.type),
               holdings.c.received > 0)
        .subquery("held")
    )


def held_by(holder: Holder | Caller) -> dict:
    """The parameters of a statement over `held_lines`."""
    return {"holder_org_id": holder.org_id}
