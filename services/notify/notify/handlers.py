"""Notify reacts to events: it keeps the local copies it needs to address mail, and for each event
that calls for mail it queues one notification per recipient. It never sends here: the handler runs
inside the consumer's transaction, and the sender (notify.sender) picks the rows up once committed."""

import uuid
from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from notify.db import members, notifications, org_directory, org_directory_representatives, transfer_requests
from notify.domain.mails import (
    Mail,
    expiry_mails,
    invite_mail,
    transfer_completed_mail,
    transfer_rejected_mails,
    welcome_mail,
)
from notify.metrics import NOTIFICATIONS
from notify.settings import NotifySettings
from shared.auth.permissions import Role
from shared.bulk_insert import insert_rows
from shared.bus.consumer import EventHandler
from shared.db import UnitOfWork
from shared.events.entitlements import EntitlementExpired, EntitlementExpiringSoon, TransferCompleted, TransferRejected
from shared.events.envelope import Envelope
from shared.events.identity import InviteCreated, InviteResent, MemberCreated, MemberRemoved, MemberRoleChanged
from shared.events.secrets import EventSecrets, SecretUnreadable
from shared.events.transfers import TransferRequested
from shared.logging import get_logger
from shared.org_directory import ORG_DIRECTORY_HANDLERS

log = get_logger(__name__)


async def queue(uow: UnitOfWork, envelope: Envelope, mails: list[Mail]) -> None:
    """One row per (event, recipient); a second insert for the same pair changes nothing."""
    if not mails:
        return
    rows = [
        {
            "event_id": envelope.event_id,
            "event_type": envelope.type,
            "recipient": mail.recipient,
            "cc": list(mail.cc),
            "org_ids": list(mail.org_ids),
            "subject": mail.subject,
            "template": mail.template,
            "context": mail.context,
        }
        for mail in mails
    ]
    inserted = await insert_rows(uow.session, notifications, rows,
                                 on_conflict="ON CONFLICT ON CONSTRAINT notifications_one_per_event_and_recipient DO NOTHING",
                                 returning=["id"])
    NOTIFICATIONS.labels("queued").inc(len(inserted))


async def org_name(uow: UnitOfWork, org_id: uuid.UUID) -> str | None:
    return await uow.session.scalar(sa.select(org_directory.c.name).where(org_directory.c.id == org_id))


async def default_representative(uow: UnitOfWork, org_id: uuid.UUID) -> str | None:
    return await uow.session.scalar(
        sa.select(org_directory_representatives.c.email).where(
            org_directory_representatives.c.org_id == org_id, org_directory_representatives.c.is_default
        )
    )


async def admin_emails(uow: UnitOfWork, org_id: uuid.UUID) -> list[str]:
    result = await uow.session.scalars(
        sa.select(members.c.email)
        .where(members.c.org_id == org_id, members.c.role == Role.ADMIN.value)
        .order_by(members.c.email)
    )
    return list(result)


def build_event_handlers(settings: NotifySettings) -> Mapping[str, EventHandler]:
    portal_url = settings.portal_url
    secrets = EventSecrets.from_settings(settings)

    async def invited(uow: UnitOfWork, envelope: Envelope) -> None:
        contract = InviteResent if envelope.type == InviteResent.routing_key else InviteCreated
        event = envelope.payload_as(contract)
        # The token is stored sealed and opened when the mail is rendered; a token this service could
        # not open then is refused now, while the event is still whole: the handler fails, the
        # consumer retries it alone and past the delivery limit the broker dead-letters it
        # (notify.events.dead-letter), from where it can be moved back once the key is right.
        try:
            secrets.check(event.token)
        except SecretUnreadable as error:
            log.error("cannot open the invite's token: check EVENT_SECRETS_KEY (the same keys as identity's);"
                      " the event is retried, then dead-lettered", event_id=str(envelope.event_id),
                      event_type=envelope.type, invite_id=str(event.invite_id), error=str(error))
            raise
        await queue(uow, envelope, [invite_mail(event, await org_name(uow, event.org_id), portal_url)])

    async def member_created(uow: UnitOfWork, envelope: Envelope) -> None:
        event = envelope.payload_as(MemberCreated)
        statement = insert(members).values(id=event.member_id, org_id=event.org_id, email=event.email, role=event.role)
        await uow.session.execute(
            statement.on_conflict_do_update(
                index_elements=["id"], set_={"org_id": event.org_id, "email": event.email, "role": event.role}
            )
        )
        await queue(uow, envelope, [welcome_mail(event, await org_name(uow, event.org_id), portal_url)])

    async def member_role_changed(uow: UnitOfWork, envelope: Envelope) -> None:
        event = envelope.payload_as(MemberRoleChanged)
        await uow.session.execute(
            sa.update(members).where(members.c.id == event.member_id).values(role=event.new_role)
        )

    async def member_removed(uow: UnitOfWork, envelope: Envelope) -> None:
        event = envelope.payload_as(MemberRemoved)
        await uow.session.execute(sa.delete(members).where(members.c.id == event.member_id))

    async def transfer_requested(uow: UnitOfWork, envelope: Envelope) -> None:
        """Kept for the outcome's mail: whom to tell when it completes, who asked if it is rejected."""
        event = envelope.payload_as(TransferRequested)
        await insert_rows(uow.session, transfer_requests, [dict(
            transfer_id=event.transfer_id, from_org_id=event.from_org_id, to_org_id=event.to_org_id,
            requested_by=event.requested_by, notify_representative=event.notify_representative,
            cc_emails=list(event.cc_emails),
        )], on_conflict="ON CONFLICT (transfer_id) DO NOTHING")

    async def take_request(uow: UnitOfWork, transfer_id: uuid.UUID):
        """The request, removed: a transfer has one outcome, and the table stays small."""
        return (
            await uow.session.execute(
                sa.delete(transfer_requests).where(transfer_requests.c.transfer_id == transfer_id).returning(
                    *transfer_requests.c
                )
            )
        ).one_or_none()

    async def transfer_completed(uow: UnitOfWork, envelope: Envelope) -> None:
        event = envelope.payload_as(TransferCompleted)
        request = await take_request(uow, event.transfer_id)
        # The request names the representative; without it (never seen) the receiving org's default.
        recipient = (request.notify_representative if request else None) or await default_representative(
            uow, event.to_org_id
        )
        if not recipient:
            log.warning("transfer completed but the receiving org has no representative to tell",
                        transfer_id=str(event.transfer_id), to_org_id=str(event.to_org_id))
            return
        mail = transfer_completed_mail(
            event,
            recipient=recipient,
            cc=request.cc_emails if request else [],
            from_org_name=await org_name(uow, event.from_org_id),
            to_org_name=await org_name(uow, event.to_org_id),
        )
        await queue(uow, envelope, [mail])

    async def transfer_rejected(uow: UnitOfWork, envelope: Envelope) -> None:
        event = envelope.payload_as(TransferRejected)
        request = await take_request(uow, event.transfer_id)
        requester = None
        if request is not None and request.requested_by is not None:
            requester = await uow.session.scalar(sa.select(members.c.email).where(members.c.id == request.requested_by))
        # The requester; when unknown (a system request, a member since removed) the sender org's Admins.
        recipients = [requester] if requester else await admin_emails(uow, event.from_org_id)
        if not recipients:
            log.warning("transfer rejected but nobody to tell", transfer_id=str(event.transfer_id))
        await queue(uow, envelope, transfer_rejected_mails(event, recipients, await org_name(uow, event.to_org_id)))

    def expiry(contract):
        async def handle(uow: UnitOfWork, envelope: Envelope) -> None:
            event = envelope.payload_as(contract)
            admins = {
                org_id: (await org_name(uow, org_id), await admin_emails(uow, org_id)) for org_id in event.holder_org_ids
            }
            await queue(uow, envelope, expiry_mails(event, admins))

        return handle

    return {
        **ORG_DIRECTORY_HANDLERS,
        InviteCreated.routing_key: invited,
        InviteResent.routing_key: invited,
        MemberCreated.routing_key: member_created,
        MemberRoleChanged.routing_key: member_role_changed,
        MemberRemoved.routing_key: member_removed,
        TransferRequested.routing_key: transfer_requested,
        TransferCompleted.routing_key: transfer_completed,
        TransferRejected.routing_key: transfer_rejected,
        EntitlementExpiringSoon.routing_key: expiry(EntitlementExpiringSoon),
        EntitlementExpired.routing_key: expiry(EntitlementExpired),
    }
