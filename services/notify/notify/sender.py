"""The sender: a background worker that sends the queued notifications over SMTP.

Each lane claims one due row at a time (FOR UPDATE SKIP LOCKED, so lanes and replicas never take
the same row) and leases it: in that same short transaction its next attempt moves past the
longest a send can take. Then it sends, with no transaction open, and records the outcome in a
new one, retried on a fresh connection until it is written. So a database connection lost while
the mail is out (PostgreSQL restarted, connections terminated) neither loses the claim nor sends
the mail twice. A failure schedules the next attempt with exponential backoff; after the last one
the row is `failed`, the dead letter (logged and counted). While the SMTP server is down rows
simply wait; idle lanes check every `smtp_probe_interval` whether it is back, and when it is (or
when any mail goes through) the rows that could not reach it are due at once rather than at the
end of a long backoff.

The trade-off: SMTP has no idempotency key, so a crash of this process between the server's
"250 OK" and the recorded outcome sends that one mail again when the lease ends. The Message-ID
stays the same for a resend, so mail clients that fold duplicates show it once.
"""

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import aiosmtplib
import jinja2
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notify.db import notifications
from notify.domain.mails import SEALED_CONTEXT_KEYS, template_context
from notify.domain.retry import is_last_attempt, retry_delay
from notify.metrics import NOTIFICATIONS
from notify.rendering import Outgoing, compose
from notify.settings import NotifySettings
from shared.cancellation import cancel_requested, raise_if_cancelled
from shared.db import DriverConnection, DriverStatement, array_params, driver_connection
from shared.events.secrets import EventSecrets
from shared.logging import get_logger

log = get_logger(__name__)

# Values only needed to send (the invite's sealed token; the plain link of rows queued before
# tokens were sealed) are dropped once the mail is out.
_SECRET_CONTEXT_KEYS = ("accept_url", *SEALED_CONTEXT_KEYS)

# The statements of every mail, built once (building one and working out its cache key costs about
# as much as running it) and run on the driver (shared.db.DriverStatement): each
# is one statement, atomic by itself, without BEGIN and COMMIT.
_due = (
    sa.select(notifications.c.id)
    .where(notifications.c.state == "queued", notifications.c.next_attempt_at <= sa.func.now())
    .order_by(notifications.c.next_attempt_at, notifications.c.id)
    .limit(sa.bindparam("limit"))
    .with_for_update(skip_locked=True)
    .scalar_subquery()
)
# Not "unreachable" while leased: waking those rows must not hand these to another lane.
_CLAIM = DriverStatement(
    sa.update(notifications)
    .where(notifications.c.id.in_(_due))
    .values(next_attempt_at=sa.func.now() + sa.bindparam("lease", type_=sa.Interval), server_unreachable=False)
    .returning(*notifications.c)
)
_this_one = notifications.c.id == sa.bindparam("notification_id")
_SENT = DriverStatement(
    sa.update(notifications)
    .where(_this_one)
    .values(
        state="sent",
        sent_at=sa.func.now(),
        attempts=notifications.c.attempts + 1,
        last_error=None,
        server_unreachable=False,
        context=notifications.c.context.op("-", return_type=JSONB)(
            sa.cast(sa.literal(list(_SECRET_CONTEXT_KEYS)), sa.ARRAY(sa.Text))
        ),
    )
)


_RETRY_LATER = DriverStatement(
    sa.update(notifications)
    .where(_this_one)
    .values(attempts=sa.bindparam("attempts"), last_error=sa.bindparam("error"),
            server_unreachable=sa.bindparam("unreachable"), next_attempt_at=sa.bindparam("next_attempt_at"))
)
_GIVE_UP = DriverStatement(
    sa.update(notifications)
    .where(_this_one)
    .values(state="failed", attempts=sa.bindparam("attempts"), last_error=sa.bindparam("error"))
)
# Claimed rows not tried: due again at once, for whichever lane comes first.
_HAND_BACK = DriverStatement(
    sa.update(notifications)
    .where(notifications.c.id == sa.any_(array_params(ids=UUID(as_uuid=True))[0]), notifications.c.state == "queued")
    .values(next_attempt_at=sa.func.now())
)


class Sender:
    def __init__(self, settings: NotifySettings, session_factory: async_sessionmaker[AsyncSession]):
        self.settings = settings
        self._session_factory = session_factory
        self._engine = session_factory.kw["bind"]
        self._server_down = False  # an attempt of this process could not reach the server
        self._last_probe = 0.0

    async def run(self) -> None:
        """Runs the lanes until one fails (its error is raised, and the worker restarted) or until
        cancelled. Not a TaskGroup: cancelled while a lane's connection cleanup fails, a TaskGroup
        raises that error instead of CancelledError, and the worker would be restarted, not stopped."""
        lanes = [asyncio.create_task(self._lane()) for _ in range(self.settings.sender_concurrency)]
        try:
            done, _ = await asyncio.wait(lanes, return_when=asyncio.FIRST_EXCEPTION)
            for lane in done:
                lane.result()
        finally:
            for lane in lanes:
                lane.cancel()
            await asyncio.gather(*lanes, return_exceptions=True)

    async def _lane(self) -> None:
        mailer = Mailer(self._smtp_client)
        try:
            while True:
                # A stop can come with an SMTP reply and be lost (shared.cancellation): the lane must
                # not claim mail after its app has stopped.
                raise_if_cancelled()
                try:
                    if await self.send_due(mailer):
                        continue
                except (SQLAlchemyError, OSError) as error:  # no row claimed: the database is away for now
                    log.warning("cannot claim a notification, will try again", error=repr(error))
                await mailer.close()  # nothing due: the server's connection is not held while idle
                if self._server_down and self._probe_due():
                    await self._probe()
                raise_if_cancelled()  # a stop lost in the SMTP client's close or probe ends the lane now
                await asyncio.sleep(self.settings.sender_poll_interval)
        finally:
            mailer.abort()

    def _probe_due(self) -> bool:
        now = asyncio.get_running_loop().time()
        if now - self._last_probe < self.settings.smtp_probe_interval:
            return False
        self._last_probe = now  # set before any await: one lane probes, the others go on waiting
        return True

    async def _probe(self) -> None:
        client = self._smtp_client()
        try:
            await client.connect()
            await client.quit()
        except (aiosmtplib.SMTPException, OSError):
            return
        log.info("the SMTP server answers again; sending what waited for it")
        await self._wake_rows_waiting_for_the_server()

    async def _wake_rows_waiting_for_the_server(self) -> None:
        self._server_down = False
        async with self._session_factory() as session, session.begin():
            await session.execute(
                sa.update(notifications)
                .where(
                    notifications.c.state == "queued",
                    notifications.c.server_unreachable,
                    notifications.c.next_attempt_at > sa.func.now(),
                )
                .values(next_attempt_at=sa.func.now())
            )

    def _smtp_client(self) -> aiosmtplib.SMTP:
        return aiosmtplib.SMTP(
            hostname=self.settings.smtp_host,
            port=self.settings.smtp_port,
            username=self.settings.smtp_username,
            password=self.settings.smtp_password,
            start_tls=self.settings.smtp_starttls,
            timeout=self.settings.smtp_timeout,
        )

    async def send_due(self, mailer: "Mailer") -> bool:
        """Claims up to `sender_batch` due notifications in one transaction and sends them one by
        one, each outcome recorded as soon as it is known; False when none is due. A mail starts
        only while its whole send budget still fits in the lease, and after a failure to reach the
        server, or once the lane is being stopped, the rest is handed back untouched (due at once)."""
        rows = await self._claim(self.settings.sender_batch)
        if not rows:
            return False
        loop = asyncio.get_running_loop()
        leased_until = loop.time() + self._lease().total_seconds()
        for index, row in enumerate(rows):
            # The first is always tried (it also tells whether the server is back).
            if index and (self._server_down or cancel_requested() or loop.time() + self._send_budget() > leased_until):
                await self._record(self._hand_back, [r.id for r in rows[index:]])
                break
            await self.send(mailer, row)
        return True

    async def send(self, mailer: "Mailer", row) -> None:
        """Sends one claimed notification and records the outcome."""
        try:
            # Sealed secrets (an invite's token) are opened here, in memory, for this mail only. A key
            # that cannot open them is a ValueError (SecretUnreadable): the row fails, logged, and an
            # Admin may retry it once EVENT_SECRETS_KEY holds the key again.
            context = template_context(row.template, row.context, EventSecrets.from_settings(self.settings).open)
            message = compose(
                sender=self.settings.mail_from, recipient=row.recipient, cc=list(row.cc), subject=row.subject,
                template=row.template, context=context, message_key=f"{row.event_id}.{row.id}",
            )
        except (jinja2.TemplateError, ValueError, TypeError) as error:  # a bug, not the server: no retry
            await self._record(self._give_up, row, f"cannot compose the mail: {error!r}", row.attempts + 1)
            return
        try:
            async with asyncio.timeout(self._send_budget()):  # the whole conversation stays within the lease
                await mailer.send(message)
        except Exception as error:  # any failure is an attempt: a poison row ends failed
            await self._record(self._failed_attempt, row, repr(error), unreachable=_unreachable(error))
            return
        # Accepted: from here on nothing may count as a failure (that would send it again).
        await self._record(self._sent, row)
        NOTIFICATIONS.labels("sent").inc()
        log.info("notification sent", notification_id=str(row.id), event_type=row.event_type, template=row.template)
        if self._server_down:
            await self._wake_rows_waiting_for_the_server()

    def _send_budget(self) -> float:
        """Seconds a send may take in all: connecting, then the commands of the message."""
        return 2 * self.settings.smtp_timeout

    def _lease(self) -> timedelta:
        """How long a claimed row stays with its lane: the longest a send can take, and a margin."""
        return timedelta(seconds=self._send_budget() + 10)

    async def _claim(self, limit: int) -> list:
        """Up to `limit` due rows, leased in one statement; committed before any mail goes out."""
        async with driver_connection(self._engine) as connection:
            rows = await connection.fetch(_CLAIM, {"limit": limit, "lease": self._lease()})
        return sorted(rows, key=lambda row: row.created_at)

    async def _hand_back(self, connection: DriverConnection, ids: list) -> None:
        await connection.execute(_HAND_BACK, {"ids": ids})

    async def _record(self, write, *args, **kwargs) -> None:
        """Writes an attempt's outcome, on a fresh connection as often as it takes: the mail's fate
        is known now, and must not be lost with a database connection. Each `write` is a single
        statement on the driver, atomic by itself."""
        delay = 0.05
        while True:
            try:
                async with driver_connection(self._engine) as connection:
                    await write(connection, *args, **kwargs)
                return
            except (SQLAlchemyError, OSError) as error:
                log.warning("cannot record a notification's outcome yet, retrying", error=repr(error))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def _sent(self, connection: DriverConnection, row) -> None:
        await connection.execute(_SENT, {"notification_id": row.id})

    async def _failed_attempt(self, connection: DriverConnection, row, error: str, *, unreachable: bool) -> None:
        if unreachable:
            self._server_down = True
        attempts = row.attempts + 1
        if is_last_attempt(attempts, self.settings.send_max_attempts):
            await self._give_up(connection, row, error, attempts)
            return
        delay = retry_delay(attempts, base=self.settings.send_base_delay, maximum=self.settings.send_max_delay)
        await connection.execute(_RETRY_LATER, {
            "notification_id": row.id, "attempts": attempts, "error": error, "unreachable": unreachable,
            "next_attempt_at": datetime.now(UTC) + timedelta(seconds=delay)})
        NOTIFICATIONS.labels("retried").inc()
        log.warning("notification not sent, will retry", notification_id=str(row.id), attempts=attempts,
                    retry_in_seconds=round(delay, 3), error=error)

    async def _give_up(self, connection: DriverConnection, row, error: str, attempts: int) -> None:
        await connection.execute(_GIVE_UP, {"notification_id": row.id, "attempts": attempts, "error": error})
        NOTIFICATIONS.labels("failed").inc()
        log.error("notification failed for good (dead letter)", notification_id=str(row.id), event_id=str(row.event_id),
                  event_type=row.event_type, template=row.template, attempts=attempts, error=error)


class Mailer:
    """One lane's SMTP connection, kept open while mail keeps coming: connecting for every mail
    (and resolving the host in a thread) would cost more than sending it."""

    def __init__(self, new_client: Callable[[], aiosmtplib.SMTP]):
        self._new_client = new_client
        self._client: aiosmtplib.SMTP | None = None

    async def send(self, mail: Outgoing) -> None:
        if self._client is not None and self._client.is_connected:
            try:
                await _transmit(self._client, mail)
                return
            except (aiosmtplib.SMTPServerDisconnected, ConnectionError):
                # The server closed the kept connection before accepting the mail: send it on a
                # new one (accepted or refused from then on, as for any mail).
                self.abort()
        self._client = self._new_client()
        try:
            await self._client.connect()
            await _transmit(self._client, mail)
        except BaseException:
            self.abort()  # its state is unknown (refused, cut, timed out): never reuse it
            raise

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            with contextlib.suppress(Exception):  # the mail is out; a failed goodbye changes nothing
                await client.quit()

    def abort(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()


async def _transmit(client: aiosmtplib.SMTP, mail: Outgoing) -> None:
    await client.sendmail(mail.sender, mail.recipients, mail.data, mail_options=["SMTPUTF8"] if mail.smtputf8 else [])


def _unreachable(error: Exception) -> bool:
    """The server could not be reached or talked to, as opposed to answering with a refusal."""
    if isinstance(error, (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError)):
        return True
    return isinstance(error, OSError) and not isinstance(error, aiosmtplib.SMTPException)


async def run_sender(app: FastAPI) -> None:
    await Sender(app.state.settings, app.state.session_factory).run()
