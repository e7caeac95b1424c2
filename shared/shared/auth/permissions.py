"""The one permission table: which role of which tier may do what. Documented in the README.

Product documents: Admin has full access; Project Manager creates projects and transfers with
limited management rights and full audit visibility; Technician and Support view license details
with limited rights on projects and licenses; Auditor views projects, licenses, users and audit
logs; Viewer views projects, licenses and transactions. End customers have Admin and Viewer.
"""

from enum import StrEnum


class Tier(StrEnum):
    VENDOR = "vendor"
    DISTRIBUTOR = "distributor"
    INTEGRATOR = "integrator"
    CUSTOMER = "customer"


class Role(StrEnum):
    ADMIN = "admin"
    PROJECT_MANAGER = "project_manager"
    TECHNICIAN = "technician"
    SUPPORT = "support"
    AUDITOR = "auditor"
    VIEWER = "viewer"


ROLES_BY_TIER: dict[Tier, frozenset[Role]] = {
    Tier.VENDOR: frozenset(Role),
    Tier.DISTRIBUTOR: frozenset(Role),
    Tier.INTEGRATOR: frozenset(Role),
    Tier.CUSTOMER: frozenset({Role.ADMIN, Role.VIEWER}),
}


class Action(StrEnum):
    VIEW_DASHBOARD = "dashboard:view"
    VIEW_LICENSES = "licenses:view"
    MANAGE_PRODUCTS = "products:manage"
    ISSUE_ENTITLEMENTS = "entitlements:issue"
    TRANSFER_LICENSES = "licenses:transfer"
    ACTIVATE_LICENSES = "licenses:activate"
    VIEW_ACTIVATIONS = "activations:view"
    EXPORT_ACTIVATIONS = "activations:export"
    VIEW_TRANSACTIONS = "transactions:view"
    EXPORT_TRANSACTIONS = "transactions:export"
    VIEW_AUDIT = "audit:view"
    EXPORT_AUDIT = "audit:export"
    VIEW_PARTNERS = "partners:view"
    MANAGE_PARTNERS = "partners:manage"
    CREATE_DISTRIBUTORS = "distributors:create"
    VIEW_MEMBERS = "members:view"
    MANAGE_MEMBERS = "members:manage"
    MANAGE_NOTIFICATIONS = "notifications:manage"
    VIEW_LICENSE_KEYS = "license_keys:view"
    MANAGE_LICENSE_KEYS = "license_keys:manage"
    VIEW_DEVICES = "devices:view"
    RESET_DEVICES = "devices:reset"
    VIEW_LICENSE_USERS = "license_users:view"
    MANAGE_LICENSE_USERS = "license_users:manage"
    VIEW_PLANS = "plans:view"
    MANAGE_PLANS = "plans:manage"
    VIEW_SUBSCRIPTIONS = "subscriptions:view"
    MANAGE_SUBSCRIPTIONS = "subscriptions:manage"
    REDEEM_CLAIMS = "claims:redeem"
    VIEW_INVOICES = "invoices:view"
    MANAGE_INVOICES = "invoices:manage"


_EVERY_ROLE = frozenset(Role)
_VIEW_LICENSES = _EVERY_ROLE
_AUDIT_READERS = frozenset({Role.ADMIN, Role.PROJECT_MANAGER, Role.AUDITOR})
_RESELLERS = frozenset({Tier.DISTRIBUTOR, Tier.INTEGRATOR})
_ACCOUNT_MANAGERS = frozenset({Role.ADMIN, Role.PROJECT_MANAGER})

# (action) -> roles allowed, and the tiers where the action exists at all.
PERMISSIONS: dict[Action, tuple[frozenset[Tier], frozenset[Role]]] = {
    Action.VIEW_DASHBOARD: (frozenset(Tier), _EVERY_ROLE),
    Action.VIEW_LICENSES: (frozenset(Tier), _VIEW_LICENSES),
    Action.MANAGE_PRODUCTS: (frozenset({Tier.VENDOR}), frozenset({Role.ADMIN})),
    Action.ISSUE_ENTITLEMENTS: (frozenset({Tier.VENDOR}), frozenset({Role.ADMIN})),
    Action.TRANSFER_LICENSES: (
        frozenset({Tier.DISTRIBUTOR, Tier.INTEGRATOR}),
        frozenset({Role.ADMIN, Role.PROJECT_MANAGER}),
    ),
    Action.ACTIVATE_LICENSES: (frozenset({Tier.CUSTOMER}), frozenset({Role.ADMIN})),
    Action.VIEW_ACTIVATIONS: (frozenset({Tier.CUSTOMER}), _EVERY_ROLE),
    Action.EXPORT_ACTIVATIONS: (frozenset({Tier.CUSTOMER}), frozenset({Role.ADMIN})),
    Action.VIEW_TRANSACTIONS: (
        frozenset(Tier),
        frozenset({Role.ADMIN, Role.PROJECT_MANAGER, Role.AUDITOR, Role.VIEWER, Role.TECHNICIAN, Role.SUPPORT}),
    ),
    Action.EXPORT_TRANSACTIONS: (frozenset(Tier), frozenset({Role.ADMIN})),
    Action.VIEW_AUDIT: (frozenset(Tier), _AUDIT_READERS),
    Action.EXPORT_AUDIT: (frozenset(Tier), frozenset({Role.ADMIN})),
    Action.VIEW_PARTNERS: (frozenset({Tier.VENDOR, Tier.DISTRIBUTOR, Tier.INTEGRATOR}), _EVERY_ROLE),
    Action.MANAGE_PARTNERS: (
        frozenset({Tier.VENDOR, Tier.DISTRIBUTOR, Tier.INTEGRATOR}),
        frozenset({Role.ADMIN, Role.PROJECT_MANAGER}),
    ),
    Action.CREATE_DISTRIBUTORS: (frozenset({Tier.VENDOR}), frozenset({Role.ADMIN})),
    Action.VIEW_MEMBERS: (frozenset(Tier), frozenset({Role.ADMIN, Role.PROJECT_MANAGER, Role.AUDITOR})),
    Action.MANAGE_MEMBERS: (frozenset(Tier), frozenset({Role.ADMIN})),
    # Delivery records name people and their addresses: the same people as the members' rights.
    Action.MANAGE_NOTIFICATIONS: (frozenset(Tier), frozenset({Role.ADMIN})),
    # Licenses of the licensed software (document 4): the end customer's Admin manages them and
    # sees the keys, its Viewer reads; the integrator and the distributor above it see, read-only,
    # how many devices their customers' licenses use.
    Action.VIEW_LICENSE_KEYS: (frozenset({Tier.DISTRIBUTOR, Tier.INTEGRATOR, Tier.CUSTOMER}), _EVERY_ROLE),
    Action.MANAGE_LICENSE_KEYS: (frozenset({Tier.CUSTOMER}), frozenset({Role.ADMIN})),
    Action.VIEW_DEVICES: (frozenset({Tier.CUSTOMER}), _EVERY_ROLE),
    Action.RESET_DEVICES: (frozenset({Tier.CUSTOMER}), frozenset({Role.ADMIN})),
    Action.VIEW_LICENSE_USERS: (frozenset({Tier.CUSTOMER}), _EVERY_ROLE),
    Action.MANAGE_LICENSE_USERS: (frozenset({Tier.CUSTOMER}), frozenset({Role.ADMIN})),
    # The licence console (document 5): the account manager (Admin or Project Manager of a
    # reseller) keeps plans, licences and invoices; the customer's Admin redeems claim codes.
    Action.VIEW_PLANS: (_RESELLERS, _EVERY_ROLE),
    Action.MANAGE_PLANS: (_RESELLERS, _ACCOUNT_MANAGERS),
    Action.VIEW_SUBSCRIPTIONS: (frozenset({Tier.DISTRIBUTOR, Tier.INTEGRATOR, Tier.CUSTOMER}), _EVERY_ROLE),
    Action.MANAGE_SUBSCRIPTIONS: (_RESELLERS, _ACCOUNT_MANAGERS),
    Action.REDEEM_CLAIMS: (frozenset({Tier.CUSTOMER}), frozenset({Role.ADMIN})),
    Action.VIEW_INVOICES: (frozenset({Tier.DISTRIBUTOR, Tier.INTEGRATOR, Tier.CUSTOMER}),
                           frozenset({Role.ADMIN, Role.PROJECT_MANAGER, Role.AUDITOR, Role.VIEWER})),
    Action.MANAGE_INVOICES: (_RESELLERS, _ACCOUNT_MANAGERS),
}


# Roles one tier adds to an action's roles above: the end customer's Viewer reads its audit log
# (document 2 shows every customer member the recent audits; document 1 keeps a distributor's
# Viewer out of it).
TIER_GRANTS: dict[tuple[Action, Tier], frozenset[Role]] = {
    (Action.VIEW_AUDIT, Tier.CUSTOMER): frozenset({Role.VIEWER}),
}


def is_allowed(tier: Tier, role: Role, action: Action) -> bool:
    tiers, roles = PERMISSIONS[action]
    granted = role in roles or role in TIER_GRANTS.get((action, tier), frozenset())
    return tier in tiers and granted and role in ROLES_BY_TIER[tier]
