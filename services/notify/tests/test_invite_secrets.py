"""An invite's token reaches notify sealed (shared.events.secrets): its stored notification holds
the sealed form only, the mail carries the working link, and a notify whose EVENT_SECRETS_KEY
cannot open the token refuses the event, which ends in the dead-letter queue whole, to be moved
back once the key is right."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import aio_pika
from cryptography.fernet import Fernet

from shared.bus.topology import CONSUMERS
from shared.events.devices import LicenseUserAssigned
from shared.events.envelope import Envelope
from shared.events.identity import InviteCreated, MemberCreated
from shared.events.secrets import EventSecrets
from shared.settings import DEVELOPMENT_EVENT_SECRETS_KEY
from shared.testing import eventually


def an_invite(email: str, token: str) -> InviteCreated:
    return InviteCreated(invite_id=uuid.uuid4(), org_id=uuid.uuid4(), email=email, role="viewer", token=token,
                         expires_at=datetime.now(UTC) + timedelta(days=3))


async def test_the_stored_notification_holds_the_token_sealed_and_the_mail_the_working_link(
    mail_server, notify_app, publish, new_email, notification_rows, portal_url
):
    email, token = new_email("sealed"), uuid.uuid4().hex
    mail_server.stop()  # the mail waits, so its row can be read before it is sent
    async with notify_app(mail_server, send_max_attempts=100) as app:
        envelope = await publish(an_invite(email, token))
        [row] = await eventually(lambda: notification_rows(app, envelope.event_id))
        assert row.state == "queued"
        assert token not in json.dumps(row.context) and "accept_url" not in row.context
        assert EventSecrets.from_settings(app.state.settings).open(row.context["invite_token"]) == token

        mail_server.start()
        [mail] = await eventually(lambda: _mails(mail_server, email))
        [row] = await eventually(lambda: _sent(notification_rows, app, envelope.event_id))
    assert f"{portal_url}/accept-invite?token={token}" in mail.text()
    assert "invite_token" not in row.context and token not in json.dumps(row.context)


async def test_a_notify_that_cannot_open_the_token_dead_letters_the_event_and_keeps_going(
    mail_server, notify_app, publish, new_email, notification_rows, infrastructure
):
    """The rule: the handler refuses the event (logged), the consumer retries it alone, and past the
    delivery limit the broker moves it, sealed token intact, to notify.events.dead-letter. With the
    key back in EVENT_SECRETS_KEY (here after a rotation: new key first, old one after), the
    dead-lettered message published again is mailed."""
    email, token = new_email("wrong-key"), uuid.uuid4().hex
    other_key = Fernet.generate_key().decode()
    async with notify_app(mail_server, event_secrets_key=other_key) as app:
        refused = await publish(an_invite(email, token))  # sealed with the default key
        welcomed = await publish(MemberCreated(member_id=uuid.uuid4(), org_id=uuid.uuid4(),
                                               email=new_email("welcomed"), role="viewer"))
        dead = await _dead_lettered(infrastructure, refused.event_id)
        await eventually(lambda: _mails(mail_server, welcomed.payload["email"]))  # the consumer kept going
        assert await notification_rows(app, refused.event_id) == []
    assert Envelope.model_validate_json(dead) == refused  # the whole event, its token still sealed
    assert token not in dead.decode()

    async with notify_app(mail_server, event_secrets_key=f"{other_key},{DEVELOPMENT_EVENT_SECRETS_KEY}"):
        await publish(Envelope.model_validate_json(dead))
        [mail] = await eventually(lambda: _mails(mail_server, email))
    assert f"accept-invite?token={token}" in mail.text()


async def _dead_lettered(infrastructure, event_id: uuid.UUID) -> bytes:
    """The body of the event's message once it is in notify's dead-letter queue (taken off it)."""
    connection = await aio_pika.connect(infrastructure.amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.get_queue(CONSUMERS["notify"].dead_letter_name)

        async def taken() -> bytes | None:
            others = []
            try:
                while (message := await queue.get(fail=False)) is not None:
                    if message.message_id == str(event_id) or str(event_id) in message.body.decode(errors="replace"):
                        await message.ack()
                        return message.body
                    others.append(message)
            finally:
                for other in others:  # another test's dead letter: left where it was
                    await other.nack(requeue=True)
            return None

        return await eventually(taken, timeout=30)
    finally:
        await connection.close()


async def _mails(mail_server, address: str):
    return mail_server.to(address)


async def _sent(notification_rows, app, event_id):
    rows = await notification_rows(app, event_id)
    return rows if rows and rows[0].state == "sent" else None


async def test_a_license_users_initial_password_is_mailed_and_stored_only_sealed(
    mail_server, notify_app, publish, new_email, notification_rows
):
    email, password = new_email("license-user"), uuid.uuid4().hex
    async with notify_app(mail_server) as app:
        envelope = await publish(LicenseUserAssigned(
            license_user_id=uuid.uuid4(), license_id=uuid.uuid4(), org_id=uuid.uuid4(), email=email,
            activation_cap=2, product_name="Edge", project_name="Ward 3", initial_password=password))
        [mail] = await eventually(lambda: _mails(mail_server, email))
        [row] = await eventually(lambda: _sent(notification_rows, app, envelope.event_id))
    assert mail.subject == "Your access to Edge (Ward 3)"
    assert f"Password: {password}" in mail.text() and email in mail.text()
    assert password not in json.dumps(row.context)
