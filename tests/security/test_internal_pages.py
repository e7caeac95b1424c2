"""Issue 20, item 13 and the Info findings: pages meant for the machine's operator are not for the
public. /dev/mail (every invite link, no sign-in) answers only a development gateway's own machine,
and the gateway says so when it starts; /metrics (every service's and the gateway's) answers only
the allowed networks (loopback by default, METRICS_ALLOWED_FROM), 404 to anyone else."""

import httpx
import pytest
from cryptography.fernet import Fernet
from structlog.testing import capture_logs

from gateway.main import create_app as create_gateway
from gateway.settings import GatewaySettings
from orgs.main import create_app as create_orgs
from orgs.settings import OrgsSettings

OUTSIDER = ("203.0.113.9", 51000)
LOCAL = ("127.0.0.1", 51000)


def client(app, address) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=address), base_url="http://gateway")


def gateway(environment: str = "development", **settings) -> object:
    key = {} if environment == "development" else {"EVENT_SECRETS_KEY": Fernet.generate_key().decode()}
    return create_gateway(GatewaySettings(LICENSING_ENV=environment, **key, **settings))


@pytest.fixture
def dev_mail(tmp_path, monkeypatch):
    monkeypatch.setenv("LICENSING_DEV_MAIL", "1")
    monkeypatch.setenv("LICENSING_MAIL_DIR", str(tmp_path / "mail"))


async def test_dev_mail_is_refused_to_a_client_of_another_machine(dev_mail):
    app = gateway()
    async with client(app, OUTSIDER) as outsider:
        assert (await outsider.get("/dev/mail")).status_code == 404
        assert (await outsider.get("/dev/mail/1.key")).status_code == 404
    async with client(app, LOCAL) as developer:
        page = await developer.get("/dev/mail")
    assert page.status_code == 200 and "Mail caught" in page.text


async def test_dev_mail_is_off_outside_development_even_from_this_machine(dev_mail):
    async with client(gateway("production"), LOCAL) as local:
        assert (await local.get("/dev/mail")).status_code == 404


async def test_the_gateway_says_at_start_that_dev_mail_is_on_and_for_this_machine_only(dev_mail):
    app = gateway()
    with capture_logs() as logs:
        async with app.router.lifespan_context(app):
            pass
    announced = [entry["event"] for entry in logs if "/dev/mail" in entry["event"]]
    assert announced and "this machine only" in announced[0]


async def test_metrics_answer_only_the_allowed_networks():
    services = {"gateway": gateway(), "orgs": create_orgs(OrgsSettings())}
    for name, app in services.items():
        async with client(app, OUTSIDER) as outsider:
            refused = await outsider.get("/metrics")
        assert refused.status_code == 404, name
        assert "http_requests_total" not in refused.text
        async with client(app, LOCAL) as scraper:
            scraped = await scraper.get("/metrics")
        assert scraped.status_code == 200 and "http_requests_total" in scraped.text, name


async def test_metrics_follow_the_allow_list_setting():
    app = gateway(METRICS_ALLOWED_FROM="203.0.113.0/24")
    async with client(app, OUTSIDER) as scraper:
        assert (await scraper.get("/metrics")).status_code == 200
    async with client(app, ("198.51.100.1", 1)) as other:
        assert (await other.get("/metrics")).status_code == 404
