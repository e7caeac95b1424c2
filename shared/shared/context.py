"""Request- and message-scoped context: who acts, and the correlation id that ties a flow together."""

import uuid
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    org_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None


actor: ContextVar[Actor] = ContextVar("actor", default=Actor())
correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)


def current_actor() -> Actor:
    return actor.get()
