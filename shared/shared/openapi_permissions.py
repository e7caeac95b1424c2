"""Each guarded operation of a service's OpenAPI document says who may call it, generated from the
permission table: an `x-permission` object (the action and, per tier, the roles allowed), one
"Allowed: ..." line at the end of its description, and a documented 403. The guard is read from
the route's dependencies (`require(Action.X)`), so no route describes its permission by hand.
The gateway's combined document keeps all three."""

from collections.abc import Sequence

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import BaseRoute

from shared.auth.dependencies import required_actions
from shared.auth.permissions import Action, Role, Tier, is_allowed

FORBIDDEN_DESCRIPTION = "Not allowed: the caller's role in its tier may not do this (see x-permission)"


def document_permissions(app: FastAPI) -> None:
    """Wraps app.openapi (as FastAPI's docs on extending OpenAPI show): the document is built once,
    on first request, when every router has been included."""
    generate = app.openapi

    def openapi() -> dict:
        if not app.openapi_schema:
            app.openapi_schema = with_permissions(generate(), app.routes)
        return app.openapi_schema

    app.openapi = openapi


def with_permissions(document: dict, routes: Sequence[BaseRoute]) -> dict:
    paths = document.get("paths", {})
    for context in iter_route_contexts(routes):
        if not isinstance(context.original_route, APIRoute) or not context.include_in_schema:
            continue
        actions = required_actions(context.dependant)
        if len(actions) != 1:
            continue  # unguarded, or several actions (the security suite refuses those)
        action = actions.pop()
        for method in context.methods:
            operation = paths.get(context.path_format, {}).get(method.lower())
            if operation is not None:
                _describe_permission(operation, action)
    return document


def allowed_roles(action: Action) -> dict[str, list[str]]:
    """Tier -> roles allowed, in the enums' order; a tier where no role may do it is left out."""
    allowed = {tier.value: [role.value for role in Role if is_allowed(tier, role, action)] for tier in Tier}
    return {tier: roles for tier, roles in allowed.items() if roles}


def permission_line(action: Action) -> str:
    """E.g. "Allowed: distributor Admin, Project Manager; integrator Admin, Project Manager."."""
    allowed = allowed_roles(action)
    if not allowed:
        return "Allowed: no role of any tier."
    by_tier = [f"{tier} {', '.join(_role_title(role) for role in roles)}" for tier, roles in allowed.items()]
    return f"Allowed: {'; '.join(by_tier)}."


def _describe_permission(operation: dict, action: Action) -> None:
    operation["x-permission"] = {"action": action.value, "allowed": allowed_roles(action)}
    description = operation.get("description", "").rstrip()
    line = permission_line(action)
    operation["description"] = f"{description}\n\n{line}" if description else line
    operation.setdefault("responses", {}).setdefault("403", {"description": FORBIDDEN_DESCRIPTION})


def _role_title(role: str) -> str:
    return role.replace("_", " ").title()
