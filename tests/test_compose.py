"""docker-compose.yml and the Dockerfiles stay in step with the services in services/.

No Docker engine is needed: these read the files. `docker compose config` itself (the schema)
is checked in deploy/README.md's way, by docker-compose or check-jsonschema.
"""

import re
from pathlib import Path

import pytest

from shared.devtools import SERVICES_WITH_DATABASE
from shared.settings import SERVICE_PORTS

ROOT = Path(__file__).resolve().parent.parent
SERVICES = sorted(p.parent.name for p in (ROOT / "services").glob("*/pyproject.toml"))


@pytest.fixture(scope="module")
def compose() -> dict:
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed, so docker-compose.yml cannot be read")
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_the_services_are_found():
    assert set(SERVICES) == set(SERVICE_PORTS)


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_is_built_from_its_own_dockerfile_with_a_healthcheck(compose, service):
    definition = compose["services"].get(service)
    assert definition is not None, f"docker-compose.yml has no service {service!r}"
    assert definition["build"] == {"context": ".", "dockerfile": f"services/{service}/Dockerfile"}
    assert (ROOT / definition["build"]["dockerfile"]).is_file()
    assert definition["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL")


def test_the_gateway_is_published_on_8000(compose):
    assert "8000:8000" in compose["services"]["gateway"]["ports"]


def test_the_gateway_reaches_each_service_by_its_compose_name(compose):
    environment = compose["services"]["gateway"]["environment"]
    for service in SERVICES:
        if service != "gateway":
            assert environment[f"{service.upper()}_URL"] == f"http://{service}:{SERVICE_PORTS[service]}"


def test_the_services_start_after_the_migrations_and_the_gateway_after_the_services(compose):
    services = compose["services"]
    for service in SERVICES_WITH_DATABASE:
        assert services[service]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    for service in SERVICES:
        if service != "gateway":
            assert services["gateway"]["depends_on"][service] == {"condition": "service_healthy"}


def test_postgres_starts_with_one_database_per_service():
    script = (ROOT / "deploy/postgres/init-databases.sql").read_text()
    created = set(re.findall(r"CREATE DATABASE (\w+);", script))
    assert created == {f"licensing_{service}" for service in SERVICES_WITH_DATABASE}


@pytest.mark.parametrize("service", SERVICES)
def test_every_dockerfile_runs_its_factory_on_its_port_as_a_non_root_user(service):
    dockerfile = (ROOT / "services" / service / "Dockerfile").read_text()
    assert f"uv sync --frozen --no-dev --package licensing-{service}" in dockerfile
    assert f"UVICORN_PORT={SERVICE_PORTS[service]}" in dockerfile
    assert f'CMD ["uvicorn", "--factory", "{service}.main:create_app"]' in dockerfile
    assert "/healthz" in dockerfile.split("HEALTHCHECK", 1)[1]
    assert re.search(r"^USER (?!root)\w+$", dockerfile, re.MULTILINE)
