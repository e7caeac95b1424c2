"""docker-compose.yml and the Dockerfile stay in step with the services in services/.

No Docker engine is needed: these read the files. `docker compose config` itself (the schema)
is checked in deploy/README.md's way, by docker-compose or check-jsonschema.
"""

import json
import re
from pathlib import Path

import pytest
import yaml

from shared.devtools import SERVICES_WITH_DATABASE
from shared.settings import SERVICE_PORTS

ROOT = Path(__file__).resolve().parent.parent
SERVICES = sorted(p.parent.name for p in (ROOT / "services").glob("*/pyproject.toml"))


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_the_services_are_found():
    assert set(SERVICES) == set(SERVICE_PORTS)


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_is_built_from_the_one_dockerfile_with_its_name_and_port(compose, service):
    definition = compose["services"].get(service)
    assert definition is not None, f"docker-compose.yml has no service {service!r}"
    assert definition["build"] == {"context": ".", "args": {"SERVICE": service, "PORT": str(SERVICE_PORTS[service])}}
    assert definition["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL")


def test_no_service_keeps_a_dockerfile_of_its_own():
    assert not list((ROOT / "services").glob("*/Dockerfile"))


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


def _instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined, comments left out."""
    joined = re.sub(r"\\\n\s*", " ", dockerfile)
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in joined.splitlines()]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
            for line in lines if line and not line.startswith("#")]


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return _instructions((ROOT / "Dockerfile").read_text())


def _stages(instructions: list[tuple[str, str]]) -> dict[str, list[tuple[str, str]]]:
    """Each stage's instructions by its name (`FROM image AS name`)."""
    stages: dict[str, list[tuple[str, str]]] = {}
    for instruction in instructions:
        if instruction[0] == "FROM":
            name = instruction[1].split()[-1]
            stages[name] = []
        stages[name].append(instruction)
    return stages


def test_the_dockerfile_is_made_of_known_instructions(dockerfile):
    known = {"FROM", "ARG", "RUN", "ENV", "WORKDIR", "COPY", "USER", "EXPOSE", "HEALTHCHECK", "CMD"}
    assert {name for name, _ in dockerfile} <= known
    assert dockerfile[0][0] == "FROM"


def test_every_stage_declares_the_arguments_it_uses(dockerfile):
    for stage in _stages(dockerfile).values():
        declared = {arguments.split("=", 1)[0] for name, arguments in stage if name == "ARG"}
        used = set(re.findall(r"\$\{?([A-Z_]+)\}?", " ".join(a for n, a in stage if n not in ("ARG", "CMD", "HEALTHCHECK"))))
        set_by_env = {a.split("=", 1)[0] for n, args in stage if n == "ENV" for a in args.split()}
        assert used - declared - set_by_env - {"PATH"} == set(), stage[0]


def test_the_default_image_installs_runs_and_checks_the_named_service_as_a_non_root_user(dockerfile):
    stages = _stages(dockerfile)
    build, final = stages["build"], stages["service"]
    assert list(stages)[-1] == "service" and final[0][1].split()[0] == "runtime"
    assert any(name == "RUN" and 'uv sync --frozen --no-dev --package "licensing-${SERVICE}"' in arguments
               for name, arguments in build)
    assert ("COPY", "--from=build /app/services/${SERVICE} /app/services/${SERVICE}") in final
    environment = " ".join(arguments for name, arguments in final if name == "ENV")
    assert "LICENSING_SERVICE=${SERVICE}" in environment and "UVICORN_PORT=${PORT}" in environment
    command = json.loads(dict(final)["CMD"])
    assert command[:2] == ["sh", "-c"] and 'uvicorn --factory "${LICENSING_SERVICE}.main:create_app"' in command[2]
    assert "/healthz" in dict(final)["HEALTHCHECK"]
    user = dict(final)["USER"]
    assert user != "root" and re.fullmatch(r"\w+", user)


def test_the_migrate_target_installs_every_member_and_prepares_the_databases(dockerfile, compose):
    assert compose["services"]["migrate"]["build"] == {"context": ".", "target": "migrate"}
    stages = _stages(dockerfile)
    assert ("RUN", "--mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-dev") in stages["migrate-build"]
    migrate = dict(stages["migrate"])
    assert json.loads(migrate["CMD"]) == ["python", "-m", "shared.devtools", "prepare"]
    assert migrate["USER"] != "root"


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_the_factory_the_image_runs(service):
    assert (ROOT / "services" / service / service / "main.py").is_file()
    assert "def create_app(" in (ROOT / "services" / service / service / "main.py").read_text()
