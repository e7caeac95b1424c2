"""The broker users of the services, as a deployment loads them (deploy/rabbitmq/definitions.json)."""

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.bus.authorisation import definitions, development_passwords, owner, password_matches
from shared.settings import BUS_SERVICES, SERVICE_PORTS, ServiceSettings

DEFINITIONS = Path(__file__).resolve().parents[3] / "deploy" / "rabbitmq" / "definitions.json"


def without_hashes(document: dict) -> dict:
    return {**document, "users": [{k: v for k, v in user.items() if k != "password_hash"} for user in document["users"]]}


def test_the_deployed_definitions_are_the_generated_ones_with_the_development_passwords():
    deployed = json.loads(DEFINITIONS.read_text())
    generated = definitions(development_passwords(), admin=("licensing", "licensing"))
    assert without_hashes(deployed) == without_hashes(generated), (
        "deploy/rabbitmq/definitions.json is out of date: "
        "python -m shared.bus.authorisation definitions > deploy/rabbitmq/definitions.json")
    passwords = {**development_passwords(), "licensing": "licensing"}
    assert all(password_matches(passwords[user["name"]], user["password_hash"]) for user in deployed["users"])


def test_every_service_but_the_gateway_has_a_user_that_may_publish_only_its_own_keys():
    assert set(BUS_SERVICES) == set(SERVICE_PORTS) - {"gateway"}
    topics = {t["user"]: t["write"] for t in definitions(development_passwords())["topic_permissions"]}
    assert topics == {service: f"^{service}\\." for service in BUS_SERVICES}
    assert owner("transfers.transfer.requested") == "transfers"


def test_a_service_connects_as_its_own_user_and_needs_its_own_password_outside_development():
    url = ServiceSettings(service_name="transfers", amqp_url="amqp://admin:secret@broker:5672/prod").amqp_url
    assert url == "amqp://transfers:licensing-dev-bus-transfers@broker:5672/prod"
    production = {"LICENSING_ENV": "production", "EVENT_SECRETS_KEY": "a-key-of-production"}
    with pytest.raises(ValidationError, match="AMQP_PASSWORD"):
        ServiceSettings(service_name="transfers", **production)
    with pytest.raises(ValidationError, match="BUS_ACCEPT_UNSTAMPED"):
        ServiceSettings(service_name="transfers", AMQP_PASSWORD="s3cret/@", bus_accept_unstamped=True, **production)
    own = ServiceSettings(service_name="transfers", AMQP_PASSWORD="s3cret/@", **production).amqp_url
    assert own == "amqp://transfers:s3cret%2F%40@127.0.0.1:5672/"
