"""The post-event report and the CSV exports, against a real SQLite file holding a scripted
event of two days, played through the hall's own services (sign in, ask, accept, decline,
cancel, expire, end) at known moments. Follow-ups and feedback are rows put in directly.

The script (Europe/Amsterdam, 12 and 13 March 2026, booths open 09:00–17:00):

    day 1  c1 → Zorg   09:06  accepted 09:06:30 by A1 (wait 30 s), 09:06:30–09:14:30, rated 5,
                                follow-up booked
           c2 → Zorg   09:11  accepted 09:15 by A2 (wait 240 s), 09:15–09:27, rated 4,
                                follow-up cancelled
           c3 → Bouw   09:21  declined 09:25 by B1
           c3 → Bouw   09:30  accepted 09:42 by B1 (wait 720 s), 09:42–09:50, rated 3,
                                follow-up booked (phone)
           c4 → Zorg   10:01  cancelled 10:05
           c5 → Oud    10:31  accepted 10:33 by C1 (wait 120 s), 10:33–10:40; booth Oud is
                                removed after the day
           c6 → Zorg   13:01  expired 14:31
    day 2  c7 → Bouw   09:31  accepted 09:31:20 by B1 (wait 20 s), still running
           c8 → Zorg   11:00  still waiting
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from app.domain import accounts, booths, candidates, conversations, queue, reports
from app.domain.event import Event, add_day, load_event, save_event
from app.storage.db import Database

ZONE = ZoneInfo("Europe/Amsterdam")
DAY1 = date(2026, 3, 12)
DAY2 = date(2026, 3, 13)
PASSWORD = "test-password-123"
TTL = 90 * 60
# Personal data that must never reach an export.
SECRET_BITS = ("Geheime", "geheim.nl", "0612345678", "Vraag-die-privé-is", "Sorry-privé")


def at(day: date, hour: int, minute: int = 0, second: int = 0) -> float:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=ZONE).timestamp()


@dataclass
class Script:
    """The ids of what the scripted event made."""

    zorg: int = 0
    bouw: int = 0
    oud: int = 0  # removed after day 1
    leeg: int = 0  # no activity at all
    weg: int = 0  # removed, no activity
    moderator: int = 0
    advisors: dict[str, int] = field(default_factory=dict)
    candidates: list[int] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)
    conversations: list[int] = field(default_factory=list)
    follow_ups: list[int] = field(default_factory=list)


async def seed_scripted_event(db: Database) -> Script:
    s = Script()
    async with db.transaction() as tx:
        await save_event(
            tx,
            Event(
                name="LeerWerkWeek",
                timezone="Europe/Amsterdam",
                conversation_seconds=600,
                warning_seconds=120,
                video_provider="jitsi",
                video_base_url="https://meet.example.test",
            ),
        )
        for d in (DAY1, DAY2):
            await add_day(tx, d, "09:00", "17:00")
        s.zorg = await booths.create_booth(
            tx, slug="zorg", name="Zorggroep Noord", kind="employer", sector="zorg"
        )
        # A name a spreadsheet would take for a formula.
        s.bouw = await booths.create_booth(
            tx, slug="bouw", name="+Bouw & Co", kind="employer", sector="bouw", position=1
        )
        s.oud = await booths.create_booth(
            tx, slug="oud", name="Oude stand", kind="school", sector="onderwijs", position=2
        )
        s.leeg = await booths.create_booth(
            tx, slug="leeg", name="Lege stand", kind="school", sector="ict", position=3
        )
        s.weg = await booths.create_booth(
            tx, slug="weg", name="Weggehaald", kind="school", sector="ict", position=4
        )
        for booth_id in (s.zorg, s.bouw, s.oud, s.leeg, s.weg):
            for d in (DAY1, DAY2):
                await booths.add_slot(tx, booth_id, d, "09:00", "17:00")
        for key, booth_id, name in (
            ("a1", s.zorg, "Anna Zorg"),
            ("a2", s.zorg, "Ahmed Zorg"),
            ("b1", s.bouw, "=Bert Bouw"),
            ("c1", s.oud, "Carla Oud"),
        ):
            s.advisors[key] = await accounts.create_staff(
                tx,
                email=f"{key}@test.example",
                name=name,
                role="advisor",
                password=PASSWORD,
                booth_id=booth_id,
            )
        s.moderator = await accounts.create_staff(
            tx, email="mod@test.example", name="Moderator", role="moderator", password=PASSWORD
        )
    event = await load_event(db)
    signed = [
        at(DAY1, 9, 5),
        at(DAY1, 9, 10),
        at(DAY1, 9, 20),
        at(DAY1, 10, 0),
        at(DAY1, 10, 30),
        at(DAY1, 13, 0),
        at(DAY2, 9, 30),
        at(DAY2, 11, 0),
    ]
    for i, moment in enumerate(signed, start=1):
        candidate = await candidates.sign_in(
            db,
            name=f"Geheime Kandidaat {i}",
            email=f"kandidaat{i}@geheim.nl",
            phone="0612345678",
            consent=True,
            now=moment,
        )
        s.candidates.append(candidate.id)
    c = s.candidates
    a = s.advisors

    async def ask(candidate: int, booth: int, moment: float) -> int:
        request, _new = await queue.create_request(
            db,
            event,
            candidate_id=candidate,
            booth_id=booth,
            advisor_id=None,
            question="Vraag-die-privé-is",
            client_key=f"k{candidate}-{moment}",
            now=moment,
            ttl_seconds=TTL,
        )
        s.requests.append(request.id)
        return request.id

    async def accept(advisor: int, request: int, moment: float) -> int:
        conversation, _r = await conversations.accept(
            db, event, advisor_id=advisor, request_id=request, now=moment
        )
        s.conversations.append(conversation.id)
        return conversation.id

    async def end(advisor: int, conversation: int, moment: float) -> None:
        await conversations.end(
            db, advisor_id=advisor, conversation_id=conversation, now=moment, wrap_up_seconds=60
        )

    # day 1
    r1 = await ask(c[0], s.zorg, at(DAY1, 9, 6))
    conv1 = await accept(a["a1"], r1, at(DAY1, 9, 6, 30))
    r2 = await ask(c[1], s.zorg, at(DAY1, 9, 11))
    await end(a["a1"], conv1, at(DAY1, 9, 14, 30))
    conv2 = await accept(a["a2"], r2, at(DAY1, 9, 15))
    r3 = await ask(c[2], s.bouw, at(DAY1, 9, 21))
    await queue.decline_request(
        db,
        advisor_id=a["b1"],
        booth_id=s.bouw,
        request_id=r3,
        message="Sorry-privé",
        now=at(DAY1, 9, 25),
    )
    await end(a["a2"], conv2, at(DAY1, 9, 27))
    r4 = await ask(c[2], s.bouw, at(DAY1, 9, 30))
    conv3 = await accept(a["b1"], r4, at(DAY1, 9, 42))
    await end(a["b1"], conv3, at(DAY1, 9, 50))
    r5 = await ask(c[3], s.zorg, at(DAY1, 10, 1))
    await queue.cancel_request(db, candidate_id=c[3], request_id=r5, now=at(DAY1, 10, 5))
    r6 = await ask(c[4], s.oud, at(DAY1, 10, 31))
    conv4 = await accept(a["c1"], r6, at(DAY1, 10, 33))
    await end(a["c1"], conv4, at(DAY1, 10, 40))
    await ask(c[5], s.zorg, at(DAY1, 13, 1))
    expired = await queue.expire_due(db, at(DAY1, 14, 31))
    assert [r.id for r in expired] == [s.requests[-1]]
    # day 2
    r8 = await ask(c[6], s.bouw, at(DAY2, 9, 31))
    await accept(a["b1"], r8, at(DAY2, 9, 31, 20))
    await ask(c[7], s.zorg, at(DAY2, 11, 0))

    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE booths SET removed_at = ? WHERE id IN (?, ?)", (at(DAY1, 18), s.oud, s.weg)
        )
        for conv, rating, comment, moment in (
            (conv1, 5, "Heel nuttig", at(DAY1, 9, 16)),
            (conv2, 4, '=HYPERLINK("http://x.test","klik")', at(DAY1, 9, 30)),
            (conv3, 3, 'Kort, maar goed; "prima"\nnieuwe regel', at(DAY1, 9, 55)),
        ):
            await tx.insert(
                "INSERT INTO feedback (conversation_id, rating, comment, created_at) "
                "VALUES (?, ?, ?, ?)",
                (conv, rating, comment, moment),
            )
        for conv, booth, advisor, cand, starts, mode, status, moment in (
            (conv1, s.zorg, a["a1"], c[0], at(DAY2, 14), "video", "booked", at(DAY1, 9, 15)),
            (conv2, s.zorg, a["a2"], c[1], at(DAY2, 15), "on_site", "cancelled", at(DAY1, 9, 28)),
            (conv3, s.bouw, a["b1"], c[2], at(DAY2, 10), "phone", "booked", at(DAY1, 9, 51)),
        ):
            s.follow_ups.append(
                await tx.insert(
                    "INSERT INTO follow_ups (conversation_id, booth_id, advisor_id, candidate_id, "
                    "starts_at, minutes, mode, location, message, status, created_at, created_by) "
                    "VALUES (?, ?, ?, ?, ?, 30, ?, 'Geheime straat 1', 'Sorry-privé', ?, ?, ?)",
                    (conv, booth, advisor, cand, starts, mode, status, moment, advisor),
                )
            )
    return s


@pytest.fixture
async def scripted(db: Database) -> tuple[Event, Script]:
    script = await seed_scripted_event(db)
    return await load_event(db), script


# -- figures -----------------------------------------------------------------------------------


async def test_totals_of_the_whole_event(db: Database, scripted: tuple[Event, Script]) -> None:
    event, _s = scripted
    t = (await reports.report(db, event)).totals
    assert (t.candidates, t.requests, t.served) == (8, 9, 5)
    assert (t.cancelled, t.declined, t.expired, t.waiting) == (1, 1, 1, 1)
    assert (t.conversations, t.running) == (5, 1)
    assert (t.follow_ups, t.with_follow_up) == (2, 2)  # the cancelled one does not count
    assert t.follow_up_share == pytest.approx(0.4)
    assert (t.ratings, t.average_rating) == (3, pytest.approx(4.0))
    assert t.median_wait_seconds == 120  # waits 20, 30, 120, 240, 720
    assert t.median_length_seconds == 480  # lengths 420, 480, 480, 720 (one still running)


async def test_totals_of_one_day(db: Database, scripted: tuple[Event, Script]) -> None:
    event, _s = scripted
    t = (await reports.report(db, event, DAY1)).totals
    assert (t.candidates, t.requests, t.served) == (6, 7, 4)
    assert (t.cancelled, t.declined, t.expired, t.waiting) == (1, 1, 1, 0)
    assert (t.conversations, t.running, t.follow_ups, t.with_follow_up) == (4, 0, 2, 2)
    assert t.follow_up_share == pytest.approx(0.5)
    assert (t.ratings, t.average_rating) == (3, pytest.approx(4.0))
    assert t.median_wait_seconds == 180  # (120 + 240) / 2
    assert t.median_length_seconds == 480

    t2 = (await reports.report(db, event, DAY2)).totals
    assert (t2.candidates, t2.requests, t2.served, t2.waiting) == (2, 2, 1, 1)
    assert (t2.cancelled, t2.declined, t2.expired) == (0, 0, 0)
    assert (t2.conversations, t2.running, t2.follow_ups) == (1, 1, 0)
    assert t2.follow_up_share == 0
    assert (t2.ratings, t2.average_rating) == (0, None)
    assert t2.median_wait_seconds == 20 and t2.median_length_seconds is None


async def test_a_day_without_anything_has_zeros_and_no_averages(
    db: Database, scripted: tuple[Event, Script]
) -> None:
    event, _s = scripted
    r = await reports.report(db, event, date(2026, 3, 14))
    t = r.totals
    assert (t.candidates, t.requests, t.conversations, t.follow_ups) == (0, 0, 0, 0)
    assert t.follow_up_share is None and t.average_rating is None
    assert t.median_wait_seconds is None and t.median_length_seconds is None
    assert r.days == [] and r.hours == {}
    assert all(b.count == 0 for b in r.waits + r.lengths)
    assert [b.booth_id for b in r.booths] == [_s.zorg, _s.bouw, _s.leeg]


async def test_per_booth(db: Database, scripted: tuple[Event, Script]) -> None:
    event, s = scripted
    rows = {b.booth_id: b for b in (await reports.report(db, event)).booths}
    # hall order; the removed booth with history after them; the removed one without none
    assert list(rows) == [s.zorg, s.bouw, s.leeg, s.oud]
    zorg, bouw, leeg, oud = rows[s.zorg], rows[s.bouw], rows[s.leeg], rows[s.oud]
    assert (zorg.requests, zorg.served, zorg.not_served, zorg.conversations) == (5, 2, 2, 2)
    assert (zorg.follow_ups, zorg.with_follow_up, zorg.ratings) == (1, 1, 2)
    assert zorg.average_rating == pytest.approx(4.5) and zorg.median_wait_seconds == 135
    assert (bouw.name, bouw.requests, bouw.served, bouw.not_served) == ("+Bouw & Co", 3, 2, 1)
    assert (bouw.conversations, bouw.follow_ups, bouw.with_follow_up, bouw.ratings) == (2, 1, 1, 1)
    assert bouw.average_rating == pytest.approx(3.0) and bouw.median_wait_seconds == 370
    assert (leeg.requests, leeg.conversations, leeg.average_rating) == (0, 0, None)
    assert leeg.median_wait_seconds is None and not leeg.removed
    assert oud.removed and (oud.requests, oud.served, oud.not_served) == (1, 1, 0)
    assert (oud.conversations, oud.follow_ups, oud.ratings, oud.median_wait_seconds) == (
        1,
        0,
        0,
        120,
    )
    day2 = {b.booth_id: b for b in (await reports.report(db, event, DAY2)).booths}
    assert list(day2) == [s.zorg, s.bouw, s.leeg]  # the removed booth did nothing that day
    assert (day2[s.zorg].requests, day2[s.bouw].conversations) == (1, 1)


async def test_per_day_and_hour(db: Database, scripted: tuple[Event, Script]) -> None:
    event, _s = scripted
    r = await reports.report(db, event)
    assert [
        (d.day, d.candidates, d.requests, d.served, d.conversations, d.follow_ups) for d in r.days
    ] == [
        (DAY1, 6, 7, 4, 4, 2),
        (DAY2, 2, 2, 1, 1, 0),
    ]
    assert list(r.hours) == [DAY1, DAY2]
    day1 = {h.hour: (h.requests, h.conversations) for h in r.hours[DAY1]}
    assert list(day1) == list(range(9, 17))  # opening hours 09:00–17:00
    assert day1[9] == (4, 3) and day1[10] == (2, 1) and day1[13] == (1, 0)
    assert sum(v[0] for v in day1.values()) == 7 and sum(v[1] for v in day1.values()) == 4
    day2 = {h.hour: (h.requests, h.conversations) for h in r.hours[DAY2]}
    assert day2[9] == (1, 1) and day2[11] == (1, 0) and list(day2) == list(range(9, 17))

    only = await reports.report(db, event, DAY2)
    assert list(only.hours) == [DAY2] and [d.day for d in only.days] == [DAY2]


async def test_activity_outside_opening_hours_widens_the_hours(db: Database) -> None:
    script = await seed_scripted_event(db)
    event = await load_event(db)
    async with db.transaction() as tx:  # an advisor present keeps the booth taking requests
        await tx.execute(
            "UPDATE staff SET status = 'available' WHERE id = ?", (script.advisors["a1"],)
        )
    late = await candidates.sign_in(
        db, name="Laat", email="l@x.nl", phone="", consent=True, now=at(DAY1, 19, 40)
    )
    await queue.create_request(
        db,
        event,
        candidate_id=late.id,
        booth_id=script.zorg,
        advisor_id=None,
        question="",
        client_key="late",
        now=at(DAY1, 19, 45),
        ttl_seconds=TTL,
    )
    hours = (await reports.report(db, event, DAY1)).hours[DAY1]
    assert [h.hour for h in hours] == list(range(9, 20))
    assert hours[-1].requests == 1


async def test_wait_and_length_distributions(db: Database, scripted: tuple[Event, Script]) -> None:
    event, _s = scripted
    r = await reports.report(db, event)
    assert [(b.lower, b.upper, b.count) for b in r.waits] == [
        (0, 60, 2),
        (60, 120, 0),
        (120, 300, 2),
        (300, 600, 0),
        (600, 900, 1),
        (900, 1800, 0),
        (1800, None, 0),
    ]
    assert [(b.lower, b.upper, b.count) for b in r.lengths] == [
        (0, 120, 0),
        (120, 300, 0),
        (300, 600, 3),
        (600, 900, 1),
        (900, 1200, 0),
        (1200, None, 0),
    ]


def test_distribution_edges_belong_to_the_upper_bucket() -> None:
    buckets = reports.distribution([0, 59.9, 60, 119, 120, 10_000], (60, 120))
    assert [b.count for b in buckets] == [2, 2, 2]
    assert [b.count for b in reports.distribution([], (60,))] == [0, 0]


async def test_report_days_are_the_event_days_and_days_with_requests(
    db: Database, scripted: tuple[Event, Script]
) -> None:
    event, _s = scripted
    assert await reports.report_days(db, event) == [DAY1, DAY2]


async def test_an_empty_event_has_an_empty_report(db: Database, event: Event) -> None:
    r = await reports.report(db, event)
    assert r.totals.requests == 0 and r.booths == [] and r.days == [] and r.hours == {}
    assert r.totals.follow_up_share is None


# -- CSV ---------------------------------------------------------------------------------------


def parse(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 with a byte order mark"
    text = data.decode("utf-8-sig")
    assert "\r\n" in text
    return list(csv.reader(io.StringIO(text, newline="")))


def assert_no_personal_data(data: bytes) -> None:
    text = data.decode("utf-8-sig")
    for bit in SECRET_BITS:
        assert bit not in text, bit


async def test_requests_export(db: Database, scripted: tuple[Event, Script]) -> None:
    event, s = scripted
    export = await reports.export_requests(db, event)
    data = export.to_csv()
    rows = parse(data)
    assert tuple(rows[0]) == reports.REQUEST_HEADER
    assert len(rows) == 1 + 9
    c, r = s.candidates, s.requests
    assert rows[1] == [
        str(r[0]),
        str(c[0]),
        str(s.zorg),
        "Zorggroep Noord",
        "",
        "accepted",
        "",
        "2026-03-12T09:06:00+01:00",
        "2026-03-12T09:06:30+01:00",
        "Anna Zorg",
        "30",
    ]
    # The booth and the advisor whose names start like a formula get an apostrophe.
    assert rows[3] == [
        str(r[2]),
        str(c[2]),
        str(s.bouw),
        "'+Bouw & Co",
        "",
        "declined",
        "",
        "2026-03-12T09:21:00+01:00",
        "2026-03-12T09:25:00+01:00",
        "'=Bert Bouw",
        "240",
    ]
    statuses = [row[5] for row in rows[1:]]
    assert statuses == [
        "accepted",
        "accepted",
        "declined",
        "accepted",
        "cancelled",
        "accepted",
        "expired",
        "accepted",
        "waiting",
    ]
    assert rows[-1][7:] == ["2026-03-13T11:00:00+01:00", "", "", ""]
    assert rows[6][3] == "Oude stand"  # a removed booth keeps its history
    assert_no_personal_data(data)
    assert export.filename(None) == "aanvragen.csv"
    assert export.filename(DAY1) == "aanvragen-2026-03-12.csv"

    day2 = parse((await reports.export_requests(db, event, DAY2)).to_csv())
    assert [row[0] for row in day2[1:]] == [str(r[7]), str(r[8])]


async def test_conversations_export(db: Database, scripted: tuple[Event, Script]) -> None:
    event, s = scripted
    now = at(DAY2, 9, 45)
    data = (await reports.export_conversations(db, event, now)).to_csv()
    rows = parse(data)
    assert tuple(rows[0]) == reports.CONVERSATION_HEADER
    assert len(rows) == 1 + 5
    conv, req, c = s.conversations, s.requests, s.candidates
    assert rows[1] == [
        str(conv[0]),
        str(req[0]),
        str(c[0]),
        str(s.zorg),
        "Zorggroep Noord",
        "Anna Zorg",
        "2026-03-12T09:06:30+01:00",
        "2026-03-12T09:16:30+01:00",
        "2026-03-12T09:14:30+01:00",
        "ended",
        "480",
        "0",
        "1",
    ]
    assert rows[2][9:] == ["ended", "720", "120", "0"]  # 2 min past its end; follow-up cancelled
    assert rows[3][5] == "'=Bert Bouw"
    running = rows[5]
    # 09:31:20 → 09:45 so far: 820 s, 220 s past its planned 10 minutes
    assert running[8:] == ["", "running", "820", "220", "0"]
    # A conversation the candidate never joined ends as a no-show, and says so.
    async with db.transaction() as tx:
        await tx.execute("UPDATE conversations SET no_show_at = ended_at WHERE id = ?", (conv[0],))
    rows = parse((await reports.export_conversations(db, event, now)).to_csv())
    assert rows[1][9] == "no_show" and rows[2][9] == "ended"
    assert_no_personal_data(data)
    assert "meet.example.test" not in data.decode()  # the video room is not needed


async def test_follow_ups_export(db: Database, scripted: tuple[Event, Script]) -> None:
    event, s = scripted
    data = (await reports.export_follow_ups(db, event)).to_csv()
    rows = parse(data)
    assert tuple(rows[0]) == reports.FOLLOW_UP_HEADER
    assert rows[1:] == [
        [
            str(s.follow_ups[0]),
            str(s.conversations[0]),
            str(s.candidates[0]),
            str(s.zorg),
            "Zorggroep Noord",
            "Anna Zorg",
            "2026-03-13T14:00:00+01:00",
            "30",
            "video",
            "booked",
            "2026-03-12T09:15:00+01:00",
        ],
        [
            str(s.follow_ups[1]),
            str(s.conversations[1]),
            str(s.candidates[1]),
            str(s.zorg),
            "Zorggroep Noord",
            "Ahmed Zorg",
            "2026-03-13T15:00:00+01:00",
            "30",
            "on_site",
            "cancelled",
            "2026-03-12T09:28:00+01:00",
        ],
        [
            str(s.follow_ups[2]),
            str(s.conversations[2]),
            str(s.candidates[2]),
            str(s.bouw),
            "'+Bouw & Co",
            "'=Bert Bouw",
            "2026-03-13T10:00:00+01:00",
            "30",
            "phone",
            "booked",
            "2026-03-12T09:51:00+01:00",
        ],
    ]
    assert_no_personal_data(data)  # no location, no message
    assert parse((await reports.export_follow_ups(db, event, DAY2)).to_csv()) == [
        list(reports.FOLLOW_UP_HEADER)
    ]


async def test_feedback_export(db: Database, scripted: tuple[Event, Script]) -> None:
    event, s = scripted
    data = (await reports.export_feedback(db, event)).to_csv()
    rows = parse(data)
    assert tuple(rows[0]) == reports.FEEDBACK_HEADER
    assert "candidate" not in rows[0]  # a rating is not tied to a person in the export
    conv = s.conversations
    assert [row[1:] for row in rows[1:]] == [
        [
            str(conv[0]),
            str(s.zorg),
            "Zorggroep Noord",
            "Anna Zorg",
            "5",
            "Heel nuttig",
            "2026-03-12T09:16:00+01:00",
        ],
        [
            str(conv[1]),
            str(s.zorg),
            "Zorggroep Noord",
            "Ahmed Zorg",
            "4",
            '\'=HYPERLINK("http://x.test","klik")',
            "2026-03-12T09:30:00+01:00",
        ],
        [
            str(conv[2]),
            str(s.bouw),
            "'+Bouw & Co",
            "'=Bert Bouw",
            "3",
            'Kort, maar goed; "prima"\nnieuwe regel',
            "2026-03-12T09:55:00+01:00",
        ],
    ]
    # quotes, commas, semicolons and line breaks are quoted, not split
    assert b'"Kort, maar goed; ""prima""\nnieuwe regel"' in data
    assert_no_personal_data(data)


async def test_exports_of_an_empty_event_are_a_header_only(db: Database, event: Event) -> None:
    for export in (
        await reports.export_requests(db, event),
        await reports.export_conversations(db, event, 0),
        await reports.export_follow_ups(db, event),
        await reports.export_feedback(db, event),
    ):
        assert parse(export.to_csv()) == [list(export.header)]


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+31 6", "'+31 6"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("a=1", "a=1"),
        ("", ""),
        (None, ""),
        (-3, "-3"),  # numbers are numbers, not formulas
        (4.5, "4.5"),
        ("2026-03-12T09:00:00+01:00", "2026-03-12T09:00:00+01:00"),
    ],
)
def test_the_formula_guard(value: reports.Cell, cell: str) -> None:
    assert reports.safe_cell(value) == cell


def test_times_carry_the_event_zone_offset_also_in_summer() -> None:
    summer = datetime(2026, 7, 1, 10, 0, tzinfo=ZONE).timestamp()
    assert reports.iso(summer, ZONE) == "2026-07-01T10:00:00+02:00"
    assert reports.iso(None, ZONE) == ""


def test_a_day_scope_follows_the_clock_change() -> None:
    # 29 March 2026 has 23 hours in Amsterdam
    start, end = reports.Scope(ZONE, date(2026, 3, 29)).bounds or (0.0, 0.0)
    assert end - start == 23 * 3600
    assert reports.Scope(ZONE).bounds is None


async def test_an_erased_candidate_still_counts_but_is_a_number(
    db: Database, scripted: tuple[Event, Script], tmp_path: Path
) -> None:
    from app.domain import privacy

    event, s = scripted
    await privacy.erase(db, s.candidates[0], now=at(DAY2, 12), wrap_up_seconds=60)
    t = (await reports.report(db, event)).totals
    assert (t.candidates, t.requests, t.conversations) == (8, 9, 5)
    rows = parse((await reports.export_requests(db, event)).to_csv())
    assert rows[1][1] == str(s.candidates[0])
