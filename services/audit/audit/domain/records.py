"""How an event reads in the audit log: its category and a sentence a person understands."""

from dataclasses import dataclass

# aggregate (second word of the routing key) -> the audit log's "type" column
CATEGORIES = {
    "member": "Members",
    "invite": "Members",
    "session": "Sign-in",
    "organization": "Organizations",
    "distributor": "Distributors",
    "integrator": "Integrators",
    "customer": "Customers",
    "representative": "Integrators",
    "product": "Licenses",
    "entitlement": "Licenses",
    "license": "Licenses",
    "transfer": "Transfers",
    "activation": "Activations",
    "email": "Notifications",
}

# event type -> message template over the payload's fields
MESSAGES = {
    "orgs.organization.created": "{tier} organization {name} created",
}


@dataclass(frozen=True)
class AuditRecord:
    category: str
    message: str


class _KeepMissing(dict):
    def __missing__(self, key: str) -> str:
        return f"{{{key}}}"


def describe(event_type: str, payload: dict) -> AuditRecord:
    words = event_type.split(".")
    aggregate = words[1] if len(words) > 1 else event_type
    category = CATEGORIES.get(aggregate, aggregate.replace("_", " ").title())
    template = MESSAGES.get(event_type)
    if template is None:
        verb = words[-1] if len(words) > 2 else "recorded"
        return AuditRecord(category, f"{aggregate.replace('_', ' ').capitalize()} {verb.replace('_', ' ')}")
    message = template.format_map(_KeepMissing({k: v for k, v in payload.items() if v is not None}))
    return AuditRecord(category, message[:1].upper() + message[1:])
