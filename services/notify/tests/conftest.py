"""The notify service on the test infrastructure, a real SMTP server (aiosmtpd) that keeps what it
receives, and a publisher of events on the real bus."""

import contextlib
import socket
import threading
import uuid
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage

import aio_pika
import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from notify.db import notifications
from notify.main import create_app
from notify.settings import NotifySettings
from shared.bus.topology import declare_topology
from shared.events.envelope import Envelope, EventPayload
from shared.events.secrets import EventSecrets
from shared.testing import running

PORTAL_URL = "http://portal.example.test"


@dataclass(frozen=True)
class Received:
    """One message as the SMTP server got it: the envelope recipients and the parsed mail."""

    recipients: tuple[str, ...]
    message: EmailMessage
    connection: tuple  # the client's address: one per SMTP session

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def text(self) -> str:
        return self.message.get_body(("plain",)).get_content()

    def html(self) -> str:
        return self.message.get_body(("html",)).get_content()


class MailServer:
    """An aiosmtpd server on a fixed port that can be stopped and started again, or made to refuse."""

    def __init__(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.received: list[Received] = []
        self.refused = 0
        self.refusing = False
        self.before_next_accept = None  # an async callable, run once just before a mail is accepted
        self.answered = threading.Event()  # set once a mail's "accepted" reply has been written to its client
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    # aiosmtpd handler hooks (called on the controller's own thread and loop)
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refusing:
            with self._lock:
                self.refused += 1
            return "550 5.7.1 Delivery refused by the test"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        hook, self.before_next_accept = self.before_next_accept, None
        if hook is not None:
            await hook()
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self._lock:
            self.received.append(Received(tuple(envelope.rcpt_tos), message, tuple(session.peer)))
        return "250 Message accepted"

    def replied(self, status: str | bytes) -> None:
        if isinstance(status, str) and status.startswith("250 Message accepted"):
            self.answered.set()

    def start(self) -> None:
        self._controller = _Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if address in r.recipients]


class _Controller(Controller):
    def factory(self):
        return _Server(self.handler, **self.SMTP_kwargs)


class _Server(SMTP):
    """aiosmtpd's server, telling the MailServer each reply it has written (then in the client's socket)."""

    async def push(self, status):
        await super().push(status)
        self.event_handler.replied(status)


@pytest.fixture
def mail_server():
    server = MailServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def notify_app(infrastructure, identity_keys_url):
    """Starts notify against the given mail server, with quick retries unless told otherwise."""

    @contextlib.asynccontextmanager
    async def start(server: MailServer, **overrides):
        values = dict(
            smtp_port=server.port, portal_url=PORTAL_URL, send_base_delay=0.05, send_max_delay=0.2,
            sender_poll_interval=0.05, identity_url=identity_keys_url,
        )
        values.update(overrides)
        app = create_app(infrastructure.settings(NotifySettings, **values))
        async with running(app):
            yield app

    return start


@pytest.fixture
async def publish(infrastructure):
    connection = await aio_pika.connect(infrastructure.amqp_url)
    channel = await connection.channel()
    exchange = await declare_topology(channel, "licensing.events")

    secrets = EventSecrets.from_settings(infrastructure.settings(NotifySettings))

    async def publish(event: EventPayload | Envelope, *, producer: str = "test", visible_to=()) -> Envelope:
        """Publishes as a producer's outbox would: secret fields sealed (with notify's default key)."""
        envelope = event if isinstance(event, Envelope) else Envelope.wrap(
            event, producer=producer, visible_to=list(visible_to)
        )
        envelope = secrets.seal_envelope(envelope)
        await exchange.publish(aio_pika.Message(envelope.model_dump_json().encode()), routing_key=envelope.type)
        return envelope

    yield publish
    await connection.close()


@pytest.fixture
def notification_rows():
    """The notification rows of one event, read from notify's database."""

    async def rows(app, event_id: uuid.UUID) -> list:
        async with app.state.engine.connect() as connection:
            result = await connection.execute(
                sa.select(notifications).where(notifications.c.event_id == event_id).order_by(notifications.c.id)
            )
            return list(result)

    return rows


@pytest.fixture
def portal_url() -> str:
    return PORTAL_URL


@pytest.fixture
def new_email():
    """A fresh address per call, so tests sharing the database and the queue never see each other's mail."""
    return lambda name: f"{name}.{uuid.uuid4().hex[:8]}@example.com"
