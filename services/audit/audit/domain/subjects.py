"""What an event is about, and what of its payload the audit log keeps (pure)."""

import uuid

from shared.events.catalog import without_secrets


def stored_payload(event_type: str, payload: dict) -> dict:
    """The payload minus what its contract marks secret (an invite's token, sealed for the one
    consumer that opens it): never stored here. The contracts are the one list of secret fields."""
    return without_secrets(event_type, payload)


def subject_ids(payload: dict, *actors: uuid.UUID | None) -> list[uuid.UUID]:
    """Every id the event names (org_id, member_id, to_org_id, holder_org_ids...) plus its actors:
    the records whose activity panel shows this event."""
    found: dict[uuid.UUID, None] = {}
    for key, value in payload.items():
        if key.endswith("_id") or key.endswith("_by"):
            _add(found, value)
        elif key.endswith("_ids") and isinstance(value, list):
            for item in value:
                _add(found, item)
    for actor in actors:
        _add(found, actor)
    return list(found)


def _add(found: dict[uuid.UUID, None], value: object) -> None:
    if isinstance(value, uuid.UUID):
        found[value] = None
    elif isinstance(value, str):
        try:
            found[uuid.UUID(value)] = None
        except ValueError:
            pass  # a human-readable id (entitlement_id) is not a record id
