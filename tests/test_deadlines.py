"""Timers fire from stored deadlines, also after a restart, each exactly once."""

from __future__ import annotations

import json
import time
from pathlib import Path

from app.domain import conversations, readiness
from app.live.deadlines import Deadlines
from app.live.hub import MemoryHub
from app.live.publish import Live
from tests.servicekit import (
    make_advisor,
    make_booth,
    make_candidate,
    make_event,
    make_request,
    open_db,
)


class Clock:
    """The time the deadlines see; tests move it forward by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_timers_resume_after_restart_with_their_end_time(tmp_path: Path) -> None:
    path = tmp_path / "hall.db"
    db = await open_db(path)
    event = await make_event(db, conversation_seconds=600, warning_seconds=120)
    booth = await make_booth(db, "zorg")
    advisor = await make_advisor(db, booth, "a@example.nl")
    candidate = await make_candidate(db)
    request = await make_request(db, event, candidate, booth)
    started = time.time()
    conversation, _ = await conversations.accept(
        db, event, advisor_id=advisor, request_id=request.id, now=started
    )
    # The candidate joined the call (else it ends as a no-show after the join limit).
    await readiness.join(db, candidate_id=candidate, conversation_id=conversation.id, now=started)
    await db.close()

    # A new process: nothing but the database file survives.
    db = await open_db(path)
    hub = MemoryHub()
    clock = Clock(started + 100)
    deadlines = Deadlines(db, Live(db, hub, clock), clock)
    assert await deadlines.next_deadline() == conversation.ends_at - 120

    with hub.local.subscribed([f"candidate:{candidate}", f"staff:{advisor}"]) as inbox:
        await deadlines.run_due()
        assert inbox.drain() == []  # nothing due yet

        clock.now = conversation.ends_at - 119
        await deadlines.run_due()
        await deadlines.run_due()  # running twice warns once
        warnings = [json.loads(m) for m in inbox.drain()]
        assert [w["event"] for w in warnings] == ["conversation.warning"] * 2  # both people
        assert warnings[0]["data"] == {"id": conversation.id, "ends_at": conversation.ends_at}
        assert await deadlines.next_deadline() == conversation.ends_at

        clock.now = conversation.ends_at + 1
        await deadlines.run_due()
        time_up = [json.loads(m) for m in inbox.drain()]
        assert {t["event"] for t in time_up} == {"conversation.time_up"}
    # Overtime: the conversation is still running; nobody was cut off.
    still = await conversations.running_for_advisor(db, advisor)
    assert still is not None and still.ends_at == conversation.ends_at
    await db.close()


async def test_waiting_request_expires_and_candidate_is_told(tmp_path: Path) -> None:
    db = await open_db(tmp_path / "hall.db")
    event = await make_event(db)
    booth = await make_booth(db, "bouw")
    candidate = await make_candidate(db)
    request = await make_request(db, event, candidate, booth)
    hub = MemoryHub()
    clock = Clock(request.expires_at + 1)
    deadlines = Deadlines(db, Live(db, hub, clock), clock)
    with hub.local.subscribed([f"candidate:{candidate}"]) as inbox:
        await deadlines.run_due()
        told = json.loads(inbox.drain()[0])
    assert told["event"] == "me.state"
    assert told["data"]["request"]["status"] == "expired"
    assert await deadlines.next_deadline() is None
    await db.close()
