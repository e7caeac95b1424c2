"""The portal's menu: each entry shows only where the caller's tier has the page and the role may
open it (the same permission table the services enforce)."""

from dataclasses import dataclass

from shared.auth.permissions import Action, Tier, is_allowed
from shared.auth.tokens import Caller


@dataclass(frozen=True)
class NavItem:
    label: str
    href: str
    action: Action
    tiers: frozenset[Tier] = frozenset(Tier)


NAV = (
    NavItem("Dashboard", "/dashboard", Action.VIEW_DASHBOARD),
    NavItem("Licensing", "/licenses", Action.VIEW_LICENSES),
    NavItem("Distributors", "/distributors", Action.CREATE_DISTRIBUTORS, frozenset({Tier.VENDOR})),
    NavItem("Products", "/products", Action.MANAGE_PRODUCTS, frozenset({Tier.VENDOR})),
    NavItem("Integrators", "/integrators", Action.VIEW_PARTNERS, frozenset({Tier.DISTRIBUTOR})),
    NavItem("Customers", "/customers", Action.VIEW_PARTNERS, frozenset({Tier.INTEGRATOR})),
    NavItem("Activations", "/activations", Action.VIEW_ACTIVATIONS, frozenset({Tier.CUSTOMER})),
    NavItem("License keys", "/license-keys", Action.VIEW_LICENSE_KEYS),
    NavItem("Devices", "/devices", Action.VIEW_DEVICES, frozenset({Tier.CUSTOMER})),
    NavItem("Transactions", "/transactions", Action.VIEW_TRANSACTIONS),
    NavItem("Audit & events", "/audit", Action.VIEW_AUDIT),
    NavItem("Members", "/members", Action.VIEW_MEMBERS),
    NavItem("Licence console", "/licences", Action.VIEW_SUBSCRIPTIONS),
    NavItem("Plans", "/plans", Action.VIEW_PLANS),
    NavItem("Invoices", "/invoices", Action.VIEW_INVOICES),
)


def menu_for(caller: Caller) -> list[NavItem]:
    return [item for item in NAV if caller.tier in item.tiers and is_allowed(caller.tier, caller.role, item.action)]


def partner_word(caller: Caller) -> str:
    """What the caller's child organizations are called: a distributor's are integrators,
    an integrator's are customers."""
    return "customer" if caller.tier == Tier.INTEGRATOR else "integrator"
