"""Every route of the public API, read from the apps themselves (so a new route is covered without
writing a test), with what guards it: the permission table's action (`require(Action.X)`), a
signed-in caller of any role, or nothing (the short explicit list of public routes)."""

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from fastapi.routing import APIRoute, iter_route_contexts

from audit.main import create_app as create_audit
from devices.main import create_app as create_devices
from billing.main import create_app as create_billing
from entitlements.main import create_app as create_entitlements
from gateway.domain.routing import API_PREFIX, upstream_for
from gateway.main import create_app as create_gateway
from identity.main import create_app as create_identity
from notify.main import create_app as create_notify
from orgs.main import create_app as create_orgs
from shared.auth.dependencies import current_caller, dependency_calls, required_actions
from shared.auth.permissions import Action
from transfers.main import create_app as create_transfers

SERVICES = {"identity": create_identity, "orgs": create_orgs, "entitlements": create_entitlements,
            "transfers": create_transfers, "audit": create_audit, "notify": create_notify, "devices": create_devices,
            "billing": create_billing}

SIGNED_IN = "signed-in"  # any role of any tier, with a valid access token
PUBLIC = "public"
UNGUARDED = "unguarded"  # checks no token and is not listed public: a test fails on it

# The routes anyone may call without a token: how to get one, the keys that verify one, the docs.
PUBLIC_ROUTES = frozenset({
    ("POST", f"{API_PREFIX}/auth/login"),
    ("POST", f"{API_PREFIX}/auth/refresh"),
    ("POST", f"{API_PREFIX}/invites/accept"),
    ("GET", f"{API_PREFIX}/invites/accept"),
    ("POST", f"{API_PREFIX}/auth/logout"),
    ("GET", "/.well-known/jwks.json"),
    ("GET", f"{API_PREFIX}/openapi.json"),
    ("GET", f"{API_PREFIX}/docs"),
    # The licensed software's API: authenticated by the license key (devices checks it).
    ("POST", f"{API_PREFIX}/device/activate"),
    ("POST", f"{API_PREFIX}/device/validate"),
    ("POST", f"{API_PREFIX}/device/deactivate"),
    ("POST", f"{API_PREFIX}/device/checkout"),
    ("GET", f"{API_PREFIX}/device/signing-keys"),
})
# The routes any signed-in member may call, whatever the role: their own profile and sessions, and
# the dashboard (which asks each service with the caller's token). Every other route needs an action
# of the permission table, so a route that loses its `require(...)` fails the suite.
SIGNED_IN_ROUTES = frozenset({
    ("GET", f"{API_PREFIX}/me"),
    ("POST", f"{API_PREFIX}/auth/logout-all"),
    ("GET", f"{API_PREFIX}/dashboard"),
})

# A body that passes validation, for the routes with an id whose body has required fields (or
# whose empty body is refused): without it a 422 would answer before the id is ever looked up.
VALID_BODIES: dict[tuple[str, str], dict] = {
    ("PATCH", f"{API_PREFIX}/members/{{member_id}}"): {"role": "viewer"},
    ("POST", f"{API_PREFIX}/integrators/{{org_id}}/representatives"): {"email": "intruder@example.com"},
    ("POST", f"{API_PREFIX}/customers/{{org_id}}/representatives"): {"email": "intruder@example.com"},
    ("PATCH", f"{API_PREFIX}/integrators/{{org_id}}"): {"note": "changed by someone else"},
    ("PATCH", f"{API_PREFIX}/customers/{{org_id}}"): {"note": "changed by someone else"},
    ("PATCH", f"{API_PREFIX}/integrators/{{org_id}}/representatives/{{rep_id}}"): {"note": "changed"},
    ("PATCH", f"{API_PREFIX}/customers/{{org_id}}/representatives/{{rep_id}}"): {"note": "changed"},
    ("PATCH", f"{API_PREFIX}/license-users/{{license_user_id}}"): {"name": "changed by someone else"},
    ("PUT", f"{API_PREFIX}/plans/{{plan_id}}"): {"name": "Taken over", "interval": "monthly", "unit_price": "1",
                                               "currency": "EUR"},
}


@dataclass(frozen=True)
class Route:
    service: str  # the app that serves it (the gateway for its own routes)
    method: str
    path: str  # as declared, with {placeholders}
    guard: Action | str  # an Action, SIGNED_IN, PUBLIC or UNGUARDED
    path_params: Mapping[str, type]
    body_required: bool

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def resource(self) -> str:
        """The first segment after /api/v1 (members, integrators, ...): what the ids belong to."""
        return self.path.removeprefix(f"{API_PREFIX}/").split("/")[0]

    def url(self, ids: Mapping[tuple[str, str], str]) -> str:
        """The path with each {param} replaced by ids[(resource, param)]."""
        missing = [p for p in self.path_params if (self.resource, p) not in ids]
        assert not missing, f"{self}: no id known for {missing}; give the trees one in tests/security/cast.py"
        return self.path.format(**{p: ids[(self.resource, p)] for p in self.path_params})

    def absent_ids(self) -> dict[tuple[str, str], str]:
        """Ids of the right type that name nothing."""
        return {(self.resource, p): str(uuid.uuid4()) if kind is uuid.UUID else "ENT-1999-999999"
                for p, kind in self.path_params.items()}

    def body(self) -> dict | None:
        if self.method not in ("POST", "PUT", "PATCH"):
            return None
        return VALID_BODIES.get((self.method, self.path), {})


def public_api_routes() -> list[Route]:
    """Every (method, route) the gateway serves or forwards under /api/v1, and the JWKS."""
    found: list[Route] = []
    for service, factory in SERVICES.items():
        found += _routes(service, factory(), lambda path, owner=service: upstream_for(path) == owner)
    found += _routes("gateway", create_gateway(),
                     lambda path: path.startswith(f"{API_PREFIX}/") and "{rest:path}" not in path)
    return sorted(found, key=lambda r: (r.path, r.method))


def _routes(service: str, app, reachable) -> Iterator[Route]:
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not reachable(context.path):
            continue
        for method in sorted(context.methods - {"HEAD"}):
            yield Route(service, method, context.path, _guard(method, context.path, context.dependant),
                        {p.name: p.field_info.annotation for p in route.dependant.path_params},
                        any(p.field_info.is_required() for p in route.dependant.body_params))


def _guard(method: str, path: str, dependant) -> Action | str:
    """From the route's dependencies as served (its routers' included), read as its OpenAPI entry is."""
    actions = required_actions(dependant)
    if len(actions) == 1:
        return actions.pop()
    if actions:
        return UNGUARDED  # several actions: the table cannot say who may call it
    if current_caller in dependency_calls(dependant):
        return SIGNED_IN
    return PUBLIC if (method, path) in PUBLIC_ROUTES else UNGUARDED


ROUTES = public_api_routes()
GUARDED = [r for r in ROUTES if r.guard not in (PUBLIC, UNGUARDED)]
WITH_IDS = [r for r in ROUTES if r.path_params]
