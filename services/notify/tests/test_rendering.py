"""The written email says what the templates rendered: headers a mail reader decodes to the same
values, the text and HTML parts byte for byte, and no line a server could refuse."""

from email import message_from_bytes, policy

import pytest

from notify.rendering import compose, render

CONTEXT = {
    "from_org_name": "Société Générale d'Ingénierie", "to_org_name": "Integra GmbH", "product_name": "Vision Pro",
    "product_description": "A description long enough to push a line of the HTML part past seventy-eight characters",
    "quantity": 5, "entitlement_id": "ENT-2026-0042", "po_number": None, "sales_order": "SO-1",
}


def written(**overrides):
    values = dict(sender="Portail des Licences <no-reply@licensing.local>", recipient="rep@example.com",
                  cc=[f"buyer{i}@a-rather-long-customer-domain.example.com" for i in range(4)],
                  subject="5 × Vision Pro transferred to Integra GmbH, a subject long enough to need two encoded words",
                  template="transfer_completed", context=CONTEXT, message_key="event.row")
    values.update(overrides)
    return values, compose(**values)


def test_the_mail_decodes_to_the_rendered_parts_and_the_given_headers():
    values, mail = written()
    message = message_from_bytes(mail.data, policy=policy.default)
    text, html = render("transfer_completed", CONTEXT)

    assert str(message["Subject"]) == values["subject"]
    assert message["From"].addresses[0].display_name == "Portail des Licences"
    assert message["From"].addresses[0].addr_spec == "no-reply@licensing.local"
    assert [a.addr_spec for a in message["To"].addresses] == ["rep@example.com"]
    assert [a.addr_spec for a in message["Cc"].addresses] == values["cc"]
    assert message["Message-ID"] == "<event.row@licensing.notify>"
    assert message["Date"].datetime is not None
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert message.get_body(("plain",)).get_content().replace("\r\n", "\n") == text
    assert message.get_body(("html",)).get_content().replace("\r\n", "\n") == html
    # The SMTP envelope: the sender's address, then every recipient.
    assert (mail.sender, mail.recipients, mail.smtputf8) == ("no-reply@licensing.local", ["rep@example.com", *values["cc"]], False)


def test_every_line_is_ascii_and_at_most_78_characters():
    _, mail = written(sender="Portail Licences é <no-reply@licensing.local>")
    lines = mail.data.split(b"\r\n")
    assert mail.data.isascii()
    assert max(len(line) for line in lines) <= 78
    assert b"\n" not in mail.data.replace(b"\r\n", b"")  # CRLF only
    assert str(message_from_bytes(mail.data, policy=policy.default)["From"]) == \
        "Portail Licences é <no-reply@licensing.local>"


def test_a_value_with_a_line_break_cannot_add_a_header():
    with pytest.raises(ValueError):
        written(cc=["a@example.com\r\nBcc: victim@example.com"])
