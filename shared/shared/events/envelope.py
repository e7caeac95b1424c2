"""The one envelope every event travels in (versioned), and the base of all payloads."""

import uuid
from datetime import UTC, datetime
from typing import ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field

ENVELOPE_VERSION = 1


class EventPayload(BaseModel):
    """Base of every event contract: frozen, unknown fields ignored so producers can add fields."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    routing_key: ClassVar[str]
    version: ClassVar[int] = 1
    # Fields only the intended consumer may keep (e.g. an invite's plain token, for its email):
    # stores such as the audit log drop them (see shared.events.catalog.without_secrets).
    secret_fields: ClassVar[frozenset[str]] = frozenset()


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    envelope_version: int = ENVELOPE_VERSION
    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str
    version: int = 1
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    producer: str
    actor_org_id: uuid.UUID | None = None
    actor_user_id: uuid.UUID | None = None
    visible_to: list[uuid.UUID] = Field(default_factory=list)
    correlation_id: str | None = None
    trace_context: dict[str, str] = Field(default_factory=dict)
    payload: dict
    # The broker user that published it, as the broker validated it: set by the consumer from the
    # message (shared.bus.consumer), never read from or written into the body.
    published_by: str | None = Field(default=None, exclude=True)

    @classmethod
    def wrap(
        cls,
        event: EventPayload,
        *,
        producer: str,
        actor_org_id: uuid.UUID | None = None,
        actor_user_id: uuid.UUID | None = None,
        visible_to: list[uuid.UUID] | None = None,
        correlation_id: str | None = None,
        trace_context: dict[str, str] | None = None,
    ) -> "Envelope":
        return cls(
            type=event.routing_key,
            version=event.version,
            producer=producer,
            actor_org_id=actor_org_id,
            actor_user_id=actor_user_id,
            visible_to=visible_to or [],
            correlation_id=correlation_id,
            trace_context=trace_context or {},
            payload=event.model_dump(mode="json"),
        )

    def payload_as(self, contract: type["P"]) -> "P":
        return contract.model_validate(self.payload)


P = TypeVar("P", bound=EventPayload)
