"""The development mail page: what the local sink caught, newest first, with the text and links,
and nothing at all unless development mail is switched on."""

import importlib.util
import mailbox
import smtplib
import socket
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI

from gateway.api.mail import router
from gateway.settings import GatewaySettings
from shared.devtools import port_listening
from shared.problems import install_problem_handlers
from shared.testing import eventually


def page_app(environment: str = "development") -> FastAPI:
    app = FastAPI()
    # Outside development, the development event key is refused (shared.settings): a key of its own.
    app.state.settings = GatewaySettings(LICENSING_ENV=environment, EVENT_SECRETS_KEY=Fernet.generate_key().decode())
    install_problem_handlers(app)
    app.include_router(router)
    return app


def deliver(directory, *, to: str, subject: str, date: str, text: str, html: str | None = None) -> str:
    """Stores a message as the sink does (a Maildir), returns its key."""
    message = EmailMessage()
    message["From"] = "Licensing Portal <no-reply@licensing.local>"
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = date
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return mailbox.Maildir(directory, create=True).add(message)


@pytest.fixture
def maildir(tmp_path, monkeypatch):
    directory = tmp_path / "mail"
    monkeypatch.setenv("LICENSING_DEV_MAIL", "1")
    monkeypatch.setenv("LICENSING_MAIL_DIR", str(directory))
    return directory


async def get(app: FastAPI, path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        return await client.get(path)


async def test_the_list_shows_every_caught_mail_newest_first(maildir):
    older = deliver(maildir, to="ann@example.com", subject="Welcome to Acme", date="Mon, 23 Nov 2026 09:00:00 +0000",
                    text="Hello")
    newer = deliver(maildir, to="bob@example.com", subject="Your invitation to join <Acme>",
                    date="Mon, 23 Nov 2026 10:30:05 +0000", text="Accept")
    response = await get(page_app(), "/dev/mail")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    assert page.index("bob@example.com") < page.index("ann@example.com")
    assert "23 Nov 2026, 10:30:05 UTC" in page and "23 Nov 2026, 09:00:00 UTC" in page
    assert "Your invitation to join &lt;Acme&gt;" in page and "<Acme>" not in page
    assert f'href="/dev/mail/{newer}"' in page and f'href="/dev/mail/{older}"' in page


async def test_a_mail_shows_its_text_and_its_links_to_follow(maildir):
    link = "http://127.0.0.1:8000/accept-invite?token=abc123"
    key = deliver(maildir, to="carol@example.com", subject="Your invitation", date="Mon, 23 Nov 2026 11:00:00 +0000",
                  text=f"Accept the invitation:\n{link}\n", html=f'<p><a href="{link}">Accept</a><script>x()</script></p>')
    page = (await get(page_app(), f"/dev/mail/{key}")).text
    assert "carol@example.com" in page and "Accept the invitation:" in page
    assert f'<a href="{link}">{link}</a>' in page
    html_part = await get(page_app(), f"/dev/mail/{key}/html")
    assert html_part.status_code == 200 and html_part.headers["content-security-policy"] == "sandbox"
    assert link in html_part.text


async def test_an_empty_sink_says_so_and_an_unknown_mail_is_404(maildir):
    assert "No mail yet" in (await get(page_app(), "/dev/mail")).text
    deliver(maildir, to="dan@example.com", subject="Hi", date="Mon, 23 Nov 2026 11:00:00 +0000", text="Hi")
    response = await get(page_app(), "/dev/mail/1700000000.nothing.here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_the_pages_do_not_exist_unless_development_mail_is_on(maildir, monkeypatch):
    key = deliver(maildir, to="eve@example.com", subject="Secret", date="Mon, 23 Nov 2026 11:00:00 +0000", text="s")
    assert (await get(page_app(environment="production"), "/dev/mail")).status_code == 404
    monkeypatch.delenv("LICENSING_DEV_MAIL")
    for path in ("/dev/mail", f"/dev/mail/{key}", f"/dev/mail/{key}/html"):
        response = await get(page_app(), path)
        assert response.status_code == 404 and "eve@example.com" not in response.text


async def test_mail_stored_by_the_sink_of_make_run_is_listed(maildir, capsys):
    """The sink `make run` starts (deploy/run/mail_sink.py, its own process), fed over SMTP: the
    page shows the mail, and the runner prints one line for it, once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = subprocess.Popen([sys.executable, str(RUN_DIR / "mail_sink.py"), f"127.0.0.1:{port}", str(maildir)])
    try:
        await eventually(lambda: _listening(port))
        message = EmailMessage()
        message["From"] = "no-reply@licensing.local"
        message["To"] = "frank@example.com"
        message["Subject"] = "Welcome to Sinkville, Zoë"
        message.set_content("Sign in at http://127.0.0.1:8000/")
        with smtplib.SMTP("127.0.0.1", port) as client:
            client.send_message(message, to_addrs=["frank@example.com", "grace@example.com"])
    finally:
        sink.terminate()
        sink.wait(timeout=10)
    [key] = mailbox.Maildir(maildir, create=False).keys()
    stored = mailbox.Maildir(maildir, create=False)[key]
    assert stored["X-MailFrom"] == "no-reply@licensing.local"
    assert stored["X-RcptTo"] == "frank@example.com, grace@example.com"
    listing = (await get(page_app(), "/dev/mail")).text
    assert "frank@example.com" in listing and "Welcome to Sinkville, Zoë" in listing
    page = (await get(page_app(), f"/dev/mail/{key}")).text
    assert '<a href="http://127.0.0.1:8000/">http://127.0.0.1:8000/</a>' in page

    watcher = _runner().MailWatcher(maildir)
    watcher.poll()
    watcher.poll()
    assert capsys.readouterr().out == f"[mail] to frank@example.com: Welcome to Sinkville, Zoë  ({maildir / 'new'})\n"


RUN_DIR = Path(__file__).resolve().parents[3] / "deploy" / "run"


def _runner():
    """deploy/run/run.py, a script rather than a package."""
    spec = importlib.util.spec_from_file_location("make_run_runner", RUN_DIR / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def _listening(port: int) -> bool:
    return port_listening(port)
