"""A scalar query parameter given twice is refused (422) by every service, rather than read as its
last value (`?limit=5&limit=500`, `?status=pending&status=completed`): generated from the routes
themselves, so a new parameter is covered without writing a test. List parameters still repeat."""

import uuid

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from shared.query_params import takes_repeated_values
from tests.security.routes import SERVICES

APPS = {service: factory() for service, factory in SERVICES.items()}


def _scalar_query_parameters() -> list[tuple[str, str, APIRoute, str]]:
    found = []
    for service, app in APPS.items():
        for context in iter_route_contexts(app.routes):
            route = context.original_route
            if not isinstance(route, APIRoute):
                continue
            for field in route.dependant.query_params:
                if not takes_repeated_values(field.field_info.annotation):
                    found.append((service, context.path, route, field.alias))
    return found


SCALARS = _scalar_query_parameters()


def _url(path: str, route: APIRoute) -> str:
    return path.format(**{p.name: uuid.uuid4() for p in route.dependant.path_params})


async def _get(service: str, url: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=APPS[service])
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        return await client.request("GET", url)


def test_the_services_have_scalar_query_parameters_to_check():
    assert len(SCALARS) > 20  # limit, cursor, sort, filters across the services


@pytest.mark.parametrize(("service", "path", "route", "name"), SCALARS,
                         ids=[f"{path}?{name}" for _, path, _, name in SCALARS])
async def test_a_scalar_query_parameter_given_twice_is_refused(service, path, route, name):
    if "GET" not in route.methods:
        pytest.fail(f"{path}: a query parameter on a {sorted(route.methods)} route; extend this test")
    answer = await _get(service, f"{_url(path, route)}?{name}=1&{name}=2")
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert name in answer.json()["detail"]


async def test_a_list_parameter_may_repeat():
    # The audit log's type filter takes several values: past this check, the request needs a token.
    answer = await _get("audit", "/api/v1/audit-events?type=Transfers&type=Members")
    assert answer.status_code == 401, answer.text
