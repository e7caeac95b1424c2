"""An invoice's mail: the text and HTML parts as for every mail, and the PDF attached beside them,
byte for byte, in lines a server takes."""

import base64
import os
import uuid
from datetime import date
from email import message_from_bytes, policy

from notify.domain.invoice_mails import invoice_mails
from notify.rendering import MAX_LINE, compose
from shared.events.billing import InvoiceIssued, InvoiceLine


def invoice(pdf: bytes) -> InvoiceIssued:
    line = InvoiceLine(description="Monthly (monthly): Lobby", quantity=5, unit_price_minor=1000,
                       period_start=date(2026, 3, 1), period_end=date(2026, 3, 31), paused_days=6, amount_minor=4000)
    return InvoiceIssued(invoice_id=uuid.uuid4(), number="INV-000007", issuer_org_id=uuid.uuid4(),
                         issuer_name="Integra", customer_org_id=uuid.uuid4(), customer_name="Café Nord",
                         subscription_id=uuid.uuid4(), currency="EUR", total_minor=4000, total="40.00",
                         lines=[line], pdf_base64=base64.b64encode(pdf).decode())


def test_each_customer_admin_gets_the_invoice_with_its_pdf_attached():
    pdf = b"%PDF-1.4\n" + os.urandom(3000)
    mails = invoice_mails(invoice(pdf), ["a@cafe.example", "b@cafe.example"])
    assert [mail.recipient for mail in mails] == ["a@cafe.example", "b@cafe.example"]
    mail = mails[0]
    written = compose(sender="Licensing <no-reply@licensing.local>", recipient=mail.recipient, cc=[],
                      subject=mail.subject, template=mail.template, context=mail.context, message_key="e.1")
    assert all(len(line) <= MAX_LINE for line in written.data.split(b"\r\n"))
    message = message_from_bytes(written.data, policy=policy.default)
    assert message.get_content_type() == "multipart/mixed"
    assert "40.00 EUR" in message.get_body(("plain",)).get_content()
    assert "6 paused days not billed" in message.get_body(("html",)).get_content()
    (attachment,) = message.iter_attachments()
    assert attachment.get_filename() == "INV-000007.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == pdf


def test_a_mail_without_an_attachment_stays_multipart_alternative():
    written = compose(sender="no-reply@licensing.local", recipient="x@example.com", cc=[], subject="Hi",
                      template="welcome", context={"org_name": "Acme", "role": "Admin", "portal_url": "http://p"},
                      message_key="e.2")
    assert message_from_bytes(written.data, policy=policy.default).get_content_type() == "multipart/alternative"
