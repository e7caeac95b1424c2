"""How an event reads in the audit log: its category and a sentence a person understands."""

import string
from collections.abc import Mapping
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
    "device": "Devices",
    "license_user": "License users",
}

# Organizations' events are filed under their tier's category (payloads carry the tier).
CATEGORIES_BY_TIER = {"distributor": "Distributors", "integrator": "Integrators", "customer": "Customers"}
_TIERED_AGGREGATES = ("organization", "representative")

# event type -> message template over the payload's fields; a tuple lists alternatives, best
# first: the first whose fields the payload has is used (older events lack some fields).
MESSAGES: dict[str, str | tuple[str, ...]] = {
    # identity.*
    "identity.member.created": "{email} joined as {role}",
    "identity.session.started": ("{email} signed in", "A member signed in"),
    "identity.invite.created": "Invited {email} as {role}",
    "identity.invite.resent": "Invite to {email} resent",
    "identity.invite.deleted": "Invite to {email} deleted",
    "identity.invite.withdrawn": "Invite to {email} withdrawn: the person joined another organization",
    "identity.invite.failed": "The new organization's first Admin could not be invited: {reason}",
    "identity.member.role_changed": (
        "Role of {email} changed from {old_role} to {new_role}",
        "Role of a member changed from {old_role} to {new_role}",
    ),
    "identity.member.removed": "{email} removed from the organization",
    # orgs.*
    "orgs.organization.created": "{tier} {name} created",
    "orgs.organization.updated": ("{tier} {name} updated: {changed}", "{tier} {name} updated"),
    "orgs.organization.archived": "{name} archived",
    "orgs.organization.unarchived": "{name} unarchived",
    "orgs.representative.added": ("Representative {email} added to {org_name}", "Representative {email} added"),
    "orgs.representative.updated": (
        "Representative {email} of {org_name} updated: {changed}",
        "Representative {email} updated: {changed}",
        "Representative {email} updated",
    ),
    "orgs.representative.removed": (
        "Representative {email} removed from {org_name}",
        "Representative {email} removed",
    ),
    "orgs.representative.made_default": (
        "{email} is now the default representative of {org_name}",
        "{email} is now the default representative",
    ),
    # entitlements.* and transfers.*: the payloads carry org ids, not names; audit adds the names
    # it knows (from_org_name, to_org_name, see `describe`), so both sides read the other's name.
    "entitlements.product.created": "Product {name} ({license_type}) created",
    "entitlements.entitlement.issued": "Entitlement {entitlement_id} issued (sales order {sales_order})",
    "entitlements.entitlement.expiring_soon": "Entitlement {entitlement_id} expires in {days_left} days, on {expiration_date}",
    "entitlements.entitlement.expired": "Entitlement {entitlement_id} expired on {expiration_date}",
    "entitlements.transfer.completed": (
        "{quantity} x {product_name} of entitlement {entitlement_id} transferred from {from_org_name}"
        " to {to_org_name} ({action})",
        "{quantity} x {product_name} of entitlement {entitlement_id} transferred ({action})",
    ),
    "entitlements.transfer.rejected": (
        "Transfer from entitlement {entitlement_id} of {from_org_name} to {to_org_name} rejected: {reason}",
        "Transfer from entitlement {entitlement_id} rejected: {reason}",
    ),
    "entitlements.activation.created": "{quantity} x {product_name} activated for project {project_name}",
    "entitlements.activation.deactivated": "{quantity} x {product_name} of project {project_name} deactivated, back to available",
    "transfers.transfer.requested": (
        "Transfer from entitlement {entitlement_id} to {to_org_name} requested",
        "Transfer from entitlement {entitlement_id} requested",
    ),
    # devices.*
    "devices.license.created": "License of {max_devices} devices of {product_name} for project {project_name} created"
                               " (key ending {key_hint})",
    "devices.license.revoked": "License {license_id} revoked: its activation was deactivated",
    "devices.license.suspended": "License {license_id} suspended",
    "devices.license.reinstated": "License {license_id} reinstated",
    "devices.device.activated": (
        "Device {name} activated by {user_email} ({active_devices} of {max_devices} in use)",
        "Device {name} activated ({active_devices} of {max_devices} in use)",
        "A device was activated ({active_devices} of {max_devices} in use)",
    ),
    "devices.device.deactivated": "Device {device_id} deactivated by the licensed software",
    "devices.device.reset": "Device {device_id} reset: its slot is free",
    "devices.license_user.assigned": "License user {email} assigned (up to {activation_cap} devices)",
    "devices.license_user.changed": "License user {email} changed (up to {activation_cap} devices)",
    "devices.license_user.password_set": "New password set for license user {email}",
    "devices.license_user.removed": "License user {email} removed ({devices_reset} devices reset)",
}


@dataclass(frozen=True)
class AuditRecord:
    category: str
    message: str


class _KeepMissing(dict):
    def __missing__(self, key: str) -> str:
        return f"{{{key}}}"


def _role(value: str) -> str:
    return str(value).replace("_", " ").title()  # project_manager -> Project Manager


def _field_names(value) -> str:
    return ", ".join(str(name).replace("_", " ") for name in value)  # ["email_domain"] -> email domain


# payload field -> how a person reads its value
_DISPLAY = {
    "role": _role,
    "old_role": _role,
    "new_role": _role,
    "tier": lambda value: str(value).capitalize(),
    "changed": _field_names,
}


def _template(choice: str | tuple[str, ...], fields: dict) -> str:
    alternatives = (choice,) if isinstance(choice, str) else choice
    for template in alternatives:
        if all(name in fields for _, name, _, _ in string.Formatter().parse(template) if name):
            return template
    return alternatives[0]  # the best one, with what is missing shown as missing


# payload field holding an org id -> the field its name is shown as
ORG_NAME_FIELDS = {"from_org_id": "from_org_name", "to_org_id": "to_org_name"}


def org_ids_named(payload: dict) -> list[str]:
    """The org ids in `payload` whose names a message may show."""
    return [str(payload[field]) for field in ORG_NAME_FIELDS if payload.get(field)]


def describe(event_type: str, payload: dict, org_names: Mapping[str, str] | None = None) -> AuditRecord:
    """`org_names`: the names of the orgs the payload names by id (org id as text -> name), as far
    as they are known; a message without them falls back to one that does not name the orgs."""
    words = event_type.split(".")
    aggregate = words[1] if len(words) > 1 else event_type
    category = CATEGORIES.get(aggregate, aggregate.replace("_", " ").title())
    if aggregate in _TIERED_AGGREGATES and payload.get("tier") in CATEGORIES_BY_TIER:
        category = CATEGORIES_BY_TIER[payload["tier"]]
    choice = MESSAGES.get(event_type)
    if choice is None:
        verb = words[-1] if len(words) > 2 else "recorded"
        return AuditRecord(category, f"{aggregate.replace('_', ' ').capitalize()} {verb.replace('_', ' ')}")
    fields = {k: _DISPLAY.get(k, lambda v: v)(v) for k, v in payload.items() if v is not None and v != []}
    for id_field, name_field in ORG_NAME_FIELDS.items():
        name = (org_names or {}).get(str(payload.get(id_field)))
        if name:
            fields[name_field] = name
    template = _template(choice, fields)
    # The sentence starts with a capital, but a value (an email) is shown as it is.
    return AuditRecord(category, (template[:1].upper() + template[1:]).format_map(_KeepMissing(fields)))
