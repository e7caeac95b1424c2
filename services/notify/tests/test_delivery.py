"""Exactly one email per event and recipient: redelivery sends nothing more, an SMTP outage delays
mail without losing or duplicating any, nor does losing the database connections while a mail is
out, a server that keeps refusing ends in the dead letter, and a stopped notify sends no more."""

import asyncio
import threading
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import async_sessionmaker

from notify.db import notifications
from notify import sender as sender_module
from notify.handlers import build_event_handlers
from notify.sender import Mailer, Sender
from notify.settings import NotifySettings
from shared.db import UnitOfWork, create_engine
from shared.events.envelope import Envelope
from shared.events.identity import InviteCreated, MemberCreated
from shared.events.secrets import EventSecrets
from shared.settings import ServiceSettings
from shared.testing import eventually


def an_invite(email: str) -> Envelope:
    event = InviteCreated(invite_id=uuid.uuid4(), org_id=uuid.uuid4(), email=email, role="viewer",
                          token=uuid.uuid4().hex, expires_at=datetime.now(UTC) + timedelta(days=3))
    return EventSecrets.from_settings(ServiceSettings()).seal_envelope(Envelope.wrap(event, producer="identity"))


async def test_a_redelivered_event_sends_no_second_mail(
    mail_server, notify_app, publish, new_email, notification_rows
):
    email = new_email("once")
    invite = an_invite(email)
    async with notify_app(mail_server) as app:
        await publish(invite)
        await eventually(lambda: _count(mail_server, email, 1))
        await publish(invite)  # the broker delivers it again, same event id
        await publish(invite)
        later = await publish(an_invite(new_email("later")))  # handled after the redeliveries
        await eventually(lambda: _state_is(notification_rows, app, later.event_id, "sent"))
        await asyncio.sleep(0.3)  # time for a duplicate, were there one, to arrive
        [row] = await notification_rows(app, invite.event_id)
    assert len(mail_server.to(email)) == 1
    assert (row.state, row.attempts, row.recipient) == ("sent", 1, email)
    assert "invite_token" not in row.context  # the (sealed) token is not kept once the mail is out


async def test_handling_the_same_event_twice_queues_one_notification(
    mail_server, notify_app, infrastructure, new_email, notification_rows
):
    """Even past the inbox (its own guard), the table holds one row per event and recipient."""
    email = new_email("twice")
    invite = an_invite(email)
    async with notify_app(mail_server) as app:
        handler = build_event_handlers(infrastructure.settings(NotifySettings))[invite.type]
        for _ in range(2):
            async with UnitOfWork(app.state.session_factory, producer="notify") as uow:
                await handler(uow, invite)
                await uow.commit()
        await eventually(lambda: _count(mail_server, email, 1))
        await asyncio.sleep(0.3)
        assert len(await notification_rows(app, invite.event_id)) == 1
    assert len(mail_server.to(email)) == 1


async def test_a_burst_of_mail_goes_out_over_a_few_kept_connections(
    mail_server, notify_app, infrastructure, new_email
):
    """Each sender lane keeps its SMTP connection while mail keeps coming, rather than connecting
    (and saying goodbye) once per mail."""
    emails = [new_email(f"burst{i}") for i in range(12)]
    async with notify_app(mail_server, sender_concurrency=2) as app:
        handler = build_event_handlers(infrastructure.settings(NotifySettings))[InviteCreated.routing_key]
        async with UnitOfWork(app.state.session_factory, producer="notify") as uow:
            for email in emails:  # all due at once
                await handler(uow, an_invite(email))
            await uow.commit()
        await eventually(lambda: _all_delivered(mail_server, emails))
    assert len({mail.connection for email in emails for mail in mail_server.to(email)}) <= 2


async def _all_delivered(mail_server, emails) -> bool:
    return all(len(mail_server.to(email)) == 1 for email in emails)


async def test_mail_waits_while_the_smtp_server_is_down_and_goes_out_once_when_it_is_back(
    mail_server, notify_app, publish, new_email, notification_rows
):
    mail_server.stop()
    emails = [new_email(f"outage-{i}") for i in range(3)]
    # Backoff grows to a minute, but the server is probed every 0.1 s: the mail goes out when it is
    # back, not when the backoff ends.
    settings = dict(send_max_attempts=100, send_base_delay=0.05, send_max_delay=60, smtp_probe_interval=0.1)
    async with notify_app(mail_server, **settings) as app:
        invites = [await publish(an_invite(email)) for email in emails]

        async def rows():
            return [row for invite in invites for row in await notification_rows(app, invite.event_id)]

        async def backing_off():
            found = await rows()
            soon = datetime.now(UTC) + timedelta(seconds=1)
            return len(found) == 3 and all(
                r.state == "queued" and r.attempts >= 6 and r.server_unreachable and r.next_attempt_at > soon
                for r in found
            )

        await eventually(backing_off)
        assert mail_server.received == []
        next_retry = min(row.next_attempt_at for row in await rows())
        mail_server.start()  # back, on the same port
        for email in emails:
            await eventually(lambda: _count(mail_server, email, 1))
        assert datetime.now(UTC) < next_retry
        await asyncio.sleep(0.5)
        sent = await rows()
    assert all(len(mail_server.to(email)) == 1 for email in emails)
    assert len(mail_server.received) == 3
    assert [row.state for row in sent] == ["sent"] * 3 and all(row.attempts >= 7 for row in sent)


async def test_database_connections_lost_while_a_mail_is_out_do_not_send_it_twice(
    mail_server, notify_app, publish, new_email, notification_rows, infrastructure
):
    """Found by the chaos run (seed 1): PostgreSQL terminated notify's connections between the SMTP
    server's 250 and the recorded outcome, and the mail went out again."""
    database = f"{infrastructure.database_prefix}_notify"

    async def terminate_notify_connections():
        conn = await asyncpg.connect(f"{infrastructure.postgres_dsn.replace('+asyncpg', '')}/postgres")
        try:
            await conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", database)
        finally:
            await conn.close()

    email = new_email("connection-lost")
    mail_server.before_next_accept = terminate_notify_connections
    async with notify_app(mail_server) as app:
        invite = await publish(an_invite(email))
        await eventually(lambda: _state_is(notification_rows, app, invite.event_id, "sent"))
        await asyncio.sleep(0.5)  # time for a second mail, were there one, to arrive
    assert mail_server.before_next_accept is None  # the connections were terminated mid-send
    assert len(mail_server.to(email)) == 1


async def test_a_refusing_server_is_retried_then_the_mail_is_a_dead_letter(
    mail_server, notify_app, publish, new_email, notification_rows
):
    mail_server.refusing = True
    email = new_email("refused")
    async with notify_app(mail_server, send_max_attempts=4) as app:
        invite = await publish(an_invite(email))
        await eventually(lambda: _state_is(notification_rows, app, invite.event_id, "failed"))
        await asyncio.sleep(0.3)  # no attempt after the last
        [row] = await notification_rows(app, invite.event_id)
        metrics = (await _get(app, "/metrics")).text
    assert row.attempts == 4 and "550" in row.last_error
    assert mail_server.refused == 4 and mail_server.received == []
    assert 'notifications_total{outcome="failed"}' in metrics


async def test_notify_stopped_as_the_server_accepts_a_mail_stops_sending_for_good(
    mail_server, notify_app, publish, new_email
):
    """On a loaded machine the server's reply and the stop come in the same turn of the event loop,
    and Python 3.11's wait_for (aiosmtplib's) returns the reply, losing the cancellation: the lane
    went on claiming mail after its app had stopped, with that app's settings (a later test's dead
    letter ended with that app's retry limit). Stopping must still end every lane: a worker left
    running fails the app's exit (shared.testing.running)."""
    email = new_email("stopping")
    held, release = threading.Event(), threading.Event()

    async def hold():  # on the mail server's thread: notify waits for the reply to its mail
        held.set()
        await asyncio.to_thread(release.wait)

    async def waiting_for_the_reply() -> bool:
        return held.is_set()

    mail_server.before_next_accept = hold
    others = set(_running_sender_code())  # another test's app still running in this event loop
    async with notify_app(mail_server):
        await publish(an_invite(email))
        await eventually(waiting_for_the_reply)
        release.set()
        # Blocks notify's event loop, as a loaded machine does, until the reply is in its socket: the
        # reply and the stop that follows are handled in the same turn.
        assert mail_server.answered.wait(timeout=10)
    assert len(mail_server.to(email)) == 1
    assert set(_running_sender_code()) - others == set()


def _running_sender_code() -> list[asyncio.Task]:
    """The tasks of this event loop running the sender's code (notify/sender.py), of any app."""
    codes = {task: getattr(task.get_coro(), "cr_code", None) for task in asyncio.all_tasks()}  # None: not Python
    return [task for task, code in codes.items() if code is not None and code.co_filename == sender_module.__file__]


async def test_a_claimed_batch_is_handed_back_untried_once_the_server_cannot_be_reached(
    mail_server, infrastructure, new_email
):
    """A lane claims NOTIFY_SENDER_BATCH rows at once; when the first finds the server down, the
    rest are not tried against it but handed back: due again at once, their attempts unchanged."""
    settings = infrastructure.settings(NotifySettings, smtp_port=mail_server.port, sender_batch=5)
    engine = create_engine(settings.resolved_database_url())
    session_factory = async_sessionmaker(engine, expire_on_commit=False)
    handler = build_event_handlers(settings)[MemberCreated.routing_key]
    welcomes = [Envelope.wrap(MemberCreated(member_id=uuid.uuid4(), org_id=uuid.uuid4(), email=new_email(f"claim{i}"),
                                            role="viewer"), producer="identity") for i in range(settings.sender_batch)]
    mine = notifications.c.event_id.in_([envelope.event_id for envelope in welcomes])
    try:
        async with UnitOfWork(session_factory, producer="notify") as uow:
            for envelope in welcomes:
                await handler(uow, envelope)  # queues a welcome mail
            # Due before any other test's rows, so that the claim takes exactly these.
            await uow.session.execute(sa.update(notifications).where(mine).values(next_attempt_at=datetime(2000, 1, 1, tzinfo=UTC)))
            await uow.commit()
        mail_server.stop()
        sender = Sender(settings, session_factory)
        mailer = Mailer(sender._smtp_client)
        assert await sender.send_due(mailer)
        mailer.abort()
        async with engine.connect() as connection:
            rows = (await connection.execute(sa.select(notifications, sa.func.now().label("db_now")).where(mine))).all()
    finally:
        async with engine.begin() as connection:
            await connection.execute(sa.delete(notifications).where(mine))  # no mail left due for other tests
        await engine.dispose()
    [tried] = [row for row in rows if row.attempts]
    assert tried.state == "queued" and tried.attempts == 1 and tried.server_unreachable
    assert tried.next_attempt_at > tried.db_now  # its backoff
    untried = [row for row in rows if row is not tried]
    assert len(untried) == settings.sender_batch - 1
    assert all(row.state == "queued" and row.attempts == 0 and row.last_error is None for row in untried)
    assert all(row.next_attempt_at <= row.db_now for row in untried)  # not kept leased: due again now
    assert mail_server.received == []


async def _count(mail_server, email: str, expected: int) -> bool:
    return len(mail_server.to(email)) == expected


async def _state_is(notification_rows, app, event_id: uuid.UUID, state: str) -> bool:
    try:
        rows = await notification_rows(app, event_id)
    except DBAPIError:  # the test's own read was cut by the connections it has PostgreSQL terminate
        return False
    return bool(rows) and all(row.state == state for row in rows)


async def _get(app, path: str):
    import httpx

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notify") as client:
        return await client.get(path)
