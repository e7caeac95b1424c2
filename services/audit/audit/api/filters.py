"""The query parameters the audit list and its CSV export share, validated into an AuditFilter."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo, available_timezones

from fastapi import Depends, Query
from pydantic import Field

from audit.domain.display import UnknownTimeZone, in_zone, time_zone
from audit.queries import KNOWN_TYPES, AuditFilter
from shared.auth.tokens import Caller
from shared.problems import Problem
from shared.validation import Text

_TYPES_BY_NAME = {name.lower(): name for name in KNOWN_TYPES}


@dataclass(frozen=True)
class AuditQuery:
    """What the reader asked for, without the org (that comes from the token)."""

    zone: ZoneInfo
    occurred_from: datetime | None
    occurred_to: datetime | None
    types: tuple[str, ...]
    user: str | None
    search: str | None
    subject_id: uuid.UUID | None

    def for_org(self, caller: Caller) -> AuditFilter:
        return AuditFilter(
            org_id=caller.org_id, occurred_from=self.occurred_from, occurred_to=self.occurred_to, types=self.types,
            user=self.user, search=self.search, subject_id=self.subject_id,
        )


def _problem(field: str, message: str) -> Problem:
    return Problem(422, f"{field}: {message}", "Invalid request")


# The document lists what the checks below accept: the types (any case), the zones zoneinfo knows.
TypeName = Annotated[str, Field(json_schema_extra={"enum": list(KNOWN_TYPES)})]
TimeZoneName = Annotated[str, Field(max_length=64, json_schema_extra={"enum": sorted(available_timezones())})]
SearchText = Annotated[Text, Field(min_length=1, max_length=200)]


async def audit_query(
    occurred_from: Annotated[datetime | None, Query(alias="from", description="ISO date-time; without a zone, read in `tz`")] = None,
    occurred_to: Annotated[datetime | None, Query(alias="to", description="ISO date-time, inclusive")] = None,
    types: Annotated[list[TypeName], Query(alias="type", max_length=20, description=f"repeatable: {', '.join(KNOWN_TYPES)}")] = [],  # noqa: B006
    user: Annotated[SearchText | None, Query(description="the actor's user id, or part of their email")] = None,
    search: Annotated[SearchText | None, Query(description="text in the message or the user's email")] = None,
    subject_id: Annotated[uuid.UUID | None, Query(description="an org or member: the events about it")] = None,
    tz: Annotated[TimeZoneName, Query(description="IANA time zone for display, e.g. Europe/Paris")] = "UTC",
) -> AuditQuery:
    try:
        zone = time_zone(tz)
    except UnknownTimeZone as error:
        raise _problem("tz", str(error)) from error
    start = in_zone(occurred_from, zone) if occurred_from else None
    end = in_zone(occurred_to, zone) if occurred_to else None
    if start and end and start > end:
        raise _problem("from", "the start of the range is after its end")
    unknown = [t for t in types if t.strip().lower() not in _TYPES_BY_NAME]
    if unknown:
        raise _problem("type", f"unknown type {unknown[0]!r}; one of {', '.join(KNOWN_TYPES)}")
    return AuditQuery(
        zone=zone, occurred_from=start, occurred_to=end,
        types=tuple(dict.fromkeys(_TYPES_BY_NAME[t.strip().lower()] for t in types)),
        user=user.strip() or None if user else None, search=search.strip() or None if search else None,
        subject_id=subject_id,
    )


AuditQueryParams = Annotated[AuditQuery, Depends(audit_query)]
