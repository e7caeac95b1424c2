"""What an event is about, and what of its payload the audit log keeps (pure)."""

import uuid

# Secrets some events carry for one consumer (the invite token for the email); never stored here.
SECRET_FIELDS = frozenset({"token", "password"})


def stored_payload(payload: dict) -> dict:
    return {key: value for key, value in payload.items() if key not in SECRET_FIELDS}


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
