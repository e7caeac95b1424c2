"""Notify's reaction to an invoice sent by billing: one mail per Admin of the customer."""

from notify.domain.invoice_mails import invoice_mails
from notify.handlers import admin_emails, queue
from notify.settings import NotifySettings
from shared.db import UnitOfWork
from shared.events.billing import InvoiceIssued
from shared.events.envelope import Envelope
from shared.events.secrets import EventSecrets
from shared.logging import get_logger

log = get_logger(__name__)


def invoice_handlers(settings: NotifySettings) -> dict:
    secrets = EventSecrets.from_settings(settings)

    async def invoice_issued(uow: UnitOfWork, envelope: Envelope) -> None:
        event = envelope.payload_as(InvoiceIssued)
        secrets.check(event.pdf_base64)  # a PDF this service cannot open fails now, while the event is whole
        admins = await admin_emails(uow, event.customer_org_id)
        if not admins:
            log.warning("invoice sent but the customer has no Admin to mail", invoice_id=str(event.invoice_id))
        await queue(uow, envelope, invoice_mails(event, admins))

    return {InvoiceIssued.routing_key: invoice_issued}
