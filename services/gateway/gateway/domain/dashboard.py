"""What each tier's dashboard shows and where each part comes from (pure: no I/O).

distributor and integrator: available and transferred licenses, their partners (integrators, or
an integrator's end customers), members, the last 20 transactions and audit events;
end customer: available (received), activated, unactivated, members (not for Viewers), recent
activations and audit events; vendor: distributors, members and the recent audit events."""

from dataclasses import dataclass, field

from shared.auth.permissions import Action, Role, Tier, is_allowed

RECENT = 20


@dataclass(frozen=True)
class Part:
    name: str
    service: str
    path: str
    params: dict = field(default_factory=dict)
    action: Action | None = None  # the permission the caller needs, else the part is not asked for
    every_page: bool = False  # the totals need every item: follow next_cursor to the end


_PARTS = {
    "licenses": Part("licenses", "entitlements", "/api/v1/licenses/products", {"limit": 200}, Action.VIEW_LICENSES,
                     every_page=True),
    "integrators": Part("integrators", "orgs", "/api/v1/integrators", {"limit": 1, "include_total": "true"},
                        Action.VIEW_PARTNERS),
    "customers": Part("customers", "orgs", "/api/v1/customers", {"limit": 1, "include_total": "true"},
                      Action.VIEW_PARTNERS),
    "distributors": Part("distributors", "orgs", "/api/v1/distributors", {"limit": 1, "include_total": "true"},
                         Action.CREATE_DISTRIBUTORS),
    "members": Part("members", "identity", "/api/v1/members", {"limit": 1, "include_total": "true"},
                    Action.VIEW_MEMBERS),
    "transactions": Part("transactions", "transfers", "/api/v1/transactions", {"limit": RECENT},
                         Action.VIEW_TRANSACTIONS),
    "activations": Part("activations", "entitlements", "/api/v1/activations", {"limit": RECENT},
                        Action.VIEW_ACTIVATIONS),
    "audit": Part("audit", "audit", "/api/v1/audit-events", {"limit": RECENT}, Action.VIEW_AUDIT),
}

_PARTS_BY_TIER = {
    Tier.VENDOR: ("distributors", "members", "audit"),
    Tier.DISTRIBUTOR: ("licenses", "integrators", "members", "transactions", "audit"),
    Tier.INTEGRATOR: ("licenses", "customers", "members", "transactions", "audit"),
    Tier.CUSTOMER: ("licenses", "members", "activations", "audit"),
}


def parts_for(tier: Tier, role: Role) -> list[Part]:
    return [_PARTS[name] for name in _PARTS_BY_TIER[tier] if is_allowed(tier, role, _PARTS[name].action)]


def summarize(tier: Tier, bodies: dict[str, dict]) -> dict:
    """The dashboard's figures from the parts that answered; a part that did not is absent (None)."""
    result: dict = {}
    if "licenses" in bodies:
        items = bodies["licenses"].get("items", [])
        available = sum(i.get("available", 0) for i in items)
        transferred = sum(i.get("transferred", 0) for i in items)
        activated = sum(i.get("activated", 0) for i in items)
        if tier == Tier.CUSTOMER:
            received = available + activated
            result["licenses"] = {"available": received, "activated": activated, "unactivated": received - activated}
        else:
            result["licenses"] = {"available": available, "transferred": transferred}
    for name in ("integrators", "customers", "distributors", "members"):
        if name in bodies:
            result[f"total_{name}"] = _total(bodies[name])
    if "transactions" in bodies:
        result["recent_transactions"] = bodies["transactions"].get("items", [])[:RECENT]
    if "activations" in bodies:
        result["recent_activations"] = bodies["activations"].get("items", [])[:RECENT]
    if "audit" in bodies:
        result["recent_audit_events"] = bodies["audit"].get("items", [])[:RECENT]
    return result


def _total(page: dict) -> int | None:
    total = page.get("total")
    return total if isinstance(total, int) else None
