"""The mail of an invoice sent by a reseller: to each of the customer's Admins, its PDF attached."""

from shared.events.billing import InvoiceIssued

from notify.domain.mails import Mail


def invoice_mails(event: InvoiceIssued, admin_emails: list[str]) -> list[Mail]:
    context = {
        "number": event.number,
        "issuer_name": event.issuer_name,
        "customer_name": event.customer_name,
        "total": event.total,
        "currency": event.currency,
        "lines": [line.model_dump(mode="json") for line in event.lines],
        # Sealed as the event carried it; opened only as the mail is written (SEALED_CONTEXT_KEYS).
        "attachment_base64": event.pdf_base64,
        "attachment_name": f"{event.number}.pdf",
        "attachment_type": "application/pdf",
    }
    return [Mail(recipient=email, subject=f"Invoice {event.number} from {event.issuer_name}", template="invoice_issued",
                 context=context, org_ids=(event.customer_org_id, event.issuer_org_id))
            for email in admin_emails]
