from shared.auth.tokens import Caller


def idempotency_scope(caller: Caller, route: str) -> str:
    """Keys of different callers and routes never meet: the same key sent by another user, or to
    another route, is a new request."""
    return f"{caller.org_id}:{caller.user_id}:{route}"
