"""Transfer events are handled a consumer batch at a time: many requests and outcomes in one
batch still give exactly one mail per (event, recipient), to the same people as one by one."""

import asyncio
import uuid

import sqlalchemy as sa

from notify.db import settled_transfers, transfer_requests
from notify.handlers import build_event_handlers
from notify.settings import NotifySettings
from shared.db import UnitOfWork
from shared.events.entitlements import TransferCompleted, TransferRejected
from shared.events.envelope import Envelope
from shared.events.identity import MemberCreated
from shared.events.orgs import OrganizationCreated, RepresentativeInfo
from shared.events.transfers import TransferRequested
from shared.testing import eventually


def an_org(name: str, *representatives: tuple[str, bool]) -> OrganizationCreated:
    return OrganizationCreated(
        org_id=uuid.uuid4(), name=name, tier="integrator", parent_id=uuid.uuid4(),
        representatives=[RepresentativeInfo(representative_id=uuid.uuid4(), email=email, is_default=default)
                         for email, default in representatives],
    )


def a_request(sender: OrganizationCreated, receiver: OrganizationCreated, **fields) -> TransferRequested:
    return TransferRequested(transfer_id=uuid.uuid4(), from_org_id=sender.org_id, to_org_id=receiver.org_id,
                             entitlement_id="ENT-B", product_id=uuid.uuid4(), **fields)


def completed(request: TransferRequested) -> TransferCompleted:
    return TransferCompleted(transfer_id=request.transfer_id, from_org_id=request.from_org_id,
                             to_org_id=request.to_org_id, entitlement_id=request.entitlement_id,
                             product_id=request.product_id, product_name="Vision Pro", quantity=2, action="split")


def rejected(request: TransferRequested) -> TransferRejected:
    return TransferRejected(transfer_id=request.transfer_id, from_org_id=request.from_org_id,
                            to_org_id=request.to_org_id, entitlement_id=request.entitlement_id,
                            product_id=request.product_id, reason_code="insufficient_quantity", reason="Not enough.")


def wrap(event) -> Envelope:
    return Envelope.wrap(event, producer="test")


async def recipients_of(notification_rows, app, envelope: Envelope) -> list[tuple[str, list[str]]]:
    return sorted((row.recipient, list(row.cc)) for row in await notification_rows(app, envelope.event_id))


async def test_one_batch_of_requests_and_outcomes_queues_one_mail_per_event_and_recipient(
    mail_server, notify_app, infrastructure, new_email, notification_rows
):
    settings = infrastructure.settings(NotifySettings)
    handlers = build_event_handlers(settings)
    default_rep = new_email("default-rep")
    sender, receiver, no_reps = an_org("Batch Distri"), an_org("Batch Integra", (default_rep, True)), an_org("Nobody Inc")
    requester = MemberCreated(member_id=uuid.uuid4(), org_id=sender.org_id, email=new_email("requester"), role="viewer")
    admin = MemberCreated(member_id=uuid.uuid4(), org_id=sender.org_id, email=new_email("admin"), role="admin")

    chosen = [(new_email(f"chosen{i}"), new_email(f"cc{i}")) for i in range(10)]
    requests = [a_request(sender, receiver, notify_representative=rep, cc_emails=[cc]) for rep, cc in chosen]
    unrequested = a_request(sender, receiver)  # its request never reached notify
    nobody = a_request(sender, no_reps)  # never requested, and the receiving org has no representative
    asked = a_request(sender, receiver, requested_by=requester.member_id)
    system = a_request(sender, receiver)  # rejected, never requested: the sender org's Admins are told

    batch = [wrap(event) for request in requests for event in (request, completed(request))]
    again = wrap(completed(requests[0]))  # a second outcome of a transfer: its request is taken already
    tail = [wrap(completed(unrequested)), wrap(completed(nobody)), wrap(asked), wrap(rejected(asked)),
            wrap(rejected(system)), again]
    async with notify_app(mail_server) as app:
        async with UnitOfWork(app.state.session_factory, producer="notify") as uow:
            for event in (sender, receiver, no_reps, requester, admin):
                await handlers[event.routing_key](uow, wrap(event))
            await uow.commit()
        async with UnitOfWork(app.state.session_factory, producer="notify") as uow:
            await handlers["*.transfer.*"].handle(uow, batch + tail)
            await uow.commit()

        for (rep, cc), envelope in zip(chosen, batch[1::2], strict=True):
            assert await recipients_of(notification_rows, app, envelope) == [(rep, [cc])]
        for envelope in batch[0::2]:  # a request alone calls for no mail
            assert await notification_rows(app, envelope.event_id) == []
        unrequested_done, nobody_done, _, asked_rejected, system_rejected, _ = tail
        assert await recipients_of(notification_rows, app, unrequested_done) == [(default_rep, [])]
        assert await recipients_of(notification_rows, app, again) == [(default_rep, [])]
        assert await notification_rows(app, nobody_done.event_id) == []
        assert await recipients_of(notification_rows, app, asked_rejected) == [(requester.email, [])]
        assert await recipients_of(notification_rows, app, system_rejected) == [(admin.email, [])]

        # The mails go out, each once, to the recipient and the CC.
        for rep, cc in chosen:
            [mail] = await eventually(lambda rep=rep: _received(mail_server, rep))
            assert set(mail.recipients) == {rep, cc}
            assert mail.subject == "2 × Vision Pro transferred to Batch Integra"
        await eventually(lambda: _received(mail_server, default_rep, 2))
        await eventually(lambda: _received(mail_server, admin.email, 2))  # the welcome and the rejection
        await asyncio.sleep(0.3)  # time for a duplicate, were there one, to arrive
    assert all(len(mail_server.to(rep)) == 1 for rep, _ in chosen)
    assert len(mail_server.to(default_rep)) == 2


async def test_requests_and_outcomes_over_the_bus_with_a_redelivery_mail_each_recipient_once(
    mail_server, notify_app, publish, new_email, notification_rows
):
    default_rep = new_email("bus-default")
    sender, receiver = an_org("Bus Distri"), an_org("Bus Integra", (default_rep, True))
    chosen = [new_email(f"bus-chosen{i}") for i in range(20)]
    requests = [a_request(sender, receiver, notify_representative=rep) for rep in chosen]
    async with notify_app(mail_server) as app:
        for event in (sender, receiver):
            await publish(event)
        outcomes = []
        for request in requests:  # published back to back: the consumer takes them in batches
            await publish(request)
            outcomes.append(await publish(completed(request)))
        await publish(outcomes[3])  # delivered again, same event id
        unrequested = await publish(completed(a_request(sender, receiver)))

        for rep in chosen:
            await eventually(lambda rep=rep: _received(mail_server, rep))
        await eventually(lambda: _received(mail_server, default_rep))
        await asyncio.sleep(0.5)  # time for a duplicate, were there one, to arrive
        for rep, outcome in zip(chosen, outcomes, strict=True):
            assert await recipients_of(notification_rows, app, outcome) == [(rep, [])]
        assert await recipients_of(notification_rows, app, unrequested) == [(default_rep, [])]
    assert [len(mail_server.to(rep)) for rep in chosen] == [1] * len(chosen)
    assert len(mail_server.to(default_rep)) == 1


async def test_a_request_that_comes_after_its_outcome_leaves_no_row_behind(
    mail_server, notify_app, infrastructure, new_email, notification_rows
):
    """A request delivered after its outcome (a redelivery, a batch retried alone) would be kept for
    an outcome that has come already, forever. Once it comes, neither it nor anything about its
    transfer is left, as after a request then its outcome; the outcome still mails the default."""
    handlers = build_event_handlers(infrastructure.settings(NotifySettings))
    default_rep, chosen = new_email("late-default"), new_email("late-chosen")
    sender, receiver = an_org("Late Distri"), an_org("Late Integra", (default_rep, True))
    late = a_request(sender, receiver, notify_representative=new_email("never-told"))
    in_order = a_request(sender, receiver, notify_representative=chosen)
    late_outcome, in_order_outcome = wrap(completed(late)), wrap(completed(in_order))
    async with notify_app(mail_server) as app:
        async with UnitOfWork(app.state.session_factory, producer="notify") as uow:
            for event in (sender, receiver):
                await handlers[event.routing_key](uow, wrap(event))
            await uow.commit()
        for batch in ([late_outcome], [wrap(late)], [wrap(in_order)], [in_order_outcome]):
            async with UnitOfWork(app.state.session_factory, producer="notify") as uow:
                await handlers["*.transfer.*"].handle(uow, batch)
                await uow.commit()

        assert await _kept_for(app, late.transfer_id, in_order.transfer_id) == {
            "transfer_requests": [], "settled_transfers": []
        }
        assert await recipients_of(notification_rows, app, late_outcome) == [(default_rep, [])]
        assert await recipients_of(notification_rows, app, in_order_outcome) == [(chosen, [])]


async def test_a_request_and_its_outcome_on_two_replicas_at_once_leave_no_row_behind(
    mail_server, notify_app, infrastructure, new_email, notification_rows
):
    """Two replicas share the queue: one may handle a request while another handles its outcome,
    each in a transaction that cannot see the other's rows. The outcome waits for the request's
    commit, then takes it: the chosen representative is told, and nothing is left."""
    handlers = build_event_handlers(infrastructure.settings(NotifySettings))
    chosen = new_email("replica-chosen")
    sender, receiver = an_org("Replica Distri"), an_org("Replica Integra", (new_email("replica-default"), True))
    request = a_request(sender, receiver, notify_representative=chosen)
    outcome = wrap(completed(request))
    async with notify_app(mail_server) as app:
        async with UnitOfWork(app.state.session_factory, producer="notify") as uow:
            for event in (sender, receiver):
                await handlers[event.routing_key](uow, wrap(event))
            await uow.commit()

        async def other_replica_tells_the_outcome():
            async with UnitOfWork(app.state.session_factory, producer="notify") as uow:
                await handlers["*.transfer.*"].handle(uow, [outcome])
                await uow.commit()

        async with UnitOfWork(app.state.session_factory, producer="notify") as requesting:
            await handlers["*.transfer.*"].handle(requesting, [wrap(request)])
            telling = asyncio.create_task(other_replica_tells_the_outcome())
            await asyncio.sleep(0.3)  # the other replica is at work before the request is committed
            await requesting.commit()
        await telling

        assert await _kept_for(app, request.transfer_id) == {"transfer_requests": [], "settled_transfers": []}
        assert await recipients_of(notification_rows, app, outcome) == [(chosen, [])]


async def _kept_for(app, *transfer_ids: uuid.UUID) -> dict[str, list[uuid.UUID]]:
    """What notify's database still holds about these transfers, table by table."""
    async with app.state.engine.connect() as connection:
        return {table.name: list(await connection.scalars(
            sa.select(table.c.transfer_id).where(table.c.transfer_id.in_(transfer_ids))
        )) for table in (transfer_requests, settled_transfers)}


async def _received(mail_server, address: str, count: int = 1):
    mails = mail_server.to(address)
    return mails if len(mails) >= count else None
