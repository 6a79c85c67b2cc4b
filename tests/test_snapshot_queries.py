"""The snapshots cost a few reads, however big the hall, and say what they always said.

The reads are counted on a real SQLite file (``Database.observe_reads``, sqlite3's trace
callback on the reader connection) for a small event (3 booths, 5 candidates) and a big one
(40 booths, 200 candidates, from tests/snapshotkit.py): each snapshot must make the same
number of reads in both. The big event's snapshots must equal, to the key order of the JSON,
tests/fixtures/snapshots-40-booths.json, recorded from the snapshot code that read booth by
booth (commit cfd6972) with ``python -m tests.snapshotkit``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from app.live import snapshots
from app.storage.db import Database
from tests.snapshotkit import NOW, Seeded, capture, dump, seeded_file

FIXTURE = Path(__file__).parent / "fixtures" / "snapshots-40-booths.json"

# The reads each snapshot makes: booths with their schedule, advisors with their running
# conversation, queue lengths with measured conversation lengths (hall); the advisor with
# booth, conversation, candidate and settings, the booth's line, follow-ups, and with a
# conversation the transfer targets (two reads, app.domain.transfer) (console); the latest
# request, the conversations, the rating, and when waiting the line, the advisors and the
# lengths, when the booth closed the hall for suggestions (candidate). The overview is
# app.domain.dashboard.state's, unchanged.
EXPECTED = {
    "hall": 3,
    "one booth": 3,
    "overview": 6,
    "waiting at a booth": 3,
    "nobody waiting at a booth": 1,
    "console": 3,
    "console, in a conversation": 5,
    "candidate, waiting": 6,
    "candidate, in a conversation": 3,
    "candidate, talked": 3,
    "candidate, declined": 3,
    "candidate, booth closed": 6,
    "candidate, no request": 3,
}


def _candidate_case(state: dict[str, Any]) -> str:
    request, conversation = state["request"], state["conversation"]
    if conversation is not None:
        return "in a conversation" if conversation["ended_at"] is None else "talked"
    if request is None:
        return "no request"
    if request["closed_reason"] == "booth_closed":
        return "booth closed"
    return str(request["status"])


async def _reads(db: Database, seeded: Seeded) -> dict[str, set[int]]:
    """For each kind of snapshot, the numbers of reads its builds made (one number each
    when the count does not depend on which booth, advisor or candidate it is for)."""
    counts: dict[str, set[int]] = defaultdict(set)
    statements: list[str] = []

    async def count(case: str, build: Awaitable[Any]) -> Any:
        statements.clear()
        with db.observe_reads(statements.append):
            result = await build
        # A snapshot only reads.
        assert all(s.lstrip().upper().startswith("SELECT") for s in statements), statements
        counts[case].add(len(statements))
        return result

    event = seeded.event
    await count("hall", snapshots.hall(db, event, NOW))
    await count("overview", snapshots.overview(db, event, NOW))
    for booth in seeded.booths:
        await count("one booth", snapshots.booth_views(db, event, NOW, booth))
        statements.clear()
        with db.observe_reads(statements.append):
            views = await snapshots.waiting_request_views(db, event, booth, NOW)
        counts["waiting at a booth" if views else "nobody waiting at a booth"].add(len(statements))
    for advisor in seeded.advisors:
        statements.clear()
        with db.observe_reads(statements.append):
            console = await snapshots.console_state(db, event, advisor, NOW)
        case = "console" if console["conversation"] is None else "console, in a conversation"
        counts[case].add(len(statements))
    for candidate in seeded.candidates:
        statements.clear()
        with db.observe_reads(statements.append):
            state = await snapshots.candidate_state(db, event, candidate, NOW)
        counts[f"candidate, {_candidate_case(state)}"].add(len(statements))
    return dict(counts)


async def test_each_snapshot_makes_as_many_reads_for_40_booths_as_for_3(tmp_path: Path) -> None:
    found = {}
    for booths, candidates in ((3, 5), (40, 200)):
        path = tmp_path / f"hall-{booths}.db"
        seeded = await seeded_file(path, booths=booths, candidates=candidates)
        db = await Database.open(path)
        try:
            found[booths] = await _reads(db, seeded)
        finally:
            await db.close()
    small, big = found[3], found[40]
    # The small event has one candidate of each main kind and booths nobody waits at; the
    # big one has people waiting at every booth, and candidates of every kind.
    assert set(small) == set(EXPECTED) - {"candidate, no request"}
    assert set(big) == set(EXPECTED) - {"nobody waiting at a booth"}
    for case, counts in small.items():
        assert counts == big.get(case, counts), case
    assert {**small, **big} == {case: {n} for case, n in EXPECTED.items()}
    assert max(EXPECTED.values()) <= 10


async def test_the_snapshots_of_a_big_event_are_as_recorded(tmp_path: Path) -> None:
    seeded = await seeded_file(tmp_path / "hall.db", booths=40, candidates=200)
    db = await Database.open(tmp_path / "hall.db")
    try:
        captured = await capture(db, seeded)
        one_by_one = {
            booth: await snapshots.booth_views(db, seeded.event, NOW, booth)
            for booth in seeded.booths
        }
        waiting = {
            booth: await snapshots.waiting_request_views(db, seeded.event, booth, NOW)
            for booth in seeded.booths
        }
    finally:
        await db.close()
    recorded = json.loads(FIXTURE.read_text(encoding="utf-8"))
    now = json.loads(dump(captured))
    # Part by part first, so a difference points at the snapshot it is in.
    assert now["hall"] == recorded["hall"]
    assert now["hall_at_19"] == recorded["hall_at_19"]
    assert now["overview"] == recorded["overview"]
    for advisor, console in recorded["consoles"].items():
        assert now["consoles"][advisor] == console, f"console of advisor {advisor}"
    for candidate, state in recorded["candidates"].items():
        assert now["candidates"][candidate] == state, f"state of candidate {candidate}"
    # The same text: the same keys in the same order too.
    assert dump(captured) == FIXTURE.read_text(encoding="utf-8")

    # One booth's view is its card in the hall; the views pushed to a booth's waiting
    # candidates are their own states' requests.
    cards = {card["id"]: card for card in captured["hall"]["booths"]}
    assert len(cards) == 40
    for booth, views in one_by_one.items():
        assert views == [cards[booth]]
    pushed = 0
    for views_at_booth in waiting.values():
        for candidate, view in views_at_booth.items():
            assert captured["candidates"][str(candidate)]["request"] == view
            pushed += 1
    assert pushed == captured["overview"]["totals"]["waiting"] == 100
