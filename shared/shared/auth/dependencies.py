"""FastAPI dependencies: the verified caller (org, tier, role) and permission checks, and which
action of the permission table guards a route (read from its dependencies)."""

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant

from shared.auth.member_tokens import token_is_void
from shared.auth.permissions import Action, is_allowed
from shared.auth.tokens import Caller, InvalidToken, JwksVerifier, SigningKeysUnavailable
from shared.problems import Problem


async def current_caller(request: Request) -> Caller:
    verifier: JwksVerifier = request.app.state.token_verifier
    authorization = request.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Problem(401, "Sign in first: send 'Authorization: Bearer <access token>'.",
                      headers={"WWW-Authenticate": "Bearer"})
    try:
        caller = await verifier.verify(token)
    except SigningKeysUnavailable as error:
        raise Problem(503, "Sign-in cannot be checked right now: the identity service is unreachable.",
                      headers={"Retry-After": "5"}) from error
    except InvalidToken as error:
        raise Problem(401, f"The access token is not valid ({error}). Sign in again.",
                      headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from error
    return await still_current(request, caller)


async def still_current(request: Request, caller: Caller) -> Caller:
    """The caller as it stands now. A service may set `app.state.current_member` (identity reads
    the member's own row); one with a database asks its read model of voided tokens; one without
    (the gateway) forwards to the services, which ask theirs."""
    current_member = getattr(request.app.state, "current_member", None)
    if current_member is not None:
        return await current_member(request, caller)
    session_factory = getattr(request.app.state, "session_factory", None)
    if session_factory is not None and await token_is_void(session_factory, caller.user_id, caller.token_version):
        raise Problem(401, "Your role or membership has changed since you signed in. Sign in again.",
                      headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    return caller


CurrentCaller = Annotated[Caller, Depends(current_caller)]


def allowed(caller: Caller, action: Action) -> Caller:
    """The caller, when the permission table lets its role do `action`; else a 403."""
    if not is_allowed(caller.tier, caller.role, action):
        raise Problem(403, f"Your role ({caller.role.value}) may not do this ({action.value}).")
    return caller


def require(action: Action):
    """A dependency that lets the route run only for roles the permission table allows."""

    async def check(caller: CurrentCaller) -> Caller:
        return allowed(caller, action)

    check.required_action = action  # read by required_actions: the route's docs and the security suite
    return Depends(check)


def required_actions(dependant: Dependant) -> set[Action]:
    """The actions of every `require(...)` in a route's dependency tree (one for a guarded route)."""
    return {call.required_action for call in dependency_calls(dependant) if hasattr(call, "required_action")}


def dependency_calls(dependant: Dependant) -> Iterator[Callable]:
    """Every dependency a route runs, its dependencies' own included."""
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from dependency_calls(dependency)
