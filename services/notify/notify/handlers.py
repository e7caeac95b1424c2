"""Notify reacts to events: it keeps the local copies it needs to address mail, and for each event
that calls for mail it queues one notification per recipient. It never sends here: the handler runs
inside the consumer's transaction, and the sender (notify.sender) picks the rows up once committed."""

import uuid
from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.ext.asyncio import async_sessionmaker

from notify.db import members, notifications, of_org, org_directory
from notify.domain.mails import (
    Mail,
    expiry_mails,
    invite_mail,
    license_user_mail,
    transfer_completed_mail,
    transfer_rejected_mails,
    welcome_mail,
)
from notify.metrics import NOTIFICATIONS
from notify.settings import NotifySettings
from shared.auth.member_tokens import MEMBER_TOKEN_HANDLERS
from shared.auth.permissions import Role
from shared.bulk_insert import insert_rows
from shared.bus.consumer import BatchHandler, EventHandler, handling
from shared.db import DriverStatement, UnitOfWork, array_params
from shared.events.entitlements import EntitlementExpired, EntitlementExpiringSoon, TransferCompleted, TransferRejected
from shared.events.envelope import Envelope
from shared.events.devices import LicenseUserAssigned, LicenseUserPasswordSet
from shared.events.identity import InviteCreated, InviteResent, MemberCreated, MemberRemoved, MemberRoleChanged
from shared.events.secrets import EventSecrets, SecretUnreadable
from shared.logging import get_logger
from shared.org_directory import ORG_DIRECTORY_HANDLERS
from shared.problems import Problem

log = get_logger(__name__)


async def queue(uow: UnitOfWork, envelope: Envelope, mails: list[Mail]) -> None:
    await queue_all(uow, [(envelope, mail) for mail in mails])


async def queue_all(uow: UnitOfWork, mails: list[tuple[Envelope, Mail]]) -> None:
    """One row per (event, recipient), all in one insert; a second insert for the same pair changes nothing."""
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
        for envelope, mail in mails
    ]
    inserted = await insert_rows(uow, notifications, rows,
                                 on_conflict="ON CONFLICT ON CONSTRAINT notifications_one_per_event_and_recipient DO NOTHING",
                                 returning=["id"])
    NOTIFICATIONS.labels("queued").inc(len(inserted))


async def org_name(uow: UnitOfWork, org_id: uuid.UUID) -> str | None:
    return await uow.session.scalar(sa.select(org_directory.c.name).where(org_directory.c.id == org_id))


async def admin_emails(uow: UnitOfWork, org_id: uuid.UUID) -> list[str]:
    result = await uow.session.scalars(
        sa.select(members.c.email)
        .where(members.c.org_id == org_id, members.c.role == Role.ADMIN.value)
        .order_by(members.c.email)
    )
    return list(result)


OUTCOMES = {TransferCompleted.routing_key: TransferCompleted, TransferRejected.routing_key: TransferRejected}


async def transfer_outcomes(uow: UnitOfWork, envelopes: list[Envelope]) -> None:
    """The transfer outcomes of a batch, a few statements whatever its size. Each outcome says
    whom to tell (copied from the request by entitlements): a completed transfer mails the
    representative the sender chose, with the CCs, or nobody when the sender asked for no mail;
    a rejected one mails the member who asked."""
    outcomes = [(e, e.payload_as(OUTCOMES[e.type])) for e in envelopes if e.type in OUTCOMES]
    if not outcomes:
        return
    orgs = {row.id: row for row in await uow.fetch(
        _ORGS, {"ids": list({org_id for _, event in outcomes for org_id in (event.from_org_id, event.to_org_id)})}
    )}
    rejected = [(envelope, event) for envelope, event in outcomes if isinstance(event, TransferRejected)]
    rejected_recipients = await _rejected_recipients(uow, rejected) if rejected else {}
    mails = []
    for envelope, event in outcomes:
        if isinstance(event, TransferCompleted):
            mail = _completed_mail(envelope, event, orgs)
            if mail is not None:
                mails.append((envelope, mail))
        else:
            recipients = rejected_recipients[envelope.event_id]
            mails += [(envelope, mail) for mail in
                      transfer_rejected_mails(event, recipients, orgs[event.to_org_id].name)]
    await queue_all(uow, mails)


def _completed_mail(envelope: Envelope, event: TransferCompleted, orgs: dict) -> Mail | None:
    if "notify_representative" in event.model_fields_set:
        recipient, cc = event.notify_representative, event.cc_emails
        if recipient is None:  # the sender declined the notification: nobody is mailed, not the CCs either
            return None
    else:  # an outcome from before the events said whom to tell: the receiving org's default
        recipient, cc = orgs[event.to_org_id].default_representative, []
    if not recipient:
        with handling(envelope):
            log.warning("transfer completed but the receiving org has no representative to tell",
                        transfer_id=str(event.transfer_id), to_org_id=str(event.to_org_id))
        return None
    return transfer_completed_mail(
        event,
        recipient=recipient,
        cc=cc,
        from_org_name=orgs[event.from_org_id].name,
        to_org_name=orgs[event.to_org_id].name,
    )


async def _rejected_recipients(uow: UnitOfWork, rejected: list[tuple[Envelope, TransferRejected]]
                               ) -> dict[uuid.UUID, list[str]]:
    """Event id -> whom to tell: the requester; when unknown (a system request, a member since
    removed) the sender org's Admins."""
    requester_ids = list({event.requested_by for _, event in rejected if event.requested_by is not None})
    emails = dict((await uow.session.execute(
        sa.select(members.c.id, members.c.email).where(members.c.id.in_(requester_ids))
    )).all()) if requester_ids else {}
    requesters = {envelope.event_id: emails.get(event.requested_by) for envelope, event in rejected}
    admins: dict[uuid.UUID, list[str]] = {}
    without = list({event.from_org_id for envelope, event in rejected if not requesters[envelope.event_id]})
    if without:
        for org_id, email in await uow.session.execute(
            sa.select(members.c.org_id, members.c.email)
            .where(members.c.org_id.in_(without), members.c.role == Role.ADMIN.value)
            .order_by(members.c.email)
        ):
            admins.setdefault(org_id, []).append(email)
    recipients = {}
    for envelope, event in rejected:
        requester = requesters[envelope.event_id]
        recipients[envelope.event_id] = [requester] if requester else admins.get(event.from_org_id, [])
        if not recipients[envelope.event_id]:
            with handling(envelope):
                log.warning("transfer rejected but nobody to tell", transfer_id=str(event.transfer_id))
    return recipients


# Each org's name and default representative, either None when unknown.
_ORGS = DriverStatement(sa.text(
    "SELECT u.id, o.name, (SELECT r.email FROM org_directory_representatives r"
    " WHERE r.org_id = u.id AND r.is_default LIMIT 1) AS default_representative"
    " FROM unnest(:ids) AS u(id) LEFT JOIN org_directory o ON o.id = u.id"
).bindparams(*array_params(ids=UUID(as_uuid=True))))


async def retry_notification(session_factory: async_sessionmaker, notification_id: uuid.UUID,
                             org_id: uuid.UUID) -> None:
    """Queues a failed notification of the org again, with a fresh budget of attempts."""
    async with session_factory() as session, session.begin():
        state = await session.scalar(
            sa.select(notifications.c.state).where(notifications.c.id == notification_id, of_org(org_id))
            .with_for_update()
        )
        if state is None:
            raise Problem(404, "No such notification in your organization.")
        if state != "failed":
            raise Problem(409, f"Only a failed notification can be retried; this one is {state}.")
        await session.execute(
            sa.update(notifications).where(notifications.c.id == notification_id)
            .values(state="queued", attempts=0, next_attempt_at=sa.func.now())
        )


def build_event_handlers(settings: NotifySettings) -> Mapping[str, EventHandler | BatchHandler]:
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

    def expiry(contract):
        async def handle(uow: UnitOfWork, envelope: Envelope) -> None:
            event = envelope.payload_as(contract)
            admins = {
                org_id: (await org_name(uow, org_id), await admin_emails(uow, org_id)) for org_id in event.holder_org_ids
            }
            await queue(uow, envelope, expiry_mails(event, admins))

        return handle

    def license_user_credentials(contract):
        async def handle(uow: UnitOfWork, envelope: Envelope) -> None:
            event = envelope.payload_as(contract)
            await queue(uow, envelope, [license_user_mail(event, await org_name(uow, event.org_id))])

        return handle

    return {
        **ORG_DIRECTORY_HANDLERS,
        LicenseUserAssigned.routing_key: license_user_credentials(LicenseUserAssigned),
        LicenseUserPasswordSet.routing_key: license_user_credentials(LicenseUserPasswordSet),
        **MEMBER_TOKEN_HANDLERS,
        InviteCreated.routing_key: invited,
        InviteResent.routing_key: invited,
        MemberCreated.routing_key: member_created,
        MemberRoleChanged.routing_key: member_role_changed,
        MemberRemoved.routing_key: member_removed,
        # entitlements.transfer.completed and .rejected, a batch at a time.
        "entitlements.transfer.*": BatchHandler(transfer_outcomes),
        EntitlementExpiringSoon.routing_key: expiry(EntitlementExpiringSoon),
        EntitlementExpired.routing_key: expiry(EntitlementExpired),
    }
