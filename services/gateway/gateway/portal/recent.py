"""The short lists a detail panel shows beside the record (its activity, the licenses sent to it),
each read only when the caller's role may read it."""

from typing import Any

from gateway.portal.api_client import problem_detail
from gateway.portal.dependencies import Portal
from shared.auth.permissions import Action

RECENT = 10


async def recent(portal: Portal, action: Action, path: str, params: dict[str, Any]) -> dict | None:
    """{"items": [...], "error": None}, the API's refusal as "error", or None when not allowed."""
    if not portal.can(action):
        return None
    answer = await portal.api.get(path, params={**params, "limit": RECENT})
    if answer.status_code != 200:
        return {"items": [], "error": problem_detail(answer)}
    return {"items": answer.json()["items"], "error": None}


async def activity_of(portal: Portal, subject_id: Any) -> dict | None:
    """The audit events about an org or a member, newest first."""
    return await recent(portal, Action.VIEW_AUDIT, "/api/v1/audit-events", {"subject_id": str(subject_id)})
