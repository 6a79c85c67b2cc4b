"""The grace period: a candidate whose connection drops keeps their place for a while.

Service tests on a real SQLite file (``app.domain.presence`` and the lapse handled by
``app.live.deadlines``), and live tests against a real server whose grace period is 2 s.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from app.core.config import ConfigError, load_settings
from app.domain import presence, queue
from app.domain.presence import Presence
from app.live.deadlines import Deadlines
from app.live.hub import MemoryHub
from app.live.publish import Live
from app.storage.db import Database
from tests.browserkit import chromium, sign_in
from tests.livekit import Browserless, LiveServer, World, csrf_from, seed_world
from tests.rediskit import RedisServer
from tests.servicekit import (
    make_advisor,
    make_booth,
    make_candidate,
    make_event,
    make_request,
    open_db,
)

GRACE = 180.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def _waiting(db: Database, names: tuple[str, ...]) -> tuple[int, list[queue.Request]]:
    event = await make_event(db)
    booth = await make_booth(db, "zorg")
    await make_advisor(db, booth, "a@zorg.nl")
    made = []
    for i, name in enumerate(names):
        candidate = await make_candidate(db, name)
        made.append(await make_request(db, event, candidate, booth, now=time.time() + i))
    return booth, made


async def _away_since(db: Database, request_id: int) -> float | None:
    value = await db.fetchvalue("SELECT away_since FROM requests WHERE id = ?", (request_id,))
    return None if value is None else float(value)


async def test_a_request_made_while_connected_is_present(db: Database) -> None:
    _booth, (request,) = await _waiting(db, ("Sanne",))
    assert request.away_since is None
    assert await presence.next_lapse(db, GRACE) is None
    assert await presence.lapse_due(db, time.time() + 10 * GRACE, GRACE) == []


async def test_away_past_the_grace_period_lapses_once(db: Database) -> None:
    _booth, (sanne, kees) = await _waiting(db, ("Sanne", "Kees"))
    t = time.time()
    assert await presence.mark_away(db, sanne.candidate_id, t)
    assert not await presence.mark_away(db, sanne.candidate_id, t + 5)  # keeps the first
    assert await _away_since(db, sanne.id) == t
    assert await presence.next_lapse(db, GRACE) == t + GRACE

    assert await presence.lapse_due(db, t + GRACE - 0.001, GRACE) == []
    lapsed = await presence.lapse_due(db, t + GRACE, GRACE)
    assert [r.id for r in lapsed] == [sanne.id]
    assert lapsed[0].status == "expired" and lapsed[0].closed_reason == "away"
    assert lapsed[0].closed_at == t + GRACE
    assert await presence.lapse_due(db, t + 2 * GRACE, GRACE) == []
    assert await presence.next_lapse(db, GRACE) is None
    # Kees never left: still waiting, now first in line.
    assert [e.request.id for e in await queue.waiting_at_booth(db, kees.booth_id)] == [kees.id]


async def test_coming_back_within_grace_keeps_the_place(db: Database) -> None:
    booth, (sanne, kees) = await _waiting(db, ("Sanne", "Kees"))
    t = time.time()
    await presence.mark_away(db, sanne.candidate_id, t)
    assert await presence.mark_present(db, [sanne.candidate_id]) == 1
    assert await presence.mark_present(db, [sanne.candidate_id]) == 0  # writes nothing
    assert await _away_since(db, sanne.id) is None
    assert await presence.lapse_due(db, t + 10 * GRACE, GRACE) == []
    line = await queue.waiting_at_booth(db, booth)
    assert [(e.request.id, e.position) for e in line] == [(sanne.id, 1), (kees.id, 2)]


async def test_a_page_view_starts_the_grace_period_again(db: Database) -> None:
    _booth, (sanne,) = await _waiting(db, ("Sanne",))
    t = time.time()
    assert not await presence.seen(db, sanne.candidate_id, t)  # connected: nothing to do
    await presence.mark_away(db, sanne.candidate_id, t)
    assert await presence.seen(db, sanne.candidate_id, t + 100)
    assert await _away_since(db, sanne.id) == t + 100
    assert await presence.lapse_due(db, t + GRACE + 50, GRACE) == []
    assert [r.id for r in await presence.lapse_due(db, t + 100 + GRACE, GRACE)] == [sanne.id]


async def test_after_a_start_nobody_seen_yet_starts_the_grace_period(tmp_path: Path) -> None:
    path = tmp_path / "hall.db"
    db = await open_db(path)
    _booth, (sanne, kees) = await _waiting(db, ("Sanne", "Kees"))
    t = time.time()
    await presence.mark_away(db, kees.candidate_id, t - 60)  # left before the restart
    await db.close()

    db = await open_db(path)
    try:
        tracker = Presence(db, Clock(t), GRACE)
        await tracker.start()
        assert await _away_since(db, sanne.id) == t
        assert await _away_since(db, kees.id) == t - 60  # the earlier moment counts
        await tracker.arrived("candidate", sanne.candidate_id)
        assert await _away_since(db, sanne.id) is None
        lapsed = await presence.lapse_due(db, t + GRACE, GRACE)
        assert [r.id for r in lapsed] == [kees.id]
    finally:
        await db.close()


async def test_the_last_connection_closing_marks_away(db: Database) -> None:
    _booth, (sanne,) = await _waiting(db, ("Sanne",))
    clock = Clock(time.time())
    woken: list[float] = []

    async def wake() -> None:
        woken.append(clock.now)

    tracker = Presence(db, clock, GRACE, on_change=wake)
    who = sanne.candidate_id
    await tracker.arrived("candidate", who)
    await tracker.arrived("candidate", who)  # a second tab
    await tracker.arrived("anonymous", None)  # ignored
    await tracker.left("candidate", who)
    assert tracker.connected(who)
    assert await _away_since(db, sanne.id) is None and woken == []

    clock.now += 5
    await tracker.left("candidate", who)
    assert not tracker.connected(who)
    assert await _away_since(db, sanne.id) == clock.now
    assert woken == [clock.now]  # the deadlines are told about the new lapse

    clock.now += 1
    await tracker.arrived("candidate", who)
    assert await _away_since(db, sanne.id) is None
    # Back: the deadlines are told too (the one who is next may now be asked if ready).
    assert woken == [clock.now - 1, clock.now]


async def test_a_form_request_without_a_socket_starts_away(db: Database) -> None:
    _booth, (sanne, kees) = await _waiting(db, ("Sanne", "Kees"))
    clock = Clock(time.time())
    tracker = Presence(db, clock, GRACE)
    await tracker.arrived("candidate", kees.candidate_id)
    await tracker.request_made_without_connection(sanne.candidate_id)
    await tracker.request_made_without_connection(kees.candidate_id)
    assert await _away_since(db, sanne.id) == clock.now
    assert await _away_since(db, kees.id) is None  # connected in this process


async def test_each_process_marks_its_candidates_present_again(tmp_path: Path) -> None:
    """Two processes on one file: one closing marks a candidate away, the other, where the
    candidate is still connected, clears it within its refresh period."""
    path = tmp_path / "hall.db"
    db_a = await open_db(path)
    db_b = await open_db(path)
    try:
        _booth, (sanne,) = await _waiting(db_a, ("Sanne",))
        who = sanne.candidate_id
        a = Presence(db_a, time.time, 0.9)
        b = Presence(db_b, time.time, 0.9)
        assert b.refresh_seconds == pytest.approx(0.3)
        await a.arrived("candidate", who)
        await b.arrived("candidate", who)
        refresher = asyncio.create_task(b.run())
        try:
            await a.left("candidate", who)
            assert await _away_since(db_a, sanne.id) is not None
            await asyncio.sleep(b.refresh_seconds * 2 + 0.2)
            assert await _away_since(db_a, sanne.id) is None
        finally:
            refresher.cancel()
            with pytest.raises(asyncio.CancelledError):
                await refresher
    finally:
        await db_a.close()
        await db_b.close()


async def test_deadlines_lapse_away_requests_and_tell_everyone(db: Database) -> None:
    booth, (sanne, kees) = await _waiting(db, ("Sanne", "Kees"))
    advisor = int(
        await db.fetchvalue(
            "SELECT id FROM staff WHERE booth_id = ? AND role = 'advisor'", (booth,)
        )
    )
    # Paused: nobody is free to take them, so nobody is asked whether they are ready
    # (app.domain.readiness) and only the lapse is told.
    async with db.transaction() as tx:
        await tx.execute("UPDATE staff SET status = 'paused' WHERE id = ?", (advisor,))
    t = time.time()
    clock = Clock(t)
    hub = MemoryHub()
    deadlines = Deadlines(db, Live(db, hub, clock), clock, grace_seconds=GRACE)
    await presence.mark_away(db, sanne.candidate_id, t)
    assert await deadlines.next_deadline() == t + GRACE
    topics = [f"candidate:{sanne.candidate_id}", f"staff:{advisor}"]
    with hub.local.subscribed(topics) as inbox:
        clock.now = t + GRACE - 1
        await deadlines.run_due()
        assert inbox.drain() == []
        clock.now = t + GRACE
        await deadlines.run_due()
        frames = [json.loads(m) for m in inbox.drain()]
    mine = [f["data"] for f in frames if f["event"] == "me.state"]
    assert mine[-1]["request"]["status"] == "expired"
    assert mine[-1]["request"]["closed_reason"] == "away"
    consoles = [f["data"] for f in frames if f["event"] == "console.state"]
    assert [q["request_id"] for q in consoles[-1]["queue"]] == [kees.id]
    # Without a grace period nothing lapses for being away.
    assert await Deadlines(db, Live(db, MemoryHub(), clock), clock).next_deadline() == (
        kees.expires_at
    )


def test_the_grace_period_is_configured_with_a_sensible_minimum() -> None:
    assert load_settings({}).grace_seconds == 180
    assert load_settings({"INZOOMEN_GRACE_SECONDS": "45"}).grace_seconds == 45
    with pytest.raises(ConfigError, match="INZOOMEN_GRACE_SECONDS"):
        load_settings({"INZOOMEN_GRACE_SECONDS": "0"})
    with pytest.raises(ConfigError, match="whole number"):
        load_settings({"INZOOMEN_GRACE_SECONDS": "soon"})
    demo = {"INZOOMEN_ENV": "demo", "INZOOMEN_GRACE_SECONDS": "10"}
    with pytest.raises(ConfigError, match="at least 30"):
        load_settings(demo)
    # A development hall (tests) may use a short one.
    assert load_settings({"INZOOMEN_GRACE_SECONDS": "2"}).grace_seconds == 2


# -- live: a real server with a grace period of 2 s -------------------------------------------

LIVE_GRACE = 2.0


@pytest.fixture
def grace_hall(world_db: tuple[Path, World], tmp_path: Path) -> Iterator[LiveServer]:
    env = {"INZOOMEN_GRACE_SECONDS": str(int(LIVE_GRACE)), "INZOOMEN_REQUESTS_PER_MINUTE": "60"}
    live = LiveServer(world_db[0], tmp_path / "grace.log", env=env)
    live.start()
    try:
        yield live
    finally:
        live.stop()


def _queue_ids(console: dict[str, Any]) -> list[int]:
    return [q["request_id"] for q in console["queue"]]


async def test_live_drop_within_grace_keeps_the_place_beyond_it_lapses(
    grace_hall: LiveServer, world: World
) -> None:
    people = [Browserless(grace_hall) for _ in range(3)]
    advisor, sanne, kees = people
    try:
        await advisor.log_in("b1@test.example")
        console = await advisor.socket()
        await sanne.sign_in_candidate("Sanne", "sanne@example.nl")
        await kees.sign_in_candidate("Kees", "kees@example.nl")
        ids = []
        for person, key in ((sanne, "s-1"), (kees, "k-1")):
            peer = await person.socket()
            reply = await peer.send(
                "request.create", {"booth_id": world.booth_b, "client_key": key}
            )
            assert reply["ok"], reply
            ids.append(reply["data"]["request_id"])
            await peer.close()
            if person is sanne:
                # Sanne is back within the grace period (a reconnect after a drop).
                await asyncio.sleep(LIVE_GRACE / 4)
                sanne_peer = await sanne.socket()
        sanne_id, kees_id = ids
        dropped_at = time.time()
        await console.next_event("console.state", where=lambda c: kees_id in _queue_ids(c))

        # Kees stays away: his request lapses after the grace period and the advisor's
        # queue updates live; Sanne keeps her place, now first in line.
        state = await console.next_event(
            "console.state", timeout=LIVE_GRACE + 3, where=lambda c: kees_id not in _queue_ids(c)
        )
        lapsed_after = time.time() - dropped_at
        assert _queue_ids(state) == [sanne_id]
        assert LIVE_GRACE - 0.5 <= lapsed_after <= LIVE_GRACE + 2, lapsed_after
        await asyncio.sleep(LIVE_GRACE + 0.5)
        sync = await sanne_peer.send("session.sync")
        assert sync["data"]["me"]["request"]["status"] == "waiting"
        assert sync["data"]["me"]["request"]["position"] == 1

        # When Kees comes back, he is told kindly what happened.
        kees_peer = await kees.socket()
        request = kees_peer.state["me"]["request"]
        assert (request["id"], request["status"], request["closed_reason"]) == (
            kees_id,
            "expired",
            "away",
        )
        page = await kees.http.get("/mijn-verzoek")
        assert 'data-testid="state-lapsed"' in page.text
        assert "Je plek in de wachtrij is vervallen." in page.text
        for peer in (console, sanne_peer, kees_peer):
            await peer.close()
    finally:
        for person in people:
            await person.aclose()


async def test_live_without_javascript_page_views_keep_the_place(
    grace_hall: LiveServer, world: World
) -> None:
    """A request made through the form, with no socket: the page refreshes itself (a
    noscript refresh) and every view counts, so the place is kept while the page is open."""
    noor = Browserless(grace_hall)
    try:
        await noor.sign_in_candidate("Noor", "noor@example.nl")
        form = (await noor.http.get(f"/inzoomen/{world.booth_a}")).text
        key = form.split('name="client_key" value="')[1].split('"')[0]
        response = await noor.http.post(
            f"/inzoomen/{world.booth_a}",
            data={"csrf": csrf_from(form), "client_key": key, "question": "", "advisor_id": ""},
        )
        assert response.status_code == 303, response.text
        page = (await noor.http.get("/mijn-verzoek")).text
        assert '<noscript><meta http-equiv="refresh" content="1"></noscript>' in page
        # The page reloads every second for three grace periods: the place is kept.
        until = time.monotonic() + 3 * LIVE_GRACE
        while time.monotonic() < until:
            await asyncio.sleep(1)
            page = (await noor.http.get("/mijn-verzoek")).text
            assert 'data-testid="state-waiting"' in page
        # The tab is closed: no more views, and the place lapses after the grace period.
        await asyncio.sleep(LIVE_GRACE + 1.5)
        db = await open_db(grace_hall.db_path)
        try:
            row = await db.fetchone(
                "SELECT r.status, r.closed_reason FROM requests r "
                "JOIN candidates c ON c.id = r.candidate_id WHERE c.email = ?",
                ("noor@example.nl",),
            )
        finally:
            await db.close()
        assert row is not None and (row["status"], row["closed_reason"]) == ("expired", "away")
        page = (await noor.http.get("/mijn-verzoek")).text
        assert 'data-testid="state-lapsed"' in page and "http-equiv" not in page
    finally:
        await noor.aclose()


async def test_live_restart_starts_the_grace_period_of_those_not_back(
    tmp_path: Path,
) -> None:
    path = tmp_path / "hall.db"
    world = await seed_world(path)
    # Long enough for the first candidate to be back whatever the machine's load: what is
    # tested is who gets the grace period, not how fast anyone reconnects.
    grace = 15
    env = {"INZOOMEN_GRACE_SECONDS": str(grace), "INZOOMEN_REQUESTS_PER_MINUTE": "60"}
    server = LiveServer(path, tmp_path / "restart.log", env=env)
    server.start()
    people = [Browserless(server) for _ in range(2)]
    try:
        ids = []
        for i, person in enumerate(people):
            await person.sign_in_candidate(f"Kandidaat {i}", f"k{i}@example.nl")
            peer = await person.socket()
            reply = await peer.send(
                "request.create", {"booth_id": world.booth_a, "client_key": "x"}
            )
            assert reply["ok"], reply
            ids.append(reply["data"]["request_id"])
        server.stop()  # every connection closes with the process
        server.start()
        # The first comes back at once, the second never does.
        back = await people[0].socket()
        status = "waiting"
        deadline = time.monotonic() + grace + 60
        while status == "waiting" and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            db = await open_db(path)
            try:
                status = await db.fetchvalue("SELECT status FROM requests WHERE id = ?", (ids[1],))
            finally:
                await db.close()
        assert status == "expired"
        sync = (await back.send("session.sync"))["data"]["me"]["request"]
        assert (sync["id"], sync["status"]) == (ids[0], "waiting")
        await back.close()
    finally:
        for person in people:
            await person.aclose()
        server.stop()


@pytest.mark.browser
async def test_without_javascript_the_page_refreshes_itself_and_keeps_the_place(
    grace_hall: LiveServer, world: World
) -> None:
    async with chromium() as browser:
        context = await browser.new_context(java_script_enabled=False)
        page = await context.new_page()
        await sign_in(page, grace_hall, "Noor", "noor@example.nl", f"/inzoomen/{world.booth_a}")
        await page.get_by_role("button", name="Inzoomen").click()
        await expect(page).to_have_url(re.compile("/mijn-verzoek$"))
        loads: list[float] = []
        page.on("load", lambda _page: loads.append(time.monotonic()))
        # Three grace periods with the page open: it reloads by itself and keeps the place.
        await asyncio.sleep(3 * LIVE_GRACE)
        assert len(loads) >= 3, loads
        await expect(page.get_by_test_id("position")).to_contain_text("nummer 1")
        # The tab is closed: after the grace period the place lapses.
        await page.close()
        await asyncio.sleep(LIVE_GRACE + 1.5)
        page = await context.new_page()
        await page.goto(f"{grace_hall.url}/mijn-verzoek")
        await expect(page.get_by_test_id("state-lapsed")).to_be_visible()
        await context.close()


async def test_live_two_workers_a_candidate_connected_to_either_keeps_the_place(
    world_db: tuple[Path, World], tmp_path: Path, redis_server: RedisServer, redis_prefix: str
) -> None:
    """Two worker processes on one file: a candidate's socket to one of them closes while
    another to the second stays open; their place is kept, however long. When the second
    goes too, the grace period runs and the place lapses."""
    env = {
        "INZOOMEN_GRACE_SECONDS": str(int(LIVE_GRACE)),
        "INZOOMEN_REDIS_URL": redis_server.url,
        "INZOOMEN_REDIS_PREFIX": redis_prefix,
    }
    a = LiveServer(world_db[0], tmp_path / "a.log", env=env)
    b = LiveServer(world_db[0], tmp_path / "b.log", env=env)
    a.start()
    b.start()
    on_a, on_b = Browserless(a), Browserless(b)
    try:
        await on_a.sign_in_candidate("Sanne", "sanne@example.nl")
        on_b.http.cookies = on_a.http.cookies  # the same person, in a second tab
        peer_a = await on_a.socket()
        peer_b = await on_b.socket()
        reply = await peer_a.send(
            "request.create", {"booth_id": world_db[1].booth_a, "client_key": "w"}
        )
        assert reply["ok"], reply
        request_id = reply["data"]["request_id"]
        await peer_a.close()
        await asyncio.sleep(3 * LIVE_GRACE)
        me = (await peer_b.send("session.sync"))["data"]["me"]["request"]
        assert (me["id"], me["status"]) == (request_id, "waiting")
        await peer_b.close()
        await asyncio.sleep(LIVE_GRACE + 2)
        db = await open_db(world_db[0])
        try:
            row = await db.fetchone(
                "SELECT status, closed_reason FROM requests WHERE id = ?", (request_id,)
            )
        finally:
            await db.close()
        assert row is not None and (row["status"], row["closed_reason"]) == ("expired", "away")
    finally:
        await on_a.aclose()
        await on_b.aclose()
        a.stop()
        b.stop()
