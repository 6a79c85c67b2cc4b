"""Sending the outbox over SMTP, and the reminders before follow-up appointments.

One background task per process (started in the app's lifespan). When several processes
share the database only the holder of the ``mail`` lease works, so each message is sent
once and each reminder written once. A round:

1. Reminders: every booked follow-up whose reminder is due gets ``reminded_at`` set and a
   reminder mail queued, in one transaction, so it is written exactly once, also across
   restarts (the due time follows from the appointment in the database, nothing is kept in
   memory). The reminder is due 24 hours before the start; an appointment booked (or last
   changed) less than a day ahead gets one an hour before when there were at least two hours
   left, and none otherwise (the confirmation has just arrived).
2. Delivery, only when an SMTP server is configured: pending messages whose time has come are
   claimed (their next attempt moved past the time a send may take, so a process that dies
   mid-send leaves them to be tried again) and sent one by one. A success records
   ``sent_at``; a failure counts the attempt, keeps the error and tries again later, waiting
   longer each time (from ``retry_seconds`` doubling up to an hour), until ``max_attempts``
   have failed, or at once when the server refuses the address for good (5xx to RCPT):
   then the message stays in the outbox as failed.

The task sleeps until the next reminder or retry is due, at most ``MAX_SLEEP_SECONDS``, and is
woken at once when a message is queued in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

import aiosmtplib

from app.core.config import Settings
from app.domain import emails
from app.domain.followup_mail import queue_follow_up_mail
from app.storage import outbox as mail
from app.storage.db import Database, Unavailable
from app.storage.leases import Lease

log = logging.getLogger("inzoomen.mail")

LEASE = "mail"
MAX_SLEEP_SECONDS = 30.0
# How long one send may take before another round may try the message again.
CLAIM_SECONDS = 120.0
SEND_TIMEOUT_SECONDS = 30.0
BATCH = 20
RETRY_SECONDS = 30.0
MAX_RETRY_SECONDS = 3600.0
MAX_ATTEMPTS = 12
MAX_ERROR_LENGTH = 500

REMIND_BEFORE_SECONDS = 24 * 3600.0
SHORT_REMIND_BEFORE_SECONDS = 3600.0
SHORT_REMIND_MIN_AHEAD_SECONDS = 2 * 3600.0

# When a follow-up's reminder is due (NULL: it gets none), from when it was booked or last
# changed.
_BOOKED_AHEAD = "starts_at - COALESCE(updated_at, created_at)"
_REMIND_AT = (
    f"CASE WHEN {_BOOKED_AHEAD} >= {REMIND_BEFORE_SECONDS} "
    f"THEN starts_at - {REMIND_BEFORE_SECONDS} "
    f"WHEN {_BOOKED_AHEAD} >= {SHORT_REMIND_MIN_AHEAD_SECONDS} "
    f"THEN starts_at - {SHORT_REMIND_BEFORE_SECONDS} ELSE NULL END"
)
_REMINDABLE = "status = 'booked' AND reminded_at IS NULL AND starts_at > ?"


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    tls: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpServer | None:
        if not settings.smtp_host:
            return None
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            tls=settings.smtp_tls,
        )


def recipient(address: str, name: str) -> str | Address:
    """The To header's value: ``Name <address>`` when the name is known. The e-mail package
    writes a name in any script as an RFC 2047 encoded word (and quotes one with a comma),
    so the header stays ASCII for every mail server."""
    name = mail.display_name(name)
    if not name:
        return address
    try:
        return Address(display_name=name, addr_spec=address)
    except (ValueError, IndexError, HeaderParseError):
        # An address the e-mail package cannot take apart is sent as it is, without name.
        return address


def email_message(
    message: mail.Message, attachment: mail.Attachment | None, sender: str, to_name: str = ""
) -> EmailMessage:
    """The outbox message as an RFC 5322 e-mail: plain text (UTF-8), and its calendar file
    attached; ``to_name`` is the recipient's name for the To header."""
    email = EmailMessage()
    email["From"] = sender
    email["To"] = recipient(emails.ascii_form(message.to_address), to_name)
    email["Subject"] = message.subject
    email["Date"] = formatdate(message.created_at, localtime=False)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "inzoomen.invalid"
    email["Message-ID"] = make_msgid(f"outbox-{message.id}", domain=domain)
    # Mails written by the hall itself: auto-replies should not answer them.
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(message.body, cte="quoted-printable")
    if attachment is not None:
        maintype, _slash, subtype = attachment.content_type.partition("/")
        params = {"charset": "utf-8"}
        if attachment.content_type == "text/calendar":
            params["method"] = "PUBLISH"
        email.add_attachment(
            attachment.data,
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=attachment.name,
            params=params,
        )
    return email


def permanent(error: Exception) -> bool:
    """The server refused the address for good (a 5xx reply to RCPT): trying again will
    not help. Other failures (connection, login, a full mailbox, 4xx) are tried again."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        return bool(error.recipients) and all(500 <= r.code < 600 for r in error.recipients)
    return isinstance(error, aiosmtplib.SMTPRecipientRefused) and 500 <= error.code < 600


def retry_delay(attempts: int, base: float) -> float:
    """How long to wait after the ``attempts``-th failure: doubling, at most an hour."""
    return float(min(MAX_RETRY_SECONDS, base * 2 ** max(0, attempts - 1)))


class MailDelivery:
    def __init__(
        self,
        db: Database,
        clock: Callable[[], float],
        server: SmtpServer | None,
        sender: str,
        lease: Lease | None = None,
        retry_seconds: float = RETRY_SECONDS,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.db = db
        self.clock = clock
        self.server = server
        self.sender = sender
        self.lease = lease
        self.retry_seconds = retry_seconds
        self.max_attempts = max_attempts
        self._wake = asyncio.Event()
        self.rounds = 0

    def wake(self) -> None:
        self._wake.set()

    # -- reminders ---------------------------------------------------------------------------

    async def remind_due(self) -> list[int]:
        """Queue the reminder of every follow-up whose reminder is due; their ids."""
        now = self.clock()
        reminded: list[int] = []
        # A look first, so a round with nothing due writes nothing. (A reminder never
        # becomes due in the instant a follow-up is booked or changed: at least an hour
        # lies between the two, so the committed state is enough to look at.)
        due = await self.db.fetchvalue(
            f"SELECT 1 FROM follow_ups WHERE {_REMINDABLE} AND ({_REMIND_AT}) <= ? LIMIT 1",
            (now, now),
        )
        if due is None:
            return reminded
        async with self.db.transaction() as tx:
            rows = await tx.fetchall(
                f"SELECT id FROM follow_ups WHERE {_REMINDABLE} AND ({_REMIND_AT}) <= ? "
                "ORDER BY starts_at, id",
                (now, now),
            )
            for row in rows:
                changed = await tx.execute(
                    "UPDATE follow_ups SET reminded_at = ? WHERE id = ? AND reminded_at IS NULL",
                    (now, row["id"]),
                )
                if changed:
                    await queue_follow_up_mail(tx, row["id"], "reminder", now)
                    reminded.append(row["id"])
        return reminded

    async def next_reminder(self) -> float | None:
        value = await self.db.fetchvalue(
            f"SELECT MIN({_REMIND_AT}) FROM follow_ups WHERE {_REMINDABLE}", (self.clock(),)
        )
        return None if value is None else float(value)

    # -- delivery ----------------------------------------------------------------------------

    async def _claim(self, now: float) -> list[int]:
        async with self.db.transaction() as tx:
            rows = await tx.fetchall(
                "SELECT id FROM outbox WHERE sent_at IS NULL AND next_attempt_at <= ? "
                "ORDER BY next_attempt_at, id LIMIT ?",
                (now, BATCH),
            )
            ids = [r["id"] for r in rows]
            for message_id in ids:
                await tx.execute(
                    "UPDATE outbox SET next_attempt_at = ? WHERE id = ?",
                    (now + CLAIM_SECONDS, message_id),
                )
        return ids

    async def _send(self, message: mail.Message) -> None:
        assert self.server is not None
        attachment = await mail.attachment(self.db, message.id)
        name = await mail.recipient_name(self.db, message)
        email = email_message(message, attachment, self.sender, name)
        await aiosmtplib.send(
            email,
            sender=parseaddr(self.sender)[1],
            # A domain in its ASCII form: not every mail server takes SMTPUTF8.
            recipients=[emails.ascii_form(message.to_address)],
            hostname=self.server.host,
            port=self.server.port,
            username=self.server.username,
            password=self.server.password,
            start_tls=self.server.starttls,
            use_tls=self.server.tls,
            timeout=SEND_TIMEOUT_SECONDS,
        )

    async def deliver_due(self, woken: bool = False) -> int:
        """Send every message whose time has come; how many were sent. Nothing without a
        server.

        ``woken``: a message was just queued in this process, perhaps in a transaction that
        has not committed yet. The claim is a write transaction, which runs after that one
        has ended, so it sees the message if and only if it was committed. Otherwise a look
        at the committed state comes first, so a round with nothing to send writes nothing.
        """
        if self.server is None:
            return 0
        if not woken:
            due = await self.db.fetchvalue(
                "SELECT 1 FROM outbox WHERE sent_at IS NULL AND next_attempt_at <= ? LIMIT 1",
                (self.clock(),),
            )
            if due is None:
                return 0
        sent = 0
        while True:
            ids = await self._claim(self.clock())
            if not ids:
                return sent
            for message_id in ids:
                message = await mail.message(self.db, message_id)
                if message is None or message.sent_at is not None:
                    continue  # erased meanwhile, or sent by a round before
                try:
                    await self._send(message)
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    await self._failed(message, error)
                    continue
                async with self.db.transaction() as tx:
                    await tx.execute(
                        "UPDATE outbox SET sent_at = ?, attempts = attempts + 1, "
                        "last_error = '', next_attempt_at = NULL WHERE id = ?",
                        (self.clock(), message_id),
                    )
                sent += 1
            if len(ids) < BATCH:
                return sent

    async def _failed(self, message: mail.Message, error: Exception) -> None:
        attempts = message.attempts + 1
        text = f"{type(error).__name__}: {error}"[:MAX_ERROR_LENGTH]
        retry_at = (
            None
            if attempts >= self.max_attempts or permanent(error)
            else self.clock() + retry_delay(attempts, self.retry_seconds)
        )
        log.warning("mail %s not sent (attempt %s): %s", message.id, attempts, text)
        async with self.db.transaction() as tx:
            await tx.execute(
                "UPDATE outbox SET attempts = ?, last_error = ?, next_attempt_at = ? "
                "WHERE id = ? AND sent_at IS NULL",
                (attempts, text, retry_at, message.id),
            )

    async def next_attempt(self) -> float | None:
        if self.server is None:
            return None
        value = await self.db.fetchvalue(
            "SELECT MIN(next_attempt_at) FROM outbox WHERE sent_at IS NULL"
        )
        return None if value is None else float(value)

    # -- the task ----------------------------------------------------------------------------

    async def run_round(self, woken: bool = False) -> float | None:
        """One round: reminders, then delivery; returns when the next thing is due."""
        await self.remind_due()
        await self.deliver_due(woken)
        pending = [t for t in (await self.next_reminder(), await self.next_attempt()) if t]
        return min(pending) if pending else None

    async def holding(self) -> bool:
        return self.lease is None or await self.lease.hold()

    async def run(self) -> None:
        mail.add_waker(self.wake)
        try:
            await self._run()
        finally:
            mail.remove_waker(self.wake)
            if self.lease is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(self.lease.release())

    async def _run(self) -> None:
        woken = True  # at start: whatever is waiting, committed or not
        while True:
            self._wake.clear()
            delay = MAX_SLEEP_SECONDS
            try:
                if await self.holding():
                    due = await self.run_round(woken)
                    self.rounds += 1
                    if due is not None:
                        delay = min(MAX_SLEEP_SECONDS, max(0.0, due - self.clock()))
            except asyncio.CancelledError:
                raise
            except Unavailable as error:
                # The database is away (restarting): a known state, not a fault to trace.
                log.warning("sending mail waits for the database (%s); retrying", error)
            except Exception:
                log.exception("sending mail failed; retrying")
            if self.lease is not None:
                delay = min(delay, self.lease.renew_every)
            woken = False
            with contextlib.suppress(TimeoutError):
                woken = await asyncio.wait_for(self._wake.wait(), timeout=delay + 0.01)
