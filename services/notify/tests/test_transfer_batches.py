"""Transfer outcomes are handled a consumer batch at a time: many outcomes in one batch still give
exactly one mail per (event, recipient), to the people each outcome names, as one by one."""

import asyncio
import uuid

from notify.handlers import build_event_handlers
from notify.settings import NotifySettings
from shared.db import UnitOfWork
from shared.events.entitlements import TransferCompleted, TransferRejected
from shared.events.envelope import Envelope
from shared.events.identity import MemberCreated
from shared.events.orgs import OrganizationCreated, RepresentativeInfo
from shared.testing import eventually


def an_org(name: str, *representatives: tuple[str, bool]) -> OrganizationCreated:
    return OrganizationCreated(
        org_id=uuid.uuid4(), name=name, tier="integrator", parent_id=uuid.uuid4(),
        representatives=[RepresentativeInfo(representative_id=uuid.uuid4(), email=email, is_default=default)
                         for email, default in representatives],
    )


def completed(sender: OrganizationCreated, receiver: OrganizationCreated, **told) -> TransferCompleted:
    return TransferCompleted(transfer_id=uuid.uuid4(), from_org_id=sender.org_id, to_org_id=receiver.org_id,
                             entitlement_id="ENT-B", product_id=uuid.uuid4(), product_name="Vision Pro", quantity=2,
                             action="split", **told)


def rejected(sender: OrganizationCreated, receiver: OrganizationCreated, **told) -> TransferRejected:
    return TransferRejected(transfer_id=uuid.uuid4(), from_org_id=sender.org_id, to_org_id=receiver.org_id,
                            entitlement_id="ENT-B", product_id=uuid.uuid4(), reason_code="insufficient_quantity",
                            reason="Not enough.", **told)


def wrap(event) -> Envelope:
    return Envelope.wrap(event, producer="test")


async def recipients_of(notification_rows, app, envelope: Envelope) -> list[tuple[str, list[str]]]:
    return sorted((row.recipient, list(row.cc)) for row in await notification_rows(app, envelope.event_id))


async def test_one_batch_of_outcomes_queues_one_mail_per_event_and_recipient(
    mail_server, notify_app, infrastructure, new_email, notification_rows
):
    handlers = build_event_handlers(infrastructure.settings(NotifySettings))
    default_rep = new_email("default-rep")
    sender, receiver, no_reps = an_org("Batch Distri"), an_org("Batch Integra", (default_rep, True)), an_org("Nobody Inc")
    requester = MemberCreated(member_id=uuid.uuid4(), org_id=sender.org_id, email=new_email("requester"), role="viewer")
    admin = MemberCreated(member_id=uuid.uuid4(), org_id=sender.org_id, email=new_email("admin"), role="admin")

    chosen = [(new_email(f"chosen{i}"), new_email(f"cc{i}")) for i in range(10)]
    batch = [wrap(completed(sender, receiver, notify_representative=rep, cc_emails=[cc])) for rep, cc in chosen]
    untold = wrap(completed(sender, receiver))  # from before the events said whom to tell: the default
    untold = untold.model_copy(update={"payload": {k: v for k, v in untold.payload.items()
                                                   if k not in ("notify_representative", "cc_emails", "requested_by")}})
    nobody = wrap(completed(sender, no_reps, notify_representative=None))  # the org has no representative
    declined = wrap(completed(sender, receiver, notify_representative=None, cc_emails=[new_email("declined-cc")]))
    asked = wrap(rejected(sender, receiver, requested_by=requester.member_id))
    system = wrap(rejected(sender, receiver))  # nobody asked: the sender org's Admins are told
    tail = [untold, nobody, declined, asked, system, batch[0]]  # the first one delivered again in the batch
    async with notify_app(mail_server) as app:
        async with UnitOfWork(app.state.session_factory, producer="notify") as uow:
            for event in (sender, receiver, no_reps, requester, admin):
                await handlers[event.routing_key](uow, wrap(event))
            await uow.commit()
        async with UnitOfWork(app.state.session_factory, producer="notify") as uow:
            await handlers["entitlements.transfer.*"].handle(uow, batch + tail)
            await uow.commit()

        for (rep, cc), envelope in zip(chosen, batch, strict=True):
            assert await recipients_of(notification_rows, app, envelope) == [(rep, [cc])]
        assert await recipients_of(notification_rows, app, untold) == [(default_rep, [])]
        assert await notification_rows(app, nobody.event_id) == []
        assert await notification_rows(app, declined.event_id) == []
        assert await recipients_of(notification_rows, app, asked) == [(requester.email, [])]
        assert await recipients_of(notification_rows, app, system) == [(admin.email, [])]

        # The mails go out, each once, to the recipient and the CC.
        for rep, cc in chosen:
            [mail] = await eventually(lambda rep=rep: _received(mail_server, rep))
            assert set(mail.recipients) == {rep, cc}
            assert mail.subject == "2 × Vision Pro transferred to Batch Integra"
        await eventually(lambda: _received(mail_server, default_rep))
        await eventually(lambda: _received(mail_server, admin.email, 2))  # the welcome and the rejection
        await asyncio.sleep(0.3)  # time for a duplicate, were there one, to arrive
    assert all(len(mail_server.to(rep)) == 1 for rep, _ in chosen)
    assert len(mail_server.to(default_rep)) == 1


async def test_outcomes_over_the_bus_with_a_redelivery_mail_each_recipient_once(
    mail_server, notify_app, publish, new_email, notification_rows
):
    sender, receiver = an_org("Bus Distri"), an_org("Bus Integra", (new_email("bus-default"), True))
    chosen = [new_email(f"bus-chosen{i}") for i in range(20)]
    async with notify_app(mail_server) as app:
        for event in (sender, receiver):
            await publish(event)
        outcomes = []
        for rep in chosen:  # published back to back: the consumer takes them in batches
            outcomes.append(await publish(completed(sender, receiver, notify_representative=rep)))
        await publish(outcomes[3])  # delivered again, same event id

        for rep in chosen:
            await eventually(lambda rep=rep: _received(mail_server, rep))
        await asyncio.sleep(0.5)  # time for a duplicate, were there one, to arrive
        for rep, outcome in zip(chosen, outcomes, strict=True):
            assert await recipients_of(notification_rows, app, outcome) == [(rep, [])]
    assert [len(mail_server.to(rep)) for rep in chosen] == [1] * len(chosen)


async def _received(mail_server, address: str, count: int = 1):
    mails = mail_server.to(address)
    return mails if len(mails) >= count else None
