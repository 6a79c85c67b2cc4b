"""The outbox, the calendar file and the follow-up mails, on a real SQLite file."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from app.core.i18n import set_language
from app.domain import privacy
from app.domain.calendar_file import FollowUpMissing, follow_up_ics
from app.domain.event import Event
from app.domain.followup_mail import queue_follow_up_mail
from app.storage import outbox as mail
from app.storage.db import Database
from tests.servicekit import count, make_advisor, make_booth, make_candidate

# Monday 30 March 2026, 14:00 in Amsterdam: summer time (UTC+2), so 12:00 UTC.
SUMMER_START = datetime(2026, 3, 30, 14, 0, tzinfo=ZoneInfo("Europe/Amsterdam")).timestamp()
# Friday 20 November 2026, 09:30 in Amsterdam: winter time (UTC+1), so 08:30 UTC.
WINTER_START = datetime(2026, 11, 20, 9, 30, tzinfo=ZoneInfo("Europe/Amsterdam")).timestamp()


async def insert_follow_up(
    db: Database,
    *,
    booth_id: int,
    candidate_id: int,
    advisor_id: int | None,
    starts_at: float = SUMMER_START,
    minutes: int = 30,
    mode: str = "video",
    location: str = "https://meet.jit.si/inzoomen-vervolg-7",
    message: str = "Neem je cv mee.",
    status: str = "booked",
    sequence: int = 0,
    candidate_message: str = "",
    created_at: float | None = None,
) -> int:
    async with db.transaction() as tx:
        return await tx.insert(
            "INSERT INTO follow_ups (booth_id, advisor_id, candidate_id, starts_at, minutes, "
            "mode, location, message, status, created_at, created_by, sequence, "
            "candidate_message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                booth_id,
                advisor_id,
                candidate_id,
                starts_at,
                minutes,
                mode,
                location,
                message,
                status,
                created_at if created_at is not None else time.time(),
                advisor_id,
                sequence,
                candidate_message,
            ),
        )


@pytest.fixture
async def scene(db: Database, event: Event) -> dict[str, int]:
    booth = await make_booth(db, "zorgpunt", name="Zorgpunt Utrecht")
    other_booth = await make_booth(db, "bouw", name="Bouwbedrijf")
    advisor = await make_advisor(db, booth, "anouk@zorgpunt.nl", name="Anouk de Vries")
    colleague = await make_advisor(db, booth, "bram@zorgpunt.nl", name="Bram")
    outsider = await make_advisor(db, other_booth, "cor@bouw.nl", name="Cor")
    candidate = await make_candidate(db, name="Sanne Jansen", email="sanne@voorbeeld.nl")
    return {
        "booth": booth,
        "advisor": advisor,
        "colleague": colleague,
        "outsider": outsider,
        "candidate": candidate,
    }


def parse(data: bytes) -> tuple[Calendar, object]:
    calendar = Calendar.from_ical(data)
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    return calendar, events[0]


# -- outbox -------------------------------------------------------------------------------


async def test_enqueue_writes_in_the_callers_transaction(db: Database, event: Event) -> None:
    now = time.time()
    async with db.transaction() as tx:
        message_id = await mail.enqueue(
            tx,
            kind="booked",
            to_address="sanne@voorbeeld.nl",
            subject="Afspraak bevestigd",
            body="Hallo",
            now=now,
            attachment=mail.Attachment("a.ics", "text/calendar", b"BEGIN:VCALENDAR"),
        )
    stored = await mail.message(db, message_id)
    assert stored is not None
    assert stored.state == "pending"
    assert stored.next_attempt_at == now and stored.attempts == 0 and stored.sent_at is None
    assert stored.attachment_name == "a.ics"
    file = await mail.attachment(db, message_id)
    assert file is not None and file.data == b"BEGIN:VCALENDAR"

    # A change that does not commit sends nothing: its message is gone with it.
    with pytest.raises(RuntimeError):
        async with db.transaction() as tx:
            await mail.enqueue(
                tx, kind="booked", to_address="x@voorbeeld.nl", subject="s", body="b", now=now
            )
            raise RuntimeError("the change fails")
    assert await count(db, "outbox") == 1
    assert await mail.counts(db) == {"total": 1, "sent": 0, "pending": 1, "failed": 0}


@pytest.mark.parametrize(
    "address",
    ["", "geen-adres", "a@b", "twee@@voorbeeld.nl", "a b@voorbeeld.nl", "x@y.nl\r\nBcc: z@y.nl"],
)
async def test_enqueue_refuses_bad_addresses(db: Database, event: Event, address: str) -> None:
    with pytest.raises(ValueError):
        async with db.transaction() as tx:
            await mail.enqueue(
                tx, kind="booked", to_address=address, subject="s", body="b", now=time.time()
            )
    assert await count(db, "outbox") == 0


async def test_enqueue_refuses_unknown_kind(db: Database, event: Event) -> None:
    with pytest.raises(ValueError):
        async with db.transaction() as tx:
            await mail.enqueue(
                tx, kind="spam", to_address="a@voorbeeld.nl", subject="s", body="b", now=1.0
            )
    assert await count(db, "outbox") == 0


# -- calendar file ------------------------------------------------------------------------


async def test_calendar_file_has_uid_sequence_zone_and_times(
    db: Database, scene: dict[str, int]
) -> None:
    follow_up = await insert_follow_up(
        db, booth_id=scene["booth"], candidate_id=scene["candidate"], advisor_id=scene["advisor"]
    )
    calendar, entry = parse(await follow_up_ics(db, follow_up))
    assert str(calendar["method"]) == "PUBLISH"
    assert str(entry["uid"]).startswith(f"follow-up-{follow_up}-")  # type: ignore[index]
    assert int(entry["sequence"]) == 0  # type: ignore[index]
    assert [str(tz["tzid"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Amsterdam"]
    start = entry.decoded("dtstart")  # type: ignore[attr-defined]
    end = entry.decoded("dtend")  # type: ignore[attr-defined]
    # Written in the event's zone, and the same instant as stored: 12:00 UTC in summer time.
    assert str(start.tzinfo) == "Europe/Amsterdam"
    assert (start.hour, start.minute) == (14, 0)
    assert start.astimezone(UTC) == datetime(2026, 3, 30, 12, 0, tzinfo=UTC)
    assert (end - start).total_seconds() == 30 * 60
    assert (
        "DTSTART;TZID=Europe/Amsterdam:20260330T140000"
        in (await follow_up_ics(db, follow_up)).decode()
    )
    assert "Zorgpunt Utrecht" in str(entry["summary"])  # type: ignore[index]
    assert str(entry["location"]) == "https://meet.jit.si/inzoomen-vervolg-7"  # type: ignore[index]
    text = str(entry["description"])  # type: ignore[index]
    assert "Neem je cv mee." in text and "https://meet.jit.si/inzoomen-vervolg-7" in text
    assert "Anouk de Vries" in text
    assert str(entry["status"]) == "CONFIRMED"  # type: ignore[index]


async def test_calendar_file_in_winter_time_and_on_site(
    db: Database, scene: dict[str, int]
) -> None:
    follow_up = await insert_follow_up(
        db,
        booth_id=scene["booth"],
        candidate_id=scene["candidate"],
        advisor_id=None,
        starts_at=WINTER_START,
        minutes=45,
        mode="on_site",
        location="Catharijnesingel 1, Utrecht",
    )
    _calendar, entry = parse(await follow_up_ics(db, follow_up))
    start = entry.decoded("dtstart")  # type: ignore[attr-defined]
    assert start.astimezone(UTC) == datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
    assert (start.hour, start.minute) == (9, 30)
    assert str(entry["location"]) == "Catharijnesingel 1, Utrecht"  # type: ignore[index]
    assert "url" not in entry  # type: ignore[operator]


async def test_changed_and_cancelled_keep_the_uid_and_raise_the_sequence(
    db: Database, scene: dict[str, int]
) -> None:
    follow_up = await insert_follow_up(
        db, booth_id=scene["booth"], candidate_id=scene["candidate"], advisor_id=scene["advisor"]
    )
    _calendar, first = parse(await follow_up_ics(db, follow_up))
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE follow_ups SET starts_at = ?, sequence = sequence + 1, updated_at = ? "
            "WHERE id = ?",
            (WINTER_START, time.time(), follow_up),
        )
    _calendar, moved = parse(await follow_up_ics(db, follow_up))
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE follow_ups SET status = 'cancelled', sequence = sequence + 1, "
            "updated_at = ? WHERE id = ?",
            (time.time() + 1, follow_up),
        )
    _calendar, cancelled = parse(await follow_up_ics(db, follow_up))
    assert str(first["uid"]) == str(moved["uid"]) == str(cancelled["uid"])  # type: ignore[index]
    assert [int(e["sequence"]) for e in (first, moved, cancelled)] == [0, 1, 2]  # type: ignore[index]
    assert moved.decoded("dtstart").astimezone(UTC).hour == 8  # type: ignore[attr-defined]
    assert str(cancelled["status"]) == "CANCELLED"  # type: ignore[index]


async def test_calendar_file_of_a_missing_follow_up(db: Database, event: Event) -> None:
    with pytest.raises(FollowUpMissing):
        await follow_up_ics(db, 404)


# -- follow-up mails ----------------------------------------------------------------------


async def queued(db: Database) -> list[mail.Message]:
    return list(reversed(await mail.messages(db)))


@pytest.mark.parametrize(
    ("kind", "subject", "phrase"),
    [
        ("booked", "Afspraak bevestigd met Zorgpunt Utrecht", "Je hebt een vervolgafspraak"),
        ("changed", "Afspraak gewijzigd met Zorgpunt Utrecht, nu op", "is gewijzigd"),
        ("cancelled", "Afspraak afgezegd met Zorgpunt Utrecht", "gaat niet door"),
        ("reminder", "Herinnering aan je afspraak met Zorgpunt Utrecht", "Een herinnering"),
    ],
)
async def test_candidate_mails_in_dutch_with_the_calendar_file(
    db: Database, scene: dict[str, int], kind: str, subject: str, phrase: str
) -> None:
    status = "cancelled" if kind == "cancelled" else "booked"
    follow_up = await insert_follow_up(
        db,
        booth_id=scene["booth"],
        candidate_id=scene["candidate"],
        advisor_id=scene["advisor"],
        status=status,
    )
    set_language("en")  # the person whose action sends the mail reads English: the mail is Dutch
    now = time.time()
    async with db.transaction() as tx:
        await queue_follow_up_mail(tx, follow_up, kind, now)
    [sent] = await queued(db)
    assert sent.kind == kind
    assert sent.to_address == "sanne@voorbeeld.nl"
    assert sent.candidate_id == scene["candidate"] and sent.follow_up_id == follow_up
    assert sent.subject.startswith(subject)
    assert "maandag 30 maart om 14:00" in sent.subject
    assert sent.body.startswith("Beste Sanne Jansen,")
    assert phrase in sent.body
    if kind != "cancelled":
        assert "https://meet.jit.si/inzoomen-vervolg-7" in sent.body
        assert "Neem je cv mee." in sent.body
    assert sent.attachment_name == f"afspraak-{follow_up}.ics"
    assert sent.attachment_type == "text/calendar"
    file = await mail.attachment(db, sent.id)
    assert file is not None
    _calendar, entry = parse(file.data)
    assert str(entry["status"]) == ("CANCELLED" if kind == "cancelled" else "CONFIRMED")  # type: ignore[index]
    assert file.data == await follow_up_ics(db, follow_up)


async def test_reschedule_request_goes_to_the_advisor(db: Database, scene: dict[str, int]) -> None:
    follow_up = await insert_follow_up(
        db,
        booth_id=scene["booth"],
        candidate_id=scene["candidate"],
        advisor_id=scene["advisor"],
        status="reschedule_requested",
        candidate_message="Kan het een uur later? Ik <moet> mijn kind ophalen.",
    )
    async with db.transaction() as tx:
        await queue_follow_up_mail(tx, follow_up, "reschedule_requested", time.time())
    [sent] = await queued(db)
    assert sent.to_address == "anouk@zorgpunt.nl"
    assert sent.subject.startswith("Sanne Jansen vraagt een ander tijdstip voor")
    assert sent.body.startswith("Beste Anouk de Vries,")
    assert "Kan het een uur later? Ik <moet> mijn kind ophalen." in sent.body
    assert "sanne@voorbeeld.nl" in sent.body
    assert sent.attachment_name is None
    assert sent.candidate_id == scene["candidate"]


async def test_reschedule_request_without_advisor_goes_to_the_booths_advisors(
    db: Database, scene: dict[str, int]
) -> None:
    follow_up = await insert_follow_up(
        db,
        booth_id=scene["booth"],
        candidate_id=scene["candidate"],
        advisor_id=None,
        status="reschedule_requested",
        candidate_message="Liever dinsdag.",
    )
    async with db.transaction() as tx:
        await queue_follow_up_mail(tx, follow_up, "reschedule_requested", time.time())
    sent = await queued(db)
    assert sorted(m.to_address for m in sent) == ["anouk@zorgpunt.nl", "bram@zorgpunt.nl"]
    assert all("Liever dinsdag." in m.body for m in sent)


async def test_unknown_kind_is_refused_and_writes_nothing(
    db: Database, scene: dict[str, int]
) -> None:
    follow_up = await insert_follow_up(
        db, booth_id=scene["booth"], candidate_id=scene["candidate"], advisor_id=scene["advisor"]
    )
    with pytest.raises(ValueError):
        async with db.transaction() as tx:
            await queue_follow_up_mail(tx, follow_up, "gossip", time.time())
    assert await count(db, "outbox") == 0


async def test_erased_candidate_gets_no_mail(db: Database, scene: dict[str, int]) -> None:
    follow_up = await insert_follow_up(
        db, booth_id=scene["booth"], candidate_id=scene["candidate"], advisor_id=scene["advisor"]
    )
    async with db.transaction() as tx:
        await queue_follow_up_mail(tx, follow_up, "booked", time.time())
    assert await count(db, "outbox") == 1
    await privacy.erase(db, scene["candidate"], now=time.time(), wrap_up_seconds=0)
    # Erasure takes what was written to them out of the outbox ...
    assert await count(db, "outbox") == 0
    # ... and nothing new is written, to them or about them.
    for kind in ("booked", "changed", "cancelled", "reminder", "reschedule_requested"):
        async with db.transaction() as tx:
            await queue_follow_up_mail(tx, follow_up, kind, time.time())
    assert await count(db, "outbox") == 0


async def test_export_lists_the_mails_without_attachments(
    db: Database, scene: dict[str, int]
) -> None:
    follow_up = await insert_follow_up(
        db, booth_id=scene["booth"], candidate_id=scene["candidate"], advisor_id=scene["advisor"]
    )
    async with db.transaction() as tx:
        await queue_follow_up_mail(tx, follow_up, "booked", time.time())
    other = await make_candidate(db, name="Piet", email="piet@voorbeeld.nl")
    other_follow_up = await insert_follow_up(
        db, booth_id=scene["booth"], candidate_id=other, advisor_id=scene["advisor"]
    )
    async with db.transaction() as tx:
        await queue_follow_up_mail(tx, other_follow_up, "booked", time.time())
    data = await privacy.export(db, scene["candidate"], time.time())
    assert data is not None
    json.dumps(data)  # a download: every value is plain JSON (no attachment bytes)
    [sent] = data["mails"]
    assert sent["to"] == "sanne@voorbeeld.nl"
    assert sent["subject"].startswith("Afspraak bevestigd met Zorgpunt Utrecht")
    assert "Neem je cv mee." in sent["body"]
    assert sent["attachment"] == f"afspraak-{follow_up}.ics"
    assert sent["sent_at"] is None
    assert "outbox" not in data["other"]
