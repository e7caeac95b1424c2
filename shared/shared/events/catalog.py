"""Every event contract by routing key: for consumers that handle events generically (audit
stores them all) and need to know a contract's properties, such as its secret fields."""

from shared.events import billing, devices, entitlements, identity, orgs, transfers
from shared.events.envelope import EventPayload


def _contracts() -> dict[str, type[EventPayload]]:
    found: dict[str, type[EventPayload]] = {}
    for module in (billing, devices, entitlements, identity, orgs, transfers):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, EventPayload) and "routing_key" in vars(value):
                found[value.routing_key] = value
    return found


CONTRACTS = _contracts()


def without_secrets(event_type: str, payload: dict) -> dict:
    """The payload minus the fields its contract marks secret (unknown event types: unchanged)."""
    contract = CONTRACTS.get(event_type)
    if contract is None or not contract.secret_fields:
        return payload
    return {k: v for k, v in payload.items() if k not in contract.secret_fields}


def markdown_table() -> str:
    """The catalogue as docs/architecture.md shows it (`python -m shared.events.catalog` prints it;
    a test keeps the document in step with the contracts)."""
    lines = ["| routing key | contract | payload fields |", "| --- | --- | --- |"]
    for key, contract in sorted(CONTRACTS.items()):
        fields = ", ".join(
            f"`{name}`" + (" (secret)" if name in contract.secret_fields else "")
            for name in contract.model_fields
        )
        lines.append(f"| `{key}` | `{contract.__module__}.{contract.__name__}` | {fields} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
