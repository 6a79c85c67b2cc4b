"""The moderator's dashboard: every figure, per booth and advisor, every alert kind raised and
not raised, and today's charts, against a real SQLite file seeded with a scripted event at a
fixed ``now``; the dashboard pushed by a real server with no change at all; candidates online
kept by presence across two processes.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.core.i18n import set_language
from app.domain import dashboard, presence
from app.domain.booths import add_slot, create_booth
from app.domain.event import Event, add_day, load_event
from app.domain.presence import Presence
from app.live.hub import MemoryHub
from app.live.publish import Live
from app.storage.db import Database
from app.web.pages.dashboard import charts
from tests.livekit import Browserless, LiveServer, World
from tests.servicekit import make_advisor, make_candidate, make_event, open_db

ZONE = ZoneInfo("Europe/Amsterdam")
DAY = date(2026, 3, 10)
# 14:00 in Utrecht (CET, UTC+1): the moment every figure is read at.
T = datetime(2026, 3, 10, 14, 0, tzinfo=ZONE).timestamp()


def local(hour: int, minute: int = 0, day: date = DAY) -> float:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE).timestamp()


YESTERDAY = date(2026, 3, 9)


class Scripted:
    """The scripted event's ids."""

    def __init__(self) -> None:
        self.booths: dict[str, int] = {}
        self.advisors: dict[str, int] = {}
        self.requests: dict[str, int] = {}
        self.conversations: dict[str, int] = {}
        self.candidates: list[int] = []


async def _booth(db: Database, key: str, name: str, position: int, starts: str = "09:00") -> int:
    async with db.transaction() as tx:
        booth_id = await create_booth(
            tx, slug=key, name=name, kind="employer", sector="zorg", position=position
        )
        await add_slot(tx, booth_id, DAY, starts, "17:00")
    return booth_id


async def _status(db: Database, advisor_id: int, status: str, since: float) -> None:
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE staff SET status = ?, status_since = ? WHERE id = ?",
            (status, since, advisor_id),
        )


async def _request(
    db: Database,
    booth_id: int,
    candidate_id: int,
    created: float,
    *,
    status: str = "waiting",
    closed: float | None = None,
    advisor_id: int | None = None,
) -> int:
    async with db.transaction() as tx:
        return await tx.insert(
            "INSERT INTO requests (booth_id, advisor_id, candidate_id, status, client_key, "
            "created_at, expires_at, closed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                booth_id,
                advisor_id,
                candidate_id,
                status,
                f"k{created}",
                created,
                created + 9999,
                closed,
            ),
        )


async def _conversation(
    db: Database,
    booth_id: int,
    advisor_id: int,
    candidate_id: int,
    started: float,
    ends: float,
    ended: float | None,
) -> int:
    request_id = await _request(
        db, booth_id, candidate_id, started - 60, status="accepted", closed=started
    )
    async with db.transaction() as tx:
        return await tx.insert(
            "INSERT INTO conversations (request_id, booth_id, advisor_id, candidate_id, "
            "video_url, started_at, ends_at, ended_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                request_id,
                booth_id,
                advisor_id,
                candidate_id,
                "https://v.test/x",
                started,
                ends,
                ended,
            ),
        )


async def _candidates(db: Database, n: int) -> list[int]:
    return [await make_candidate(db, f"Kandidaat {i}", f"k{i}@voorbeeld.nl") for i in range(n)]


async def scripted_event(db: Database) -> tuple[Event, Scripted]:
    """At 14:00: booth A has two waiting (15 and 2 min) and a free advisor for 10 min; booth B
    has one waiting (200 s) and only an offline advisor; booth C has a conversation 4 min in
    overtime; booth D is closed by the moderator; booth E opens at 15:00."""
    await make_event(db)
    async with db.transaction() as tx:
        await add_day(tx, DAY, "09:00", "17:00")
    s = Scripted()
    s.booths["A"] = await _booth(db, "a", "Zorggroep A", 0)
    s.booths["B"] = await _booth(db, "b", "Bouwbedrijf B", 1)
    s.booths["C"] = await _booth(db, "c", "Techniek C", 2)
    s.booths["D"] = await _booth(db, "d", "School D", 3)
    s.booths["E"] = await _booth(db, "e", "Later E", 4, starts="15:00")
    async with db.transaction() as tx:
        await tx.execute("UPDATE booths SET closed = 1 WHERE id = ?", (s.booths["D"],))
    for key, booth, status, since in (
        ("a1", "A", "available", T - 600),
        ("a2", "A", "in_conversation", T - 300),
        ("a3", "A", "paused", T - 60),
        ("b1", "B", "offline", T - 3000),
        ("c1", "C", "in_conversation", T - 840),
    ):
        advisor = await make_advisor(db, s.booths[booth], f"{key}@test.example", name=key.upper())
        await _status(db, advisor, status, since)
        s.advisors[key] = advisor
    c = await _candidates(db, 12)
    s.candidates = c
    # Waiting now: 900 s and 120 s at A, 200 s at B.
    s.requests["r1"] = await _request(db, s.booths["A"], c[0], T - 900)
    s.requests["r2"] = await _request(db, s.booths["A"], c[1], T - 120)
    s.requests["r3"] = await _request(db, s.booths["B"], c[2], T - 200)
    # Closed today without a conversation: a 25-minute and a 400-second wait.
    await _request(db, s.booths["A"], c[3], T - 4000, status="cancelled", closed=T - 2500)
    await _request(db, s.booths["B"], c[4], T - 5000, status="declined", closed=T - 4600)
    # Conversations (each after a 60 s wait).
    a, b, cc = s.booths["A"], s.booths["B"], s.booths["C"]
    adv = s.advisors
    s.conversations["k1"] = await _conversation(
        db, a, adv["a1"], c[5], T - 3600, T - 3000, T - 3000
    )
    s.conversations["k2"] = await _conversation(db, a, adv["a2"], c[6], T - 300, T + 300, None)
    s.conversations["k3"] = await _conversation(db, cc, adv["c1"], c[7], T - 840, T - 240, None)
    s.conversations["k4"] = await _conversation(
        db, cc, adv["c1"], c[8], T - 7200, T - 6600, T - 6600
    )
    # Across midnight: started yesterday 23:50, ended today 00:05.
    s.conversations["k5"] = await _conversation(
        db, b, adv["b1"], c[9], local(23, 50, YESTERDAY), local(0, 0), local(0, 5)
    )
    # Yesterday altogether.
    s.conversations["k6"] = await _conversation(
        db,
        b,
        adv["b1"],
        c[10],
        local(12, 0, YESTERDAY),
        local(12, 10, YESTERDAY),
        local(12, 10, YESTERDAY),
    )
    # Today just after midnight in Utrecht, which is still yesterday in UTC.
    s.conversations["k7"] = await _conversation(
        db, cc, adv["c1"], c[11], local(0, 30), local(0, 40), local(0, 40)
    )
    # Online: two candidates connected until after now, one until just before, one never.
    async with db.transaction() as tx:
        for candidate, until in ((c[0], T + 10), (c[1], T - 1), (c[2], T + 100)):
            await tx.execute(
                "UPDATE candidates SET online_until = ? WHERE id = ?", (until, candidate)
            )
        # Follow-ups: two booked today, one booked yesterday, one cancelled today.
        for created, status in (
            (T - 100, "booked"),
            (T - 5000, "booked"),
            (local(18, 0, YESTERDAY), "booked"),
            (T - 50, "cancelled"),
        ):
            await tx.insert(
                "INSERT INTO follow_ups (booth_id, candidate_id, starts_at, minutes, mode, "
                "status, created_at) VALUES (?, ?, ?, 30, 'video', ?, ?)",
                (a, c[5], T + 86400, status, created),
            )
    return await load_event(db), s


@pytest.fixture
async def scripted(db: Database) -> tuple[Event, Scripted]:
    return await scripted_event(db)


# -- the now-figures -------------------------------------------------------------------------


async def test_every_now_figure_of_the_scripted_event(
    db: Database, scripted: tuple[Event, Scripted]
) -> None:
    event, _s = scripted
    state = await dashboard.state(db, event, T)
    totals = state["totals"]
    # Waits of 900, 200 and 120 s: the median 200 s, the longest 900 s.
    assert dashboard.waited(totals["median_waiting_since"], T) == 200
    assert dashboard.waited(totals["longest_wait_since"], T) == 900
    assert totals == {
        "candidates_online": 2,
        "waiting": 3,
        "median_waiting_since": T - 200,
        "longest_wait_since": T - 900,
        "running": 2,
        "overtime": 1,
        # k1, k2, k3, k4 and k7 started today (k7 at 00:30 Utrecht, 23:30 UTC the day before)
        "conversations_today": 5,
        # k1, k4, k7, and k5 that ended at 00:05 today
        "conversations_done_today": 4,
        "follow_ups_today": 2,
        # a1, a2, c1 (a3 is paused, b1 offline)
        "advisors_present": 3,
    }
    assert state["event"] == {"name": event.name, "timezone": event.timezone, "is_open": True}


async def test_median_of_an_even_number_of_waits_and_nobody_waiting(db: Database) -> None:
    event = await make_event(db)
    booth = await _booth(db, "a", "A", 0)
    c = await _candidates(db, 4)
    empty = await dashboard.state(db, event, T)
    assert empty["totals"]["waiting"] == 0
    assert empty["totals"]["median_waiting_since"] is None
    assert empty["totals"]["longest_wait_since"] is None
    for i, waited in enumerate((100, 200, 300, 1000)):
        await _request(db, booth, c[i], T - waited)
    totals = (await dashboard.state(db, event, T))["totals"]
    assert dashboard.waited(totals["median_waiting_since"], T) == 250
    assert dashboard.waited(totals["longest_wait_since"], T) == 1000


async def test_overtime_is_strictly_past_the_end(db: Database) -> None:
    event = await make_event(db)
    booth = await _booth(db, "a", "A", 0)
    advisor = await make_advisor(db, booth, "a@test.example")
    c = await _candidates(db, 1)
    await _conversation(db, booth, advisor, c[0], T - 600, T, None)
    assert (await dashboard.state(db, event, T))["totals"]["overtime"] == 0
    assert (await dashboard.state(db, event, T + 1))["totals"]["overtime"] == 1


# -- per booth and per advisor ---------------------------------------------------------------


async def test_per_booth_and_per_advisor(db: Database, scripted: tuple[Event, Scripted]) -> None:
    event, s = scripted
    state = await dashboard.state(db, event, T)
    rows = {b["name"]: b for b in state["booths"]}
    assert list(rows) == ["Zorggroep A", "Bouwbedrijf B", "Techniek C", "School D", "Later E"]
    figures = {
        name: (
            b["advisors_online"],
            b["free"],
            b["in_conversation"],
            b["queue_length"],
            dashboard.waited(b["longest_waiting_since"], T),
            b["conversations_done"],
            b["closed"],
            b["scheduled_open"],
        )
        for name, b in rows.items()
    }
    assert figures == {
        "Zorggroep A": (3, 1, 1, 2, 900, 1, False, True),
        "Bouwbedrijf B": (0, 0, 0, 1, 200, 1, False, True),
        "Techniek C": (1, 0, 1, 0, None, 2, False, True),
        "School D": (0, 0, 0, 0, None, 0, True, True),
        "Later E": (0, 0, 0, 0, None, 0, False, False),
    }
    advisors = {
        a["name"]: (a["status"], dashboard.waited(a["since"], T))
        for a in rows["Zorggroep A"]["advisors"]
    }
    assert advisors == {
        "A1": ("available", 600),
        "A2": ("in_conversation", 300),
        "A3": ("paused", 60),
    }
    assert dashboard.waited(rows["Bouwbedrijf B"]["advisors"][0]["since"], T) == 3000
    # An advisor whose status never changed has no known moment.
    await _status(db, s.advisors["b1"], "offline", 0)
    again = await dashboard.state(db, event, T)
    assert (
        next(b for b in again["booths"] if b["name"] == "Bouwbedrijf B")["advisors"][0]["since"]
        is None
    )
    running = {c["id"]: (c["overtime"], c["ends_at"]) for c in state["conversations"]}
    assert running == {
        s.conversations["k2"]: (False, T + 300),
        s.conversations["k3"]: (True, T - 240),
    }


async def test_an_unchanged_hall_reads_the_same_a_little_later(
    db: Database, scripted: tuple[Event, Scripted]
) -> None:
    """The state holds moments, not durations: only crossing a limit changes it."""
    event, _s = scripted
    # (Until one of the candidates online drops out at T + 10.)
    assert await dashboard.state(db, event, T) == await dashboard.state(db, event, T + 9)


# -- alerts ----------------------------------------------------------------------------------


def _keys(state: dict[str, Any]) -> list[str]:
    return [a["key"] for a in state["alerts"]]


async def test_the_alerts_of_the_scripted_event(
    db: Database, scripted: tuple[Event, Scripted]
) -> None:
    event, s = scripted
    state = await dashboard.state(db, event, T)
    b, adv = s.booths, s.advisors
    assert _keys(state) == [
        f"no_advisor:booth:{b['B']}",
        f"long_wait:booth:{b['A']}",
        f"long_overtime:conversation:{s.conversations['k3']}",
        f"free_with_queue:advisor:{adv['a1']}",
        f"nobody_present:booth:{b['B']}",
    ]
    by_kind = {a["kind"]: a for a in state["alerts"]}
    assert by_kind["long_wait"]["request_id"] == s.requests["r1"]
    assert by_kind["long_wait"]["since"] == T - 900
    assert by_kind["long_wait"]["text"] == "Bij Zorggroep A wacht iemand langer dan 10 min."
    assert by_kind["long_overtime"]["since"] == T - 240
    assert by_kind["long_overtime"]["advisor_id"] == adv["c1"]
    assert by_kind["long_overtime"]["booth_id"] == b["C"]
    assert by_kind["long_overtime"]["text"] == (
        "Het gesprek van C1 (Techniek C) loopt meer dan 3 min. uit."
    )
    # Free since 13:50, the oldest request waiting since 13:45: both since 13:50.
    assert by_kind["free_with_queue"]["since"] == T - 600
    assert (
        by_kind["free_with_queue"]["text"] == "A1 (Zorggroep A) is vrij terwijl er een wachtrij is."
    )
    assert (
        by_kind["no_advisor"]["text"] == "Wachtrij bij Bouwbedrijf B, maar geen adviseur aanwezig."
    )
    assert by_kind["nobody_present"]["booth_name"] == "Bouwbedrijf B"


async def test_no_advisor_alert_goes_when_an_advisor_is_present_or_nobody_waits(
    db: Database, scripted: tuple[Event, Scripted]
) -> None:
    event, s = scripted
    await _status(db, s.advisors["b1"], "wrapping_up", T - 10)
    keys = _keys(await dashboard.state(db, event, T))
    assert not [k for k in keys if k.startswith(("no_advisor", "nobody_present"))]
    await _status(db, s.advisors["b1"], "offline", T - 10)
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE requests SET status = 'cancelled' WHERE id = ?", (s.requests["r3"],)
        )
    keys = _keys(await dashboard.state(db, event, T))
    assert not [k for k in keys if k.startswith("no_advisor")]
    assert f"nobody_present:booth:{s.booths['B']}" in keys


async def test_long_wait_follows_the_events_limit(
    db: Database, scripted: tuple[Event, Scripted]
) -> None:
    event, s = scripted
    async with db.transaction() as tx:
        await tx.execute("UPDATE event SET wait_alert_seconds = 900")
    event = await load_event(db)
    keys = _keys(await dashboard.state(db, event, T))
    assert not [k for k in keys if k.startswith("long_wait")]  # 900 s is not over 900 s
    keys = _keys(await dashboard.state(db, event, T + 1))
    assert f"long_wait:booth:{s.booths['A']}" in keys
    async with db.transaction() as tx:
        await tx.execute("UPDATE event SET wait_alert_seconds = 150")
    keys = _keys(await dashboard.state(db, await load_event(db), T))
    assert f"long_wait:booth:{s.booths['B']}" in keys  # 200 s over 150 s


async def test_long_overtime_follows_the_events_limit(
    db: Database, scripted: tuple[Event, Scripted]
) -> None:
    event, s = scripted
    async with db.transaction() as tx:
        await tx.execute("UPDATE event SET overtime_alert_seconds = 300")
    event = await load_event(db)
    keys = _keys(await dashboard.state(db, event, T))
    assert not [k for k in keys if k.startswith("long_overtime")]  # 240 s of 300 s
    keys = _keys(await dashboard.state(db, event, T + 61))
    assert f"long_overtime:conversation:{s.conversations['k3']}" in keys


async def test_a_free_advisor_and_a_queue_only_alert_after_the_normal_accept_gap(
    db: Database,
) -> None:
    event = await make_event(db)
    booth = await _booth(db, "a", "A", 0)
    advisor = await make_advisor(db, booth, "a@test.example")
    other = await make_advisor(db, booth, "b@test.example", status="in_conversation")
    c = await _candidates(db, 2)
    kind = "free_with_queue"

    async def raised() -> bool:
        return any(a["kind"] == kind for a in (await dashboard.state(db, event, T))["alerts"])

    # Free for 30 s, the request waiting 15 min: the advisor is about to accept.
    await _status(db, advisor, "available", T - 30)
    request = await _request(db, booth, c[0], T - 900)
    assert not await raised()
    # Free for 10 min, the request only 30 s old: the normal gap.
    await _status(db, advisor, "available", T - 600)
    async with db.transaction() as tx:
        await tx.execute("UPDATE requests SET created_at = ? WHERE id = ?", (T - 30, request))
    assert not await raised()
    # The request asks for the other advisor: this one cannot take it.
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE requests SET created_at = ?, advisor_id = ? WHERE id = ?",
            (T - 900, other, request),
        )
    assert not await raised()
    # For anyone at the booth, both past a minute: raised, about this advisor.
    async with db.transaction() as tx:
        await tx.execute("UPDATE requests SET advisor_id = NULL WHERE id = ?", (request,))
    alerts = [a for a in (await dashboard.state(db, event, T))["alerts"] if a["kind"] == kind]
    assert [(a["advisor_id"], a["since"]) for a in alerts] == [(advisor, T - 600)]


async def test_nobody_present_only_where_the_schedule_and_the_moderator_say_open(
    db: Database, scripted: tuple[Event, Scripted]
) -> None:
    event, s = scripted
    # D (closed by the moderator) and E (opens at 15:00) have nobody and raise nothing.
    keys = _keys(await dashboard.state(db, event, T))
    assert [k for k in keys if k.startswith("nobody_present")] == [
        f"nobody_present:booth:{s.booths['B']}"
    ]
    # At 15:00 E opens with nobody there.
    keys = _keys(await dashboard.state(db, event, local(15, 0)))
    assert f"nobody_present:booth:{s.booths['E']}" in keys
    assert f"nobody_present:booth:{s.booths['D']}" not in keys
    # After 17:00 nothing is scheduled.
    keys = _keys(await dashboard.state(db, event, local(17, 0)))
    assert not [k for k in keys if k.startswith("nobody_present")]
    # The event closed by the moderator: nobody is expected anywhere.
    async with db.transaction() as tx:
        await tx.execute("UPDATE event SET is_open = 0")
    closed = await dashboard.state(db, await load_event(db), T)
    assert closed["event"]["is_open"] is False
    assert not [k for k in _keys(closed) if k.startswith("nobody_present")]


async def test_alert_texts_are_translated(db: Database, scripted: tuple[Event, Scripted]) -> None:
    event, _s = scripted
    set_language("en")
    try:
        state = await dashboard.state(db, event, T)
    finally:
        set_language("nl")
    texts = {a["kind"]: a["text"] for a in state["alerts"]}
    assert texts["long_wait"] == "At Zorggroep A someone has been waiting for over 10 min."
    assert texts["nobody_present"] == (
        "Bouwbedrijf B is open according to the schedule, but nobody is there."
    )


# -- charts ----------------------------------------------------------------------------------


async def test_waiting_and_running_over_the_day(
    db: Database, scripted: tuple[Event, Scripted]
) -> None:
    event, _s = scripted
    series = await dashboard.over_the_day(db, event, T)
    # From the opening at 09:00 to now (14:00), every quarter of an hour.
    assert len(series.labels) == 21
    assert (series.labels[0], series.labels[16], series.labels[-1]) == ("09:00", "13:00", "14:00")
    at = dict(zip(series.labels, zip(series.waiting, series.running, strict=True), strict=True))
    assert at["14:00"] == (3, 2)  # r1 r2 r3 waiting; k2 k3 running
    assert at["13:45"] == (2, 0)  # r1 and k3's request (accepted at 13:46)
    assert at["13:15"] == (1, 0)  # the cancelled one (12:53–13:18); k1 ended at 13:10
    assert at["13:00"] == (1, 1)  # k1 started (its request closed at that moment)
    assert at["12:45"] == (0, 0)  # the declined one waited 12:36–12:43
    assert at["12:00"] == (0, 1)  # k4
    assert at["09:00"] == (0, 0)


async def test_the_wait_distribution_of_today(
    db: Database, scripted: tuple[Event, Scripted]
) -> None:
    event, _s = scripted
    # 0–2: k1 k2 k3 k4 k7 (1 min each); 2–5: r2 (2 min), r3 (3 min 20); 5–10: the declined
    # one (6 min 40); 10–20: r1 (15 min); 20+: the cancelled one (25 min). k5 and k6 were
    # asked for yesterday.
    assert await dashboard.wait_distribution(db, event, T) == [5, 2, 1, 1, 1]
    assert dashboard.bucket_labels() == ["0–2", "2–5", "5–10", "10–20", "20+"]


async def test_the_charts_carry_their_numbers_as_a_table(
    db: Database, scripted: tuple[Event, Scripted]
) -> None:
    event, _s = scripted
    (day_key, day), (waits_key, waits) = await charts(db, event, T)
    assert (day_key, waits_key) == ("chart-day", "chart-waits")
    assert day.columns == ("Wachtenden", "Lopende gesprekken")
    assert len(day.rows) == 21
    assert day.rows[-1] == ("14:00", (3, 2))
    assert [len(s.markers) for s in day.series] == [21, 21]
    assert waits.rows == (
        ("0–2 min.", (5,)),
        ("2–5 min.", (2,)),
        ("5–10 min.", (1,)),
        ("10–20 min.", (1,)),
        ("20+ min.", (1,)),
    )
    heights = [b.height for b in waits.bars]
    assert heights[0] > heights[1] > heights[2] == heights[3] == heights[4] > 0


# -- candidates online, across processes -----------------------------------------------------


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_candidates_online_follow_connections_in_two_processes(tmp_path: Path) -> None:
    path = tmp_path / "two.db"
    first, second = await open_db(path), await open_db(path)
    try:
        await make_event(first)
        c = await _candidates(first, 2)
        clock = Clock(T)
        one = Presence(first, clock, grace_seconds=30)  # refreshes every 10 s
        two = Presence(second, clock, grace_seconds=30)
        assert await presence.online_count(first, T) == 0
        await one.arrived("candidate", c[0])
        await one.arrived("candidate", c[0])  # a second tab
        await two.arrived("candidate", c[0])  # and one to the other process
        await two.arrived("candidate", c[1])
        await one.arrived("advisor", 99)  # staff are not candidates
        assert await presence.online_count(first, T) == 2
        await one.left("candidate", c[0])
        assert await presence.online_count(first, T) == 2  # one tab still open here
        await one.left("candidate", c[0])
        # The last connection here closed; the other process counts them again at its next
        # refresh.
        assert await presence.online_count(first, T) == 1
        await presence.mark_online(second, [c[0], c[1]], two._online_until())
        assert await presence.online_count(first, T) == 2
        await two.left("candidate", c[1])
        assert await presence.online_count(first, T) == 1
        # A process that stops without a word: its candidates drop out after a few refreshes.
        assert await presence.online_count(first, T + 29) == 1
        assert await presence.online_count(first, T + 30) == 0
    finally:
        await first.close()
        await second.close()


# -- pushed with no change at all ------------------------------------------------------------


async def test_the_dashboard_is_pushed_only_to_moderators_connected_here(db: Database) -> None:
    event = await make_event(db)
    booth = await _booth(db, "a", "A", 0)
    await make_advisor(db, booth, "a@test.example", status="in_conversation")
    c = await _candidates(db, 1)
    await _request(db, booth, c[0], T - 590)  # the limit is 600 s
    hub = MemoryHub()
    clock = Clock(T)
    live = Live(db, hub, clock)
    assert await live.overview_tick() is False  # nobody to tell: nothing read
    with hub.local.subscribed(["moderators"]) as moderators:
        assert await live.overview_tick() is True
        clock.now = T + 50  # nothing changed but the time
        assert await live.overview_tick() is True
        pushed = [json.loads(m) for m in moderators.drain()]
    assert [p["event"] for p in pushed] == ["overview.state", "overview.state"]
    assert [[a["kind"] for a in p["data"]["alerts"]] for p in pushed] == [[], ["long_wait"]]
    assert pushed[0]["data"]["rev"] == pushed[1]["data"]["rev"] == await db.revision()
    assert event.name == pushed[0]["data"]["event"]["name"]


async def test_a_real_server_pushes_an_alert_that_comes_with_the_time_alone(
    world_db: tuple[Path, World], tmp_path: Path
) -> None:
    path, world = world_db
    connection = sqlite3.connect(path)
    with connection:
        connection.execute("UPDATE event SET wait_alert_seconds = 2")
    connection.close()
    server = LiveServer(path, tmp_path / "alerts.log")
    server.start()
    moderator, candidate = Browserless(server), Browserless(server)
    try:
        await moderator.log_in("mod@test.example")
        socket = await moderator.socket()
        assert not [a for a in socket.state["overview"]["alerts"] if a["kind"] == "long_wait"]
        await candidate.sign_in_candidate()
        token = await candidate.csrf(f"/inzoomen/{world.booth_a}")
        response = await candidate.http.post(
            f"/inzoomen/{world.booth_a}", data={"csrf": token, "question": "", "client_key": "k"}
        )
        assert response.status_code == 303
        queued = await socket.next_event(
            "overview.state", timeout=10, where=lambda d: d["totals"]["waiting"] == 1
        )
        assert "long_wait" not in [a["kind"] for a in queued["alerts"]]
        # Nobody does anything more: two seconds later the wait is over the limit, and the
        # next push says so.
        alerted = await socket.next_event(
            "overview.state",
            timeout=15,
            where=lambda d: "long_wait" in [a["kind"] for a in d["alerts"]],
        )
        # The same request, still waiting: only the time moved on.
        assert alerted["totals"] == queued["totals"]
        long_wait = next(a for a in alerted["alerts"] if a["kind"] == "long_wait")
        assert long_wait["booth_id"] == world.booth_a
        page = await moderator.http.get("/moderator")
        assert page.status_code == 200
        assert 'data-testid="alert-long_wait"' in page.text
        assert 'data-testid="total-waiting">1</dd>' in page.text
        assert f'href="/moderator/ingrijpen#stand-{world.booth_a}"' in page.text
        assert 'data-testid="chart-day"' in page.text
        fragment = await moderator.http.get("/moderator/grafieken")
        assert fragment.status_code == 200
        assert fragment.text.count("<figure") == 2 and "<html" not in fragment.text
        assert 'data-testid="chart-waits"' in fragment.text
        await socket.close()
    finally:
        await moderator.aclose()
        await candidate.aclose()
        server.stop()


async def test_candidates_online_across_two_workers(
    two_workers: tuple[LiveServer, LiveServer], people: list[Browserless]
) -> None:
    """One candidate with a connection to each worker counts once; when the connection to
    one worker closes they still count (the other worker marks them again within its
    refresh); when the last one closes they no longer do."""
    a, b = two_workers
    people += [Browserless(a), Browserless(b), Browserless(b)]
    on_a, on_b, moderator = people
    await on_a.sign_in_candidate("Twee Tabs", "twee@example.nl")
    on_b.http.cookies = on_a.http.cookies  # the same browser, its tabs on either worker
    await moderator.log_in("mod@test.example")
    watch = await moderator.socket()
    tab_a, tab_b = await on_a.socket(), await on_b.socket()

    def online(n: int) -> Any:
        return lambda d: d["totals"]["candidates_online"] == n

    await watch.next_event("overview.state", timeout=15, where=online(1))
    await tab_a.close()
    # Longer than the other worker's refresh (10 s), then the next push: still online.
    await asyncio.sleep(presence.REFRESH_MAX_SECONDS + 1)
    watch.events.clear()
    state = await watch.next_event("overview.state", timeout=15)
    assert state["totals"]["candidates_online"] == 1
    await tab_b.close()
    await watch.next_event("overview.state", timeout=15, where=online(0))
    await watch.close()
