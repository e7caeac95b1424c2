"""Development only: the mail that the local sink of `make run` caught, as pages of the gateway,
so a new user can follow an invite link without a real mail server.

Enabled when LICENSING_DEV_MAIL=1 and the environment (LICENSING_ENV) is development, and only for
a client on this machine (loopback): the pages show every invite link, with no sign-in. Otherwise
every page answers 404, as if it did not exist; the gateway's start says when they are on. The
sink (deploy/run/mail_sink.py) writes a Maildir at LICENSING_MAIL_DIR, by default
<LICENSING_RUN_DIR>/mail, which is `.run/mail`.
"""

import html
import mailbox
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from shared.logging import get_logger
from shared.middleware import LOOPBACK, client_within, networks
from shared.problems import Problem

log = get_logger(__name__)

router = APIRouter(prefix="/dev/mail", include_in_schema=False)

# The newest messages listed; a development sink rarely holds more, and each listed one is parsed.
LIST_LIMIT = 200

_LINK = re.compile(r"""https?://[^\s<>"']+""")


_LOCAL = networks(LOOPBACK)


def enabled(settings) -> bool:
    environment = getattr(settings, "environment", None) or os.environ.get("LICENSING_ENV", "development")
    return os.environ.get("LICENSING_DEV_MAIL") == "1" and environment == "development"


def announce(settings) -> None:
    """Says at start whether the pages are on, and that they are for this machine only."""
    if enabled(settings):
        log.warning("development mail pages enabled at /dev/mail, for clients on this machine only (loopback):"
                    " they show every invite link without sign-in")


def mail_directory(request: Request) -> Path:
    """The Maildir to read, or 404 when the page is disabled or the client is not on this machine."""
    if not enabled(getattr(request.app.state, "settings", None)) or not client_within(request.scope, _LOCAL):
        raise Problem(404, "Not Found")
    if explicit := os.environ.get("LICENSING_MAIL_DIR"):
        return Path(explicit)
    return Path(os.environ.get("LICENSING_RUN_DIR", ".run")) / "mail"


@dataclass(frozen=True)
class CaughtMail:
    key: str
    received_at: datetime
    to: str
    cc: str
    subject: str
    message: EmailMessage


def _read(box: mailbox.Maildir, key: str) -> CaughtMail:
    message = message_from_bytes(box.get_bytes(key), policy=policy.default)
    return CaughtMail(
        key=key,
        received_at=_date(message, key),
        to=str(message.get("To", "")),
        cc=str(message.get("Cc", "")),
        subject=str(message.get("Subject", "(no subject)")),
        message=message,
    )


def _date(message: EmailMessage, key: str) -> datetime:
    """The Date header; without one, the delivery time that starts a Maildir key."""
    try:
        return parsedate_to_datetime(str(message["Date"])).astimezone(UTC)
    except (TypeError, ValueError, IndexError):
        return datetime.fromtimestamp(_key_time(key), UTC)


def _key_time(key: str) -> float:
    try:
        return float(key.split(".", 1)[0])
    except ValueError:
        return 0.0


def _open(directory: Path) -> mailbox.Maildir | None:
    if not (directory / "new").is_dir():
        return None  # nothing caught yet: the sink creates the folders on its first mail
    return mailbox.Maildir(directory, create=False)


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;color:#1f2933}} table{{border-collapse:collapse}}
td,th{{padding:.3rem .8rem;border-bottom:1px solid #e4e7eb;text-align:left}} pre{{white-space:pre-wrap;
background:#f5f7fa;padding:1rem}}</style></head>
<body>{body}</body></html>""",
        headers={"Cache-Control": "no-store"},
    )


@router.get("")
async def list_mail(request: Request) -> HTMLResponse:
    box = _open(mail_directory(request))
    caught = []
    if box is not None:
        newest_keys = sorted(box.iterkeys(), key=lambda k: (_key_time(k), k), reverse=True)[:LIST_LIMIT]
        caught = sorted((_read(box, key) for key in newest_keys), key=lambda m: (m.received_at, m.key), reverse=True)
    rows = "\n".join(
        f"<tr><td>{mail.received_at:%d %b %Y, %H:%M:%S} UTC</td><td>{html.escape(mail.to)}</td>"
        f'<td><a href="/dev/mail/{_url_key(mail.key)}">{html.escape(mail.subject)}</a></td></tr>'
        for mail in caught
    )
    body = (
        "<h1>Mail caught by the development sink</h1>"
        + (
            f"<table><thead><tr><th>Date</th><th>To</th><th>Subject</th></tr></thead><tbody>{rows}</tbody></table>"
            if caught
            else "<p>No mail yet. Invite someone and reload this page.</p>"
        )
    )
    return _page("Development mail", body)


@router.get("/{key}")
async def show_mail(key: str, request: Request) -> HTMLResponse:
    mail = _find(request, key)
    text = _text_of(mail.message)
    links = list(dict.fromkeys(_LINK.findall(text)))
    link_items = "".join(f'<li><a href="{html.escape(link)}">{html.escape(link)}</a></li>' for link in links)
    has_html = mail.message.get_body(("html",)) is not None
    body = f"""<p><a href="/dev/mail">&larr; all mail</a></p>
<h1>{html.escape(mail.subject)}</h1>
<table>
<tr><th>Date</th><td>{mail.received_at:%d %b %Y, %H:%M:%S} UTC</td></tr>
<tr><th>From</th><td>{html.escape(str(mail.message.get("From", "")))}</td></tr>
<tr><th>To</th><td>{html.escape(mail.to)}</td></tr>
{f"<tr><th>Cc</th><td>{html.escape(mail.cc)}</td></tr>" if mail.cc else ""}
</table>
{f"<h2>Links</h2><ul>{link_items}</ul>" if links else ""}
<h2>Text</h2>
<pre>{html.escape(text)}</pre>
{f'<p><a href="/dev/mail/{_url_key(mail.key)}/html">Show the HTML part</a></p>' if has_html else ""}"""
    return _page(mail.subject, body)


@router.get("/{key}/html")
async def show_mail_html(key: str, request: Request) -> Response:
    """The mail's HTML part as sent, in a sandbox: no script runs and it cannot act as the gateway."""
    part = _find(request, key).message.get_body(("html",))
    if part is None:
        raise Problem(404, "This message has no HTML part.")
    return HTMLResponse(part.get_content(), headers={"Content-Security-Policy": "sandbox", "Cache-Control": "no-store"})


def _url_key(key: str) -> str:
    return quote(key, safe="")


def _find(request: Request, key: str) -> CaughtMail:
    box = _open(mail_directory(request))
    try:
        if box is None:
            raise KeyError(key)
        return _read(box, key)
    except KeyError:
        raise Problem(404, "No such message in the development mail sink.") from None


def _text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    if part is not None:
        return part.get_content()
    part = message.get_body(("html",))
    if part is not None:  # an HTML-only mail: its text without the tags, links kept in the text
        content = re.sub(r"""<a\s[^>]*href=["']([^"']+)["'][^>]*>""", r" \1 ", part.get_content(), flags=re.I)
        return html.unescape(re.sub(r"<[^>]+>", "", content))
    return ""
