"""The gateway serves one valid OpenAPI document for the whole public API, built from the services',
and each guarded operation in it says which roles of which tier may call it, as the permission
table has it (generated from the routes: a new route is covered without a new test)."""

import contextlib

import httpx
from openapi_spec_validator import validate

from audit.main import create_app as create_audit
from billing.main import create_app as create_billing
from devices.main import create_app as create_devices
from entitlements.main import create_app as create_entitlements
from gateway.main import create_app as create_gateway
from gateway.settings import GatewaySettings
from identity.main import create_app as create_identity
from notify.main import create_app as create_notify
from orgs.main import create_app as create_orgs
from shared.auth.permissions import Action, Role, Tier, is_allowed
from shared.testing import serving
from tests.security.routes import PUBLIC, ROUTES, SIGNED_IN
from transfers.main import create_app as create_transfers

SERVICES = {"identity": create_identity, "orgs": create_orgs, "entitlements": create_entitlements,
            "transfers": create_transfers, "audit": create_audit, "notify": create_notify, "devices": create_devices,
            "billing": create_billing}


async def gateway_document(stopped: tuple[str, ...] = ()) -> dict:
    async with contextlib.AsyncExitStack() as stack:
        urls = {}
        for name, factory in SERVICES.items():
            # Only the documents are asked for: no lifespan, so no workers and no database use.
            app = factory()
            urls[f"{name}_url"] = "http://127.0.0.1:1" if name in stopped else await stack.enter_async_context(serving(app))
        gateway = create_gateway(GatewaySettings.model_validate(urls))
        base = await stack.enter_async_context(serving(gateway, lifespan="on"))
        async with httpx.AsyncClient(base_url=base) as client:
            answer = await client.get("/api/v1/openapi.json")
            assert answer.status_code == 200
            assert (await client.get("/api/v1/docs")).status_code == 200
            return answer.json()


async def test_the_combined_document_is_valid_and_covers_every_service():
    document = await gateway_document()
    validate(document)
    paths = document["paths"]
    for path in ("/api/v1/auth/login", "/api/v1/integrators", "/api/v1/transfers", "/api/v1/entitlements",
                 "/api/v1/audit-events", "/api/v1/activations", "/api/v1/notifications"):
        assert path in paths, path
    assert not [p for p in paths if p in ("/healthz", "/readyz", "/metrics")]
    assert paths["/api/v1/auth/login"]["post"]["security"] == []
    assert paths["/api/v1/transfers"]["post"]["security"] == [{"bearer": []}]
    assert paths["/api/v1/device/validate"]["post"]["security"] == []  # the license key is the credential
    assert paths["/api/v1/license-keys"]["get"]["security"] == [{"bearer": []}]


async def test_a_service_that_is_down_is_named_and_the_rest_is_served():
    document = await gateway_document(stopped=("audit",))
    validate(document)
    assert document["info"]["x-missing-services"] == ["audit"]
    assert "/api/v1/integrators" in document["paths"]
    assert "/api/v1/audit-events" not in document["paths"]


def permission_in_the_table(action: Action) -> dict:
    """Per tier, the roles is_allowed lets do the action (tiers where none may are left out)."""
    allowed = {tier.value: [role.value for role in Role if is_allowed(tier, role, action)] for tier in Tier}
    return {"action": action.value, "allowed": {tier: roles for tier, roles in allowed.items() if roles}}


async def test_every_guarded_operation_says_which_roles_of_which_tier_may_call_it():
    document = await gateway_document()
    paths = document["paths"]
    wrong = []
    for route in (r for r in ROUTES if isinstance(r.guard, Action)):
        operation = paths.get(route.path, {}).get(route.method.lower())
        if operation is None:
            wrong.append(f"{route}: not in the document")
            continue
        if operation.get("x-permission") != permission_in_the_table(route.guard):
            wrong.append(f"{route}: x-permission {operation.get('x-permission')}, the table says "
                         f"{permission_in_the_table(route.guard)}")
        if not operation.get("description", "").rsplit("\n", 1)[-1].startswith("Allowed: "):
            wrong.append(f"{route}: no 'Allowed: ...' line ending its description")
        refused = operation["responses"].get("403", {})
        if "application/problem+json" not in refused.get("content", {}):
            wrong.append(f"{route}: no 403 problem documented")
    assert not wrong, "\n".join(wrong)

    transfer = paths["/api/v1/transfers"]["post"]
    assert transfer["description"].endswith(
        "Allowed: distributor Admin, Project Manager; integrator Admin, Project Manager.")
    assert transfer["x-permission"] == {"action": "licenses:transfer", "allowed": {
        "distributor": ["admin", "project_manager"], "integrator": ["admin", "project_manager"]}}
    assert paths["/api/v1/products"]["post"]["description"].endswith("Allowed: vendor Admin.")
    retry = paths["/api/v1/notifications/{notification_id}/retry"]["post"]["description"]
    assert retry.startswith("A failed notification is queued again")  # the route's own text is kept
    assert retry.endswith("\n\nAllowed: vendor Admin; distributor Admin; integrator Admin; customer Admin.")


async def test_operations_open_to_anyone_or_any_member_name_no_permission():
    paths = (await gateway_document())["paths"]
    open_routes = [r for r in ROUTES if r.guard in (PUBLIC, SIGNED_IN) and r.service != "gateway"]
    assert ("POST", "/api/v1/auth/login") in {(r.method, r.path) for r in open_routes}
    assert ("POST", "/api/v1/invites/accept") in {(r.method, r.path) for r in open_routes}
    for route in open_routes:
        operation = paths[route.path][route.method.lower()]
        assert "x-permission" not in operation, route
        assert "Allowed:" not in operation.get("description", ""), route
    assert not [p for p in paths if p in ("/healthz", "/readyz", "/metrics")]
