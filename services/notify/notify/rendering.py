"""Turns a notification into an email: the Jinja2 templates' text and HTML parts (HTML escaped),
as a multipart/alternative message ready for SMTP.

The message is written here rather than built with `email.message.EmailMessage`: its header
registry, content manager and generator do general work on every message, for a message whose
shape never changes. What the recipient gets is the same: the same headers, a
non-ASCII subject in RFC 2047 encoded words, lines folded at 78 characters, and a part that is not
plain short ASCII lines sent quoted-printable, so any server takes it (no 8BITMIME needed).
"""

import binascii
import functools
import uuid
from dataclasses import dataclass
from email.utils import formataddr, formatdate, parseaddr
from pathlib import Path

import jinja2

TEMPLATES = Path(__file__).with_name("templates")

_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
    undefined=jinja2.StrictUndefined,  # a missing value is a bug to see, not an empty line in a mail
    keep_trailing_newline=True,
    auto_reload=False,  # templates ship with the code: no file check (a stat) before every mail
)

MAX_LINE = 78  # RFC 5322's recommended line length, as the email package folds
_ENCODED_WORD_BYTES = 42  # UTF-8 bytes per encoded word: "Subject: =?utf-8?b?<56>?=" fits in 78


@dataclass(frozen=True)
class Outgoing:
    """A composed email: the SMTP envelope and the message's bytes."""

    sender: str  # the envelope sender (the From address)
    recipients: list[str]  # To, then Cc
    data: bytes
    # An address is not ASCII: the server must accept UTF-8 (SMTPUTF8, RFC 6531).
    smtputf8: bool


def render(template: str, context: dict) -> tuple[str, str]:
    """(text, html) of a template pair."""
    text = _environment.get_template(f"{template}.txt").render(**context)
    html = _environment.get_template(f"{template}.html").render(**context)
    return text, html


def compose(
    *, sender: str, recipient: str, cc: list[str], subject: str, template: str, context: dict, message_key: str
) -> Outgoing:
    """`message_key` makes the Message-ID stable for a notification: should a crash resend it, a
    client that deduplicates by Message-ID shows it once."""
    for value in (sender, recipient, *cc, subject, message_key):
        if "\r" in value or "\n" in value:  # a value must not start a header of its own
            raise ValueError(f"a header value holds a line break: {value!r}")
    text, html = render(template, context)
    parts = [_part("plain", text), _part("html", html)]
    boundary = _boundary(parts)
    from_header, envelope_sender = _sender(sender)
    recipients = [recipient, *cc]
    headers = [
        from_header,
        _address_header("To", [recipient]),
        *([_address_header("Cc", cc)] if cc else []),
        _subject_header(subject),
        f"Date: {formatdate(localtime=False, usegmt=True)}",
        f"Message-ID: <{message_key}@licensing.notify>",
        "MIME-Version: 1.0",
    ]
    content_type, body = "alternative", _multipart(parts, boundary)
    if "attachment_base64" in context:  # a document (an invoice's PDF) beside the text
        alternative = f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n\r\n'.encode() + body
        parts = [alternative, _attachment(context)]
        content_type, boundary = "mixed", _boundary(parts)
        body = _multipart(parts, boundary)
    headers.append(f'Content-Type: multipart/{content_type};\r\n boundary="{boundary}"')
    data = b"".join(["\r\n".join(headers).encode(), b"\r\n\r\n", body])
    return Outgoing(envelope_sender, recipients, data,
                    smtputf8=not (envelope_sender.isascii() and all(a.isascii() for a in recipients)))


def _boundary(parts: list[bytes]) -> str:
    boundary = f"=_{uuid.uuid4().hex}"
    while any(boundary.encode() in part for part in parts):  # "=_" never occurs in quoted-printable or base64
        boundary = f"=_{uuid.uuid4().hex}"
    return boundary


def _multipart(parts: list[bytes], boundary: str) -> bytes:
    # A delimiter line starts with the CRLF that ends the line before it: a part keeps its last newline.
    delimiter = b"--" + boundary.encode()
    return b"".join([b"\r\n".join(delimiter + b"\r\n" + part for part in parts), b"\r\n", delimiter, b"--\r\n"])


def _attachment(context: dict) -> bytes:
    """The context's attachment (base64, its name and type) as a part, base64 in lines of 76."""
    name = context["attachment_name"]
    if not name.isascii() or any(c in name for c in '"\\\r\n'):
        raise ValueError(f"an attachment's name must be plain ASCII: {name!r}")
    data = binascii.a2b_base64(context["attachment_base64"])
    lines = [binascii.b2a_base64(data[i:i + 57]).rstrip(b"\n") for i in range(0, len(data), 57)]
    return (f'Content-Type: {context["attachment_type"]}; name="{name}"\r\n'
            f'Content-Disposition: attachment; filename="{name}"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n").encode() + b"\r\n".join(lines) + b"\r\n"


def _part(subtype: str, content: str) -> bytes:
    """A text part, its lines ending in CRLF (split as bytes, so only CR and LF end a line)."""
    lines = content.encode("utf-8").splitlines()
    body = b"\r\n".join(lines) + b"\r\n"
    if content.isascii() and all(len(line) <= MAX_LINE for line in lines):
        encoding = b"7bit"
    else:
        encoding = b"quoted-printable"
        body = binascii.b2a_qp(body, istext=True)
    return (b'Content-Type: text/' + subtype.encode() + b'; charset="utf-8"\r\n'
            b"Content-Transfer-Encoding: " + encoding + b"\r\n\r\n" + body)


@functools.cache
def _sender(sender: str) -> tuple[str, str]:
    """The From header of the configured sender (a display name that is not ASCII in an encoded
    word) and its address, for the envelope."""
    name, address = parseaddr(sender)
    if sender.isascii() or not address.isascii():  # a UTF-8 address goes as it is (SMTPUTF8)
        return f"From: {sender}", address or sender.strip()
    return f"From: {formataddr((name, address), charset='utf-8')}", address


def _address_header(name: str, addresses: list[str]) -> str:
    """Addresses separated by commas, a line folded between two when it would pass 78 characters."""
    lines = [f"{name}: {addresses[0]}"]
    for address in addresses[1:]:
        if len(lines[-1]) + 2 + len(address) > MAX_LINE:
            lines[-1] += ","
            lines.append(f" {address}")
        else:
            lines[-1] += f", {address}"
    return "\r\n".join(lines)


def _subject_header(subject: str) -> str:
    """ASCII folded between words; otherwise base64 encoded words (RFC 2047), each within the line
    length and cut between characters, one per line."""
    if subject.isascii():
        lines = ["Subject:"]
        for word in subject.split(" "):
            if len(lines[-1]) + 1 + len(word) > MAX_LINE and lines[-1] != "Subject:":
                lines.append("")
            lines[-1] += f" {word}"
        return "\r\n".join(lines)
    words, chunk = [], b""
    for character in subject:
        encoded = character.encode("utf-8")
        if len(chunk) + len(encoded) > _ENCODED_WORD_BYTES:
            words.append(chunk)
            chunk = b""
        chunk += encoded
    words.append(chunk)
    return "Subject: " + "\r\n ".join(
        f"=?utf-8?b?{binascii.b2a_base64(word, newline=False).decode()}?=" for word in words
    )
