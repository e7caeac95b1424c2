"""Turns a notification into an email: the Jinja2 templates' text and HTML parts (HTML escaped)."""

from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

import jinja2

TEMPLATES = Path(__file__).with_name("templates")

_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
    undefined=jinja2.StrictUndefined,  # a missing value is a bug to see, not an empty line in a mail
    keep_trailing_newline=True,
)


def render(template: str, context: dict) -> tuple[str, str]:
    """(text, html) of a template pair."""
    text = _environment.get_template(f"{template}.txt").render(**context)
    html = _environment.get_template(f"{template}.html").render(**context)
    return text, html


def compose(
    *, sender: str, recipient: str, cc: list[str], subject: str, template: str, context: dict, message_key: str
) -> EmailMessage:
    """`message_key` makes the Message-ID stable for a notification: should a crash resend it, a
    client that deduplicates by Message-ID shows it once."""
    text, html = render(template, context)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = f"<{message_key}@licensing.notify>"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message
