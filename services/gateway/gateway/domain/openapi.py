"""One OpenAPI document for the public API, merged from the services' own documents.

Only the paths a service owns under /api/v1 (by the routing table) are taken, so health and
internal routes stay out. Schemas with the same name and different content in two services are
renamed `<service>__<name>` in the second one's paths, so no $ref points at the wrong shape.
Every operation documents its errors as they are answered: RFC 9457 problem details
(application/problem+json), invalid input (422) included.
"""

import json
from collections.abc import Mapping

from gateway.domain.routing import API_PREFIX, JWKS_PATH, is_public, upstream_for

_OPERATIONS = {"get", "put", "post", "delete", "patch", "head", "options"}

PROBLEM_SCHEMA = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details; some answers add members (e.g. `errors` for invalid input).",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
    },
    "required": ["title", "status", "detail"],
}


def _problem(description: str) -> dict:
    return {"description": description,
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def merge_documents(documents: Mapping[str, dict], missing: list[str], version: str = "1") -> dict:
    paths: dict[str, dict] = {}
    schemas: dict[str, dict] = {}
    for service, document in sorted(documents.items()):
        document = _rename_clashing_schemas(service, document, schemas)
        for path, item in document.get("paths", {}).items():
            if path != JWKS_PATH and not path.startswith(f"{API_PREFIX}/"):
                continue
            if upstream_for(path) != service:
                continue
            paths[path] = {
                method: _with_errors(_with_security(method, path, operation)) if method in _OPERATIONS else operation
                for method, operation in item.items()
            }
        schemas.update(document.get("components", {}).get("schemas", {}))
    merged = {
        "openapi": "3.1.0",
        "info": {
            "title": "Licensing platform API",
            "version": version,
            "description": "The public API of the licensing platform, served by the gateway. Sign in at "
            "POST /api/v1/auth/login and send the access token as `Authorization: Bearer <token>`.",
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted({**schemas, "Problem": PROBLEM_SCHEMA}.items())),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }
    if missing:
        merged["info"]["x-missing-services"] = sorted(missing)
        merged["info"]["description"] += f" Not included (service unreachable): {', '.join(sorted(missing))}."
    return merged


def _with_security(method: str, path: str, operation: dict) -> dict:
    if is_public(method, path):
        return {**operation, "security": []}
    return {**operation, "security": [{"bearer": []}]}


def _with_errors(operation: dict) -> dict:
    responses = dict(operation.get("responses", {}))
    if "422" in responses:  # FastAPI documents its own validation error shape; ours is a problem
        responses["422"] = _problem("Invalid input: the detail names each field and why")
    if "403" in responses:  # documented by the service for a guarded operation (x-permission says who may)
        responses["403"] = _problem(responses["403"].get("description", "Not allowed"))
    responses["default"] = _problem("An error (not signed in, not allowed, not found, conflict...)")
    return {**operation, "responses": responses}


def _rename_clashing_schemas(service: str, document: dict, known: dict[str, dict]) -> dict:
    own = document.get("components", {}).get("schemas", {})
    clashes = [name for name, schema in own.items() if name in known and known[name] != schema]
    if not clashes:
        return document
    text = json.dumps(document)
    for name in clashes:
        text = text.replace(f'"#/components/schemas/{name}"', f'"#/components/schemas/{service}__{name}"')
    renamed = json.loads(text)
    schemas = renamed["components"]["schemas"]
    for name in clashes:
        schemas[f"{service}__{name}"] = schemas.pop(name)
    return renamed
