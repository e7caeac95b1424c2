"""What `make run`'s server check (`python -m shared.devtools check`) says and does, from what it
found: reachable or not, on this machine or not, installed or not, and what the machine allows.
The decision is a pure function (`advise`); nothing is installed here."""

import pytest

from shared.devtools import INSTALL_SETTING, Advice, Machine, Server, advise

POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432"


def server(name="PostgreSQL", *, reachable=False, local=True, installed=False) -> Server:
    return Server(name, POSTGRES if name == "PostgreSQL" else "amqp://guest:guest@127.0.0.1:5672/",
                  reachable, local, installed)


def machine(*, debian=True, root=True, docker=False, interactive=False, setting=None) -> Machine:
    return Machine(debian=debian, root=root, docker=docker, interactive=interactive, install_setting=setting)


@pytest.mark.parametrize("found", [server(reachable=True, installed=True), server("RabbitMQ", reachable=True)])
def test_a_server_that_answers_needs_nothing(found):
    assert advise(found, machine(setting="1")) == Advice("")


def test_a_remote_server_that_does_not_answer_is_never_installed_here():
    advice = advise(server(local=False), machine(setting="1", interactive=True))
    assert not advice.install and not advice.ask
    assert "unreachable" in advice.message and "apt-get" not in advice.message


def test_an_installed_server_that_does_not_answer_is_to_be_started():
    advice = advise(server(installed=True), machine(setting="1"))
    assert not advice.install and not advice.ask
    assert "start it with: pg_ctlcluster" in advice.message
    advice = advise(server("RabbitMQ", installed=True), machine())
    assert "start it with: rabbitmq-server -detached" in advice.message


@pytest.mark.parametrize(("name", "package"), [("PostgreSQL", "postgresql"), ("RabbitMQ", "rabbitmq-server")])
def test_missing_on_debian_as_root_with_the_setting_installs_without_asking(name, package):
    advice = advise(server(name), machine(setting="1"))
    assert advice.install and not advice.ask
    assert "not installed" in advice.message and f"installing {package} now" in advice.message


def test_missing_on_debian_as_root_at_a_terminal_asks():
    advice = advise(server(), machine(interactive=True))
    assert advice.ask and not advice.install
    assert "apt-get install -y postgresql" in advice.message


def test_missing_on_debian_as_root_without_a_terminal_says_how_and_names_the_setting():
    advice = advise(server(), machine(interactive=False))
    assert not advice.install and not advice.ask
    assert "apt-get install -y postgresql" in advice.message and f"{INSTALL_SETTING}=1" in advice.message


def test_the_setting_at_0_never_installs_nor_asks():
    advice = advise(server(), machine(interactive=True, setting="0"))
    assert not advice.install and not advice.ask
    assert "apt-get install -y postgresql" in advice.message


def test_missing_on_debian_without_root_says_how_with_sudo_and_offers_nothing():
    advice = advise(server("RabbitMQ"), machine(root=False, interactive=True, setting="1"))
    assert not advice.install and not advice.ask
    assert "sudo apt-get install -y rabbitmq-server" in advice.message
    assert "sudo rabbitmq-server -detached" in advice.message


def test_missing_elsewhere_points_at_docker_compose_with_the_settings_it_needs():
    advice = advise(server(), machine(debian=False, docker=True, interactive=True, setting="1"))
    assert not advice.install and not advice.ask
    assert "apt-get" not in advice.message
    assert "docker compose up -d postgres rabbitmq" in advice.message
    assert "POSTGRES_DSN=postgresql+asyncpg://postgres:licensing@127.0.0.1:5432" in advice.message
    assert "AMQP_URL=amqp://licensing:licensing@127.0.0.1:5672/" in advice.message
    assert "not installed here" in advise(server(), machine(debian=False, docker=False)).message
