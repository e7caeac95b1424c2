"""An invite end to end through the public API, with its token sealed on the way (shared.events.secrets):
identity's outbox and notify's queued notification hold no plain token, the mail at the SMTP server
carries the working link, and the invitee accepts with it and signs in."""

import json
import re
import socket
import threading
from email import message_from_string, policy
from urllib.parse import unquote_plus

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from notify.db import notifications
from shared.testing import eventually, isolated_infrastructure
from tests.system.platform import ADMIN_EMAIL, PASSWORD, running_platform, unique_email

pytestmark = [pytest.mark.system, pytest.mark.timeout(240)]

# Quick retries, so the mail goes out soon after the SMTP server starts.
MAIL_SETTINGS = {"db_pool_size": 3, "send_base_delay": 0.05, "send_max_delay": 0.5, "send_max_attempts": 100,
                 "sender_poll_interval": 0.05, "smtp_probe_interval": 0.1}


class MailSink:
    """An SMTP server (aiosmtpd) that keeps the raw mail it receives; started when the test says."""

    def __init__(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.received: list[tuple[list[str], str]] = []
        self._lock = threading.Lock()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            self.received.append((list(envelope.rcpt_tos), envelope.content.decode("utf-8", "replace")))
        return "250 Message accepted"

    def to(self, address: str) -> list[str]:
        with self._lock:
            return [content for recipients, content in self.received if address in recipients]


async def test_an_invite_is_mailed_with_a_working_link_and_stored_nowhere_in_plain(infrastructure):
    sink = MailSink()
    async with (isolated_infrastructure(infrastructure) as own,
                running_platform(own, smtp_port=sink.port, service_settings=MAIL_SETTINGS) as platform):
        vendor = await platform.sign_in(ADMIN_EMAIL)
        email = unique_email("invitee")
        answer = await vendor.post("/api/v1/invites", json={"email": email, "role": "viewer"})
        assert answer.status_code == 201, answer.text
        assert "token" not in answer.json()
        invite_id = answer.json()["id"]

        async def queued_notification():  # no SMTP server yet: the mail waits, queued
            async with platform.apps["notify"].state.engine.connect() as conn:
                return (await conn.execute(sa.select(sa.cast(notifications.c.context, sa.Text), notifications.c.state)
                                           .where(notifications.c.recipient == email))).all()

        [(stored_context, state)] = await eventually(queued_notification)
        assert state == "queued"
        async with platform.apps["identity"].state.engine.connect() as conn:
            [outbox_body] = (await conn.execute(sa.text(
                "SELECT body::text FROM outbox WHERE body->'payload'->>'invite_id' = :id"), {"id": invite_id})).scalars()

        sink.start()
        try:
            [mail] = await eventually(lambda: _async(sink.to(email)))
        finally:
            sink.stop()
        text = message_from_string(mail, policy=policy.default).get_body(("plain",)).get_content()
        link = re.search(r"(\S+)/accept-invite\?token=(\S+)", text)
        assert link is not None, text
        token = unquote_plus(link.group(2))
        assert link.group(1) == platform.apps["notify"].state.settings.portal_url.rstrip("/")
        for stored in (stored_context, outbox_body):
            assert token not in stored and json.loads(stored)  # JSON, and no plain token in it

        accepted = await platform.http.post("/api/v1/invites/accept", json={
            "token": token, "first_name": "Ada", "last_name": "Lovelace", "password": PASSWORD})
        assert accepted.status_code == 201, accepted.text
        member = await platform.sign_in(email)  # signs in: the invite made the member
        await member.aclose()
        await vendor.aclose()


async def _async(value):
    return value
