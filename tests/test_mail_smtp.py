"""Delivery over SMTP to a real server started in the test (aiosmtpd on loopback)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from icalendar import Calendar

from app.core.config import ConfigError, load_settings
from app.domain.event import Event
from app.domain.followup_mail import queue_follow_up_mail
from app.domain.mail_delivery import MailDelivery, SmtpServer
from app.storage import outbox as mail
from app.storage.db import Database
from tests.livekit import LiveServer, free_port, seed_world
from tests.servicekit import (
    count,
    make_advisor,
    make_booth,
    make_candidate,
    make_event,
    open_db,
)
from tests.test_mail import SUMMER_START, insert_follow_up

SENDER = "Inzoomen <afspraken@inzoomen.example>"


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


class SmtpInbox:
    def __init__(self, port: int) -> None:
        self.port = port
        self.inbox = Inbox()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=port)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    @property
    def received(self) -> list[tuple[str, list[str], EmailMessage]]:
        return self.inbox.received


@pytest.fixture
def smtp() -> Iterator[SmtpInbox]:
    server = SmtpInbox(free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def scene(db: Database, event: Event) -> dict[str, int]:
    booth = await make_booth(db, "zorgpunt", name="Zorgpunt Utrecht")
    advisor = await make_advisor(db, booth, "anouk@zorgpunt.nl", name="Anouk de Vries")
    candidate = await make_candidate(db, name="Sanne Jansen", email="sanne@voorbeeld.nl")
    return {"booth": booth, "advisor": advisor, "candidate": candidate}


def calendar_part(message: EmailMessage) -> tuple[EmailMessage, Calendar]:
    parts = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1
    part = parts[0]
    assert isinstance(part, EmailMessage)
    return part, Calendar.from_ical(part.get_payload(decode=True))


async def wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_delivery_task_sends_queued_mail_when_woken(
    db: Database, scene: dict[str, int], smtp: SmtpInbox
) -> None:
    delivery = MailDelivery(db, time.time, SmtpServer("127.0.0.1", smtp.port), SENDER)
    task = asyncio.create_task(delivery.run())
    try:
        await wait_for(lambda: delivery.rounds >= 1)
        follow_up = await insert_follow_up(
            db,
            booth_id=scene["booth"],
            candidate_id=scene["candidate"],
            advisor_id=scene["advisor"],
            created_at=SUMMER_START - 3 * 86400,
        )
        async with db.transaction() as tx:
            await queue_follow_up_mail(tx, follow_up, "booked", time.time())
        # Woken by the queued message: well before the task's own next round (30 s).
        await wait_for(lambda: len(smtp.received) == 1, timeout=5.0)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    mail_from, rcpt_tos, message = smtp.received[0]
    assert mail_from == "afspraken@inzoomen.example"
    assert rcpt_tos == ["sanne@voorbeeld.nl"]
    assert message["From"] == SENDER
    assert message["To"] == "Sanne Jansen <sanne@voorbeeld.nl>"
    assert message["Subject"].startswith(
        "Afspraak bevestigd met Zorgpunt Utrecht op maandag 30 maart om 14:00"
    )
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"]
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert text.startswith("Beste Sanne Jansen,")
    assert "Je hebt een vervolgafspraak met Zorgpunt Utrecht." in text
    assert "maandag 30 maart om 14:00" in text
    part, calendar = calendar_part(message)
    assert part.get_filename() == f"afspraak-{follow_up}.ics"
    assert part.get_param("method") == "PUBLISH"
    [entry] = calendar.walk("VEVENT")
    assert entry.decoded("dtstart").astimezone(UTC) == datetime(2026, 3, 30, 12, 0, tzinfo=UTC)
    assert str(entry["uid"]).startswith(f"follow-up-{follow_up}-")
    assert [str(tz["tzid"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Amsterdam"]
    [stored] = await mail.messages(db)
    assert stored.state == "sent" and stored.attempts == 1 and stored.last_error == ""


async def test_failing_server_leaves_mail_pending_then_delivers(
    db: Database, scene: dict[str, int]
) -> None:
    port = free_port()  # nothing listens here yet: the connection is refused
    clock = Clock(time.time())
    delivery = MailDelivery(
        db, clock, SmtpServer("127.0.0.1", port), SENDER, retry_seconds=60, max_attempts=3
    )
    follow_up = await insert_follow_up(
        db, booth_id=scene["booth"], candidate_id=scene["candidate"], advisor_id=scene["advisor"]
    )
    async with db.transaction() as tx:
        await queue_follow_up_mail(tx, follow_up, "changed", clock.now)
    assert await delivery.deliver_due() == 0
    [stored] = await mail.messages(db)
    assert stored.state == "pending" and stored.sent_at is None
    assert stored.attempts == 1 and stored.last_error
    assert stored.next_attempt_at == pytest.approx(clock.now + 60)
    # Not tried again before its time.
    clock.now += 30
    assert await delivery.deliver_due() == 0
    assert (await mail.messages(db))[0].attempts == 1
    # A second failure waits twice as long.
    clock.now += 31
    assert await delivery.deliver_due() == 0
    [stored] = await mail.messages(db)
    assert stored.attempts == 2 and stored.next_attempt_at == pytest.approx(clock.now + 120)

    server = SmtpInbox(port)
    server.start()
    try:
        clock.now += 121
        assert await delivery.deliver_due() == 1
        assert len(server.received) == 1
        _from, rcpt, message = server.received[0]
        assert rcpt == ["sanne@voorbeeld.nl"]
        assert message["Subject"].startswith("Afspraak gewijzigd met Zorgpunt Utrecht")
    finally:
        server.stop()
    [stored] = await mail.messages(db)
    assert stored.state == "sent" and stored.attempts == 3 and stored.last_error == ""
    # Sent once: a later round sends nothing more.
    clock.now += 3600
    assert await delivery.deliver_due() == 0


async def test_mail_that_keeps_failing_is_given_up(db: Database, scene: dict[str, int]) -> None:
    clock = Clock(time.time())
    delivery = MailDelivery(
        db, clock, SmtpServer("127.0.0.1", free_port()), SENDER, retry_seconds=1, max_attempts=2
    )
    follow_up = await insert_follow_up(
        db, booth_id=scene["booth"], candidate_id=scene["candidate"], advisor_id=scene["advisor"]
    )
    async with db.transaction() as tx:
        await queue_follow_up_mail(tx, follow_up, "booked", clock.now)
    await delivery.deliver_due()
    clock.now += 2
    await delivery.deliver_due()
    [stored] = await mail.messages(db)
    assert stored.state == "failed" and stored.attempts == 2 and stored.next_attempt_at is None
    assert await delivery.next_attempt() is None


async def test_without_a_server_mail_stays_in_the_outbox(
    db: Database, scene: dict[str, int]
) -> None:
    delivery = MailDelivery(db, time.time, None, SENDER)
    follow_up = await insert_follow_up(
        db, booth_id=scene["booth"], candidate_id=scene["candidate"], advisor_id=scene["advisor"]
    )
    async with db.transaction() as tx:
        await queue_follow_up_mail(tx, follow_up, "booked", time.time())
    assert await delivery.deliver_due() == 0
    [stored] = await mail.messages(db)
    assert stored.state == "pending" and stored.attempts == 0


async def test_reminders_are_written_once_also_after_a_restart(
    tmp_path: Path, smtp: SmtpInbox
) -> None:
    path = tmp_path / "reminders.db"
    db = await open_db(path)
    await make_event(db)
    booth = await make_booth(db, "zorgpunt", name="Zorgpunt Utrecht")
    advisor = await make_advisor(db, booth, "anouk@zorgpunt.nl")
    candidate = await make_candidate(db, name="Sanne Jansen", email="sanne@voorbeeld.nl")
    now = time.time()
    # Booked two days ahead: reminded 24 hours before, which is now past.
    due = await insert_follow_up(
        db,
        booth_id=booth,
        candidate_id=candidate,
        advisor_id=advisor,
        starts_at=now + 23 * 3600,
        created_at=now - 25 * 3600,
    )
    # Booked three hours ahead: reminded an hour before, two hours from now.
    short = await insert_follow_up(
        db,
        booth_id=booth,
        candidate_id=candidate,
        advisor_id=advisor,
        starts_at=now + 3 * 3600,
        created_at=now,
    )
    # Booked an hour ahead: no reminder (the confirmation just arrived).
    await insert_follow_up(
        db,
        booth_id=booth,
        candidate_id=candidate,
        advisor_id=advisor,
        starts_at=now + 3600,
        created_at=now,
    )
    # Cancelled, or already past: no reminder.
    await insert_follow_up(
        db,
        booth_id=booth,
        candidate_id=candidate,
        advisor_id=advisor,
        starts_at=now + 23 * 3600,
        created_at=now - 25 * 3600,
        status="cancelled",
    )
    await insert_follow_up(
        db,
        booth_id=booth,
        candidate_id=candidate,
        advisor_id=advisor,
        starts_at=now - 60,
        created_at=now - 3 * 86400,
    )
    clock = Clock(now)
    server = SmtpServer("127.0.0.1", smtp.port)
    delivery = MailDelivery(db, clock, server, SENDER)
    assert await delivery.remind_due() == [due]
    assert await delivery.remind_due() == []
    assert await delivery.next_reminder() == pytest.approx(now + 2 * 3600)
    assert await delivery.deliver_due() == 1
    await db.close()

    # After a restart the same database knows what was reminded.
    db = await open_db(path)
    try:
        delivery = MailDelivery(db, clock, server, SENDER)
        assert await delivery.remind_due() == []
        clock.now = now + 2 * 3600 + 1
        assert await delivery.remind_due() == [short]
        clock.now += 3600
        assert await delivery.remind_due() == []
        assert await delivery.next_reminder() is None
        assert await delivery.deliver_due() == 1
        assert await count(db, "outbox", "kind = 'reminder'") == 2
    finally:
        await db.close()
    subjects = [m["Subject"] for _f, _r, m in smtp.received]
    assert len(subjects) == 2
    assert all(s.startswith("Herinnering aan je afspraak met Zorgpunt Utrecht") for s in subjects)


async def test_server_sends_a_due_reminder_over_smtp(tmp_path: Path, smtp: SmtpInbox) -> None:
    """The running server's lifespan starts the delivery task with the SMTP settings."""
    path = tmp_path / "hall.db"
    world = await seed_world(path)
    db = await open_db(path)
    try:
        booth = await db.fetchvalue("SELECT id FROM booths ORDER BY id LIMIT 1")
        candidate = await make_candidate(db, name="Mila Smit", email="mila@voorbeeld.nl")
        now = time.time()
        follow_up = await insert_follow_up(
            db,
            booth_id=booth,
            candidate_id=candidate,
            advisor_id=None,
            starts_at=now + 20 * 3600,
            created_at=now - 86400,
        )
    finally:
        await db.close()
    assert world is not None
    live = LiveServer(
        path,
        tmp_path / "server.log",
        env={
            "INZOOMEN_SMTP_HOST": "127.0.0.1",
            "INZOOMEN_SMTP_PORT": str(smtp.port),
            "INZOOMEN_SMTP_STARTTLS": "false",
            "INZOOMEN_MAIL_FROM": SENDER,
        },
    )
    live.start()
    try:
        await wait_for(lambda: len(smtp.received) == 1, timeout=15.0)
    finally:
        live.stop()
    _from, rcpt, message = smtp.received[0]
    assert rcpt == ["mila@voorbeeld.nl"]
    assert message["Subject"].startswith("Herinnering aan je afspraak met")
    _part, calendar = calendar_part(message)
    [entry] = calendar.walk("VEVENT")
    assert str(entry["uid"]).startswith(f"follow-up-{follow_up}-")
    db = await open_db(path)
    try:
        assert await db.fetchvalue(
            "SELECT reminded_at IS NOT NULL FROM follow_ups WHERE id = ?", (follow_up,)
        )
        assert await count(db, "outbox", "sent_at IS NOT NULL") == 1
    finally:
        await db.close()


def test_smtp_settings_from_the_environment() -> None:
    assert SmtpServer.from_settings(load_settings({})) is None
    settings = load_settings(
        {
            "INZOOMEN_SMTP_HOST": "smtp.voorbeeld.nl",
            "INZOOMEN_SMTP_USERNAME": "beurs",
            "INZOOMEN_SMTP_PASSWORD": "geheim-wachtwoord",
            "INZOOMEN_MAIL_FROM": "Beurs <beurs@voorbeeld.nl>",
        }
    )
    assert SmtpServer.from_settings(settings) == SmtpServer(
        "smtp.voorbeeld.nl", 587, "beurs", "geheim-wachtwoord", starttls=True, tls=False
    )
    assert settings.mail_from == "Beurs <beurs@voorbeeld.nl>"
    implicit = load_settings(
        {
            "INZOOMEN_SMTP_HOST": "smtp.voorbeeld.nl",
            "INZOOMEN_SMTP_TLS": "true",
            "INZOOMEN_SMTP_PORT": "465",
        }
    )
    assert SmtpServer.from_settings(implicit) == SmtpServer(
        "smtp.voorbeeld.nl", 465, starttls=False, tls=True
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"INZOOMEN_SMTP_PORT": "0"}, "INZOOMEN_SMTP_PORT"),
        ({"INZOOMEN_SMTP_PORT": "smtp"}, "INZOOMEN_SMTP_PORT"),
        ({"INZOOMEN_SMTP_STARTTLS": "true", "INZOOMEN_SMTP_TLS": "true"}, "INZOOMEN_SMTP_TLS"),
        ({"INZOOMEN_SMTP_STARTTLS": "misschien"}, "INZOOMEN_SMTP_STARTTLS"),
        ({"INZOOMEN_MAIL_FROM": "geen adres"}, "INZOOMEN_MAIL_FROM"),
        ({"INZOOMEN_MAIL_FROM": "a@b.nl\r\nBcc: c@d.nl"}, "INZOOMEN_MAIL_FROM"),
    ],
)
def test_bad_smtp_settings_are_refused(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load_settings(env)


async def test_a_change_that_rolls_back_sends_nothing_even_while_the_task_runs(
    db: Database, scene: dict[str, int], smtp: SmtpInbox
) -> None:
    delivery = MailDelivery(db, time.time, SmtpServer("127.0.0.1", smtp.port), SENDER)
    task = asyncio.create_task(delivery.run())
    try:
        await wait_for(lambda: delivery.rounds >= 1)
        follow_up = await insert_follow_up(
            db, booth_id=scene["booth"], candidate_id=scene["candidate"], advisor_id=None
        )
        rounds = delivery.rounds
        with pytest.raises(RuntimeError):
            async with db.transaction() as tx:
                await queue_follow_up_mail(tx, follow_up, "booked", time.time())
                # The woken task waits for this transaction to end before it looks.
                await asyncio.sleep(0.3)
                raise RuntimeError("the booking fails after the mail was queued")
        await wait_for(lambda: delivery.rounds > rounds)
        assert smtp.received == []
        assert await count(db, "outbox") == 0
        async with db.transaction() as tx:
            await queue_follow_up_mail(tx, follow_up, "booked", time.time())
        await wait_for(lambda: len(smtp.received) == 1, timeout=5.0)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_a_round_with_nothing_due_writes_nothing(
    db: Database, scene: dict[str, int], smtp: SmtpInbox
) -> None:
    now = time.time()
    await insert_follow_up(
        db,
        booth_id=scene["booth"],
        candidate_id=scene["candidate"],
        advisor_id=None,
        starts_at=now + 3 * 86400,
        created_at=now,
    )
    delivery = MailDelivery(db, time.time, SmtpServer("127.0.0.1", smtp.port), SENDER)
    commits = db.commits
    assert await delivery.run_round() == pytest.approx(now + 2 * 86400)
    assert db.commits == commits


class RefusingInbox(Inbox):
    """Knows only some addresses: refuses the others for good (550), as a real server does."""

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if not address.endswith("@voorbeeld.nl"):
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"


async def test_an_address_refused_for_good_is_not_tried_again(db: Database, event: Event) -> None:
    inbox = RefusingInbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        clock = Clock(time.time())
        delivery = MailDelivery(db, clock, SmtpServer("127.0.0.1", port), SENDER)
        async with db.transaction() as tx:
            for address in ("sanne@voorbeeld.nl", "niemand@onbekend.example"):
                await mail.enqueue(
                    tx,
                    kind="booked",
                    to_address=address,
                    subject="Afspraak bevestigd",
                    body="Tot dan.",
                    now=clock.now,
                )
        assert await delivery.deliver_due() == 1
    finally:
        controller.stop()
    by_address = {m.to_address: m for m in await mail.messages(db)}
    assert by_address["sanne@voorbeeld.nl"].state == "sent"
    refused = by_address["niemand@onbekend.example"]
    assert refused.state == "failed" and refused.attempts == 1
    assert "550" in refused.last_error and "no such user" in refused.last_error
    assert [to for _f, to, _m in inbox.received] == [["sanne@voorbeeld.nl"]]


async def test_an_address_with_an_international_domain_is_sent_in_its_ascii_form(
    db: Database, event: Event, smtp: SmtpInbox
) -> None:
    """Addresses are stored in their normal form (``jan@bücher.example``); a mail server
    without SMTPUTF8 takes the domain only in its IDNA form."""
    delivery = MailDelivery(db, time.time, SmtpServer("127.0.0.1", smtp.port), SENDER)
    async with db.transaction() as tx:
        await mail.enqueue(
            tx,
            kind="booked",
            to_address="jan@bücher.example",
            subject="Afspraak bevestigd",
            body="Tot dan.",
            now=time.time(),
        )
    assert await delivery.deliver_due() == 1
    [(_from, rcpt_tos, message)] = smtp.received
    assert rcpt_tos == ["jan@xn--bcher-kva.example"]
    assert message["To"] == "jan@xn--bcher-kva.example"
    [stored] = await mail.messages(db)
    assert stored.state == "sent" and stored.to_address == "jan@bücher.example"
