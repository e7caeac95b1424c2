"""Which licenses a member's org may see: an end customer its own; an integrator its customers';
a distributor its integrators' customers' (the org directory copy knows the parents)."""

from typing import Annotated

import sqlalchemy as sa
from fastapi import Query
from pydantic import Field

from devices.db import licenses, org_directory
from shared.auth.permissions import Role, Tier
from shared.auth.tokens import Caller
from shared.validation import Text

SearchText = Annotated[
    Annotated[Text, Field(max_length=200)] | None, Query(description="Text search (contains, case-insensitive)")
]


def _children(parent_ids) -> sa.Select:
    return sa.select(org_directory.c.id).where(org_directory.c.parent_id.in_(parent_ids))


def visible_licenses(caller: Caller) -> sa.ColumnElement[bool]:
    if caller.tier == Tier.CUSTOMER:
        return licenses.c.org_id == caller.org_id
    if caller.tier == Tier.INTEGRATOR:
        return licenses.c.org_id.in_(_children([caller.org_id]))
    if caller.tier == Tier.DISTRIBUTOR:
        return licenses.c.org_id.in_(_children(_children([caller.org_id])))
    return sa.false()


def sees_keys(caller: Caller) -> bool:
    """The key is shown to the owning customer's Admin only (the scope already is its own org)."""
    return caller.tier == Tier.CUSTOMER and caller.role == Role.ADMIN
