"""The gateway serves one valid OpenAPI document for the whole public API, built from the services'."""

import contextlib

import httpx
from openapi_spec_validator import validate

from audit.main import create_app as create_audit
from entitlements.main import create_app as create_entitlements
from gateway.main import create_app as create_gateway
from gateway.settings import GatewaySettings
from identity.main import create_app as create_identity
from orgs.main import create_app as create_orgs
from shared.testing import serving
from transfers.main import create_app as create_transfers

SERVICES = {"identity": create_identity, "orgs": create_orgs, "entitlements": create_entitlements,
            "transfers": create_transfers, "audit": create_audit}


async def gateway_document(stopped: tuple[str, ...] = ()) -> dict:
    async with contextlib.AsyncExitStack() as stack:
        urls = {}
        for name, factory in SERVICES.items():
            # Only the documents are asked for: no lifespan, so no workers and no database use.
            app = factory()
            urls[f"{name}_url"] = "http://127.0.0.1:1" if name in stopped else await stack.enter_async_context(serving(app))
        gateway = create_gateway(GatewaySettings.model_validate({**urls, "notify_url": "http://127.0.0.1:1"}))
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
                 "/api/v1/audit-events", "/api/v1/activations"):
        assert path in paths, path
    assert not [p for p in paths if p in ("/healthz", "/readyz", "/metrics")]
    assert paths["/api/v1/auth/login"]["post"]["security"] == []
    assert paths["/api/v1/transfers"]["post"]["security"] == [{"bearer": []}]


async def test_a_service_that_is_down_is_named_and_the_rest_is_served():
    document = await gateway_document(stopped=("audit",))
    validate(document)
    assert document["info"]["x-missing-services"] == ["audit"]
    assert "/api/v1/integrators" in document["paths"]
    assert "/api/v1/audit-events" not in document["paths"]
