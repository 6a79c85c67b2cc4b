"""A fixed, seeded event of any size, for reading the snapshots of a busy hall.

Every row is written with fixed values (no clock, no random), so the same sizes give the same
database and the same snapshots: the snapshot tests compare against a recorded copy, and the
benchmark (bench/snapshots.py) times two trees on identical files. The hall has a bit of
everything the snapshots read: booths open by the schedule, opening later, opening tomorrow,
without a schedule, closed by the moderator and one removed; advisors in every status (one
inactive); waiting requests (some for one advisor, some asked "Ben je er klaar voor?", one
moved back in line, some transferred with a note); running conversations (some in overtime,
joined, with notes, extended); ended ones with and without a rating; declined requests and
requests closed with their booth; follow-ups; candidates online.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from app.domain.accounts import NO_PASSWORD
from app.domain.booths import OFFERS, SECTORS
from app.domain.event import Event, add_day, load_event, save_event
from app.storage.db import Database

ZONE = "Europe/Amsterdam"
DAY = date(2026, 3, 12)
# The moment every snapshot is read at: 11:00 on the event's day.
NOW = datetime(2026, 3, 12, 11, 0, tzinfo=ZoneInfo(ZONE)).timestamp()

# An accent and a small letter: a Dutch list orders them otherwise than byte order does.
FIRST_NAMES = ("Anna", "Bram", "Carla", "Daan", "Éva", "Femke", "gijs", "Hanna", "Ilse", "Joost")
LAST_NAMES = ("de Vries", "van Dijk", "Bakker", "'t Hart", "van den Berg", "Jansen", "de Boer")
KINDS = ("employer", "school", "advice_desk")
KIND_ORDER = (0, 5, 6, 7, 8, 1, 2, 3, 4, 9)


@dataclass
class Seeded:
    """What was made, by id, for the tests and the benchmark to read."""

    event: Event
    booths: list[int] = field(default_factory=list)
    advisors: list[int] = field(default_factory=list)
    candidates: list[int] = field(default_factory=list)


def _person(n: int) -> str:
    return f"{FIRST_NAMES[n % len(FIRST_NAMES)]} {LAST_NAMES[(n // 3) % len(LAST_NAMES)]} {n}"


async def seed(db: Database, *, booths: int, candidates: int) -> Seeded:
    """An event with ``booths`` booths (two advisors each) and ``candidates`` candidates, in
    one transaction. ``db`` must be freshly migrated and empty."""
    sectors = list(SECTORS)
    offers = list(OFFERS)
    tomorrow = (DAY + timedelta(days=1)).isoformat()
    today = DAY.isoformat()
    async with db.transaction() as tx:
        await save_event(
            tx,
            Event(
                name="LeerWerkWeek",
                timezone=ZONE,
                conversation_seconds=600,
                warning_seconds=120,
                # Each advisor's own link: the conversation's address is known beforehand.
                video_provider="personal",
                video_base_url="https://meet.example.org",
            ),
        )
        await add_day(tx, DAY, "08:00", "18:00")
        await add_day(tx, DAY + timedelta(days=1), "08:00", "18:00")

        booth_ids: list[int] = []
        for i in range(booths):
            booth_id = await tx.insert(
                "INSERT INTO booths (slug, name, kind, sector, offers, description, position, "
                "closed) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    f"stand-{i}",
                    f"{LAST_NAMES[i % len(LAST_NAMES)].title()} {sectors[i % len(sectors)]} {i}",
                    KINDS[i % len(KINDS)],
                    sectors[i % len(sectors)],
                    ",".join(offers[i % len(offers) : i % len(offers) + 1 + i % 3]),
                    f"Stand {i}: werken & leren <bij ons>",
                    i % 5,
                    int(i % 9 == 4),
                ),
            )
            booth_ids.append(booth_id)
            # Open now by the schedule, opening later today, opening tomorrow, no schedule.
            slots = (
                [(today, "08:00", "17:00")],
                [(today, "13:00", "17:00"), (tomorrow, "09:00", "12:00")],
                [(today, "08:00", "10:00"), (tomorrow, "09:00", "12:00")],
                [],
            )[i % 4]
            for day, starts, ends in slots:
                await tx.insert(
                    "INSERT INTO schedule (booth_id, day, starts, ends) VALUES (?, ?, ?, ?)",
                    (booth_id, day, starts, ends),
                )
        gone = await tx.insert(
            "INSERT INTO booths (slug, name, kind, sector, removed_at) "
            "VALUES ('weg', 'Verwijderde stand', 'school', 'zorg', ?)",
            (NOW - 3600,),
        )
        await tx.insert(
            "INSERT INTO schedule (booth_id, day, starts, ends) VALUES (?, ?, '08:00', '17:00')",
            (gone, today),
        )

        # Two advisors per booth; statuses cycle so every booth differs from its neighbours.
        advisor_ids: list[int] = []
        by_booth: dict[int, list[int]] = {}
        cycle = ("available", "paused", "available", "offline", "wrapping_up", "available")
        for i, booth_id in enumerate(booth_ids):
            for k in range(2):
                n = 2 * i + k
                status = cycle[n % len(cycle)]
                advisor_id = await tx.insert(
                    "INSERT INTO staff (email, name, role, password_hash, booth_id, "
                    "personal_link, status, status_since, wrap_up_until, active) "
                    "VALUES (?, ?, 'advisor', ?, ?, ?, ?, ?, ?, ?)",
                    (
                        f"adviseur{n}@stand{i}.nl",
                        # At every other booth the second advisor comes first by name.
                        _person(2 * i + (1 - k if i % 2 else k)),
                        NO_PASSWORD,
                        booth_id,
                        f"https://meet.example.org/adviseur-{n}",
                        status,
                        NOW - 30 * (n % 11) - 45,
                        NOW + 90 if status == "wrapping_up" else None,
                        int(n % 23 != 22),
                    ),
                )
                advisor_ids.append(advisor_id)
                by_booth.setdefault(booth_id, []).append(advisor_id)
            if i % 6 == 0:
                # One advisor's own block, later than the booth's: the booth closes later.
                await tx.insert(
                    "INSERT INTO schedule (booth_id, staff_id, day, starts, ends) "
                    "VALUES (?, ?, ?, '10:00', '17:30')",
                    (booth_id, by_booth[booth_id][0], today),
                )

        candidate_ids: list[int] = []
        for j in range(candidates):
            candidate_ids.append(
                await tx.insert(
                    "INSERT INTO candidates (name, email, phone, consent_at, created_at, "
                    "online_until) VALUES (?, ?, '', ?, ?, ?)",
                    (
                        _person(j + 7),
                        f"kandidaat{j}@voorbeeld.nl",
                        NOW - 4000,
                        NOW - 4000,
                        NOW + 30 if j % 3 else None,
                    ),
                )
            )

        async def request(j: int, booth_id: int, created: float, status: str, **more: Any) -> int:
            columns = {
                "booth_id": booth_id,
                "candidate_id": candidate_ids[j],
                "question": f"Vraag {j}: wat kan ik bij jullie <leren>?",
                "status": status,
                "client_key": f"k{j}",
                "created_at": created,
                "expires_at": created + 5400,
                **more,
            }
            names = ", ".join(columns)
            marks = ", ".join("?" * len(columns))
            return await tx.insert(
                f"INSERT INTO requests ({names}) VALUES ({marks})", tuple(columns.values())
            )

        async def conversation(
            j: int, booth_id: int, advisor_id: int, started: float, **more: Any
        ) -> int:
            request_id = await request(
                j, booth_id, started - 300, "accepted", closed_at=started, closed_by=advisor_id
            )
            n = advisor_ids.index(advisor_id)
            columns = {
                "request_id": request_id,
                "booth_id": booth_id,
                "advisor_id": advisor_id,
                "candidate_id": candidate_ids[j],
                "video_url": f"https://meet.example.org/adviseur-{n}",
                "room_url": f"https://meet.example.org/uitwijk-{j}",
                "started_at": started,
                "ends_at": started + 600,
                **more,
            }
            names = ", ".join(columns)
            marks = ", ".join("?" * len(columns))
            return await tx.insert(
                f"INSERT INTO conversations ({names}) VALUES ({marks})", tuple(columns.values())
            )

        # Ended conversations first: every booth has some history, so its own mean length
        # is used for the estimate when it has enough.
        ended: list[int] = []
        busy: set[int] = set()
        for j in range(len(candidate_ids)):
            # Spread so that each booth gets candidates of every kind.
            i = (j * 7 + j // 10) % len(booth_ids)
            booth_id = booth_ids[i]
            first, second = by_booth[booth_id]
            # What happened to each candidate, in an order that gives the first five one
            # of each: waiting, in a conversation, talked, declined, their booth closed.
            kind = KIND_ORDER[j % len(KIND_ORDER)]
            if kind in (0, 1, 2, 3, 4):
                # Waiting; some for the booth's second advisor.
                extra: dict[str, Any] = {}
                if kind == 3:
                    extra["advisor_id"] = second
                if j % 20 == 5:
                    extra["ready_asked_at"] = NOW - 20
                    extra["ready_until"] = NOW + 40
                if j % 40 == 5:
                    extra["ready_at"] = NOW - 10
                if j % 50 == 6:
                    extra["line_at"] = NOW - 100  # moved back in line
                    extra["ready_misses"] = 1
                if j % 30 == 7 and ended:
                    extra["transferred_from"] = ended.pop()
                    extra["transfer_note"] = f"Wil graag <meer> weten over BBL ({j})"
                await request(j, booth_id, NOW - 1800 + 7 * j, "waiting", **extra)
            elif kind == 5:
                advisor_id = first if first not in busy else second
                if advisor_id in busy:
                    await request(j, booth_id, NOW - 700, "cancelled", closed_at=NOW - 600)
                    continue
                busy.add(advisor_id)
                started = NOW - 200 - 40 * (j % 23)
                await conversation(
                    j,
                    booth_id,
                    advisor_id,
                    started,
                    joined_at=started + 20 if j % 3 else None,
                    notes=f"Notitie {j}: <b>BBL</b>" if j % 4 == 1 else "",
                    extended_seconds=300 if j % 6 == 5 else 0,
                    warned_at=started + 480 if started + 480 < NOW else None,
                )
                await tx.execute(
                    "UPDATE staff SET status = 'in_conversation', status_since = ?, "
                    "wrap_up_until = NULL WHERE id = ?",
                    (started, advisor_id),
                )
            elif kind == 6:
                started = NOW - 3600 + 11 * j
                conversation_id = await conversation(
                    j,
                    booth_id,
                    first,
                    started,
                    ended_at=started + 300 + 13 * (j % 37),
                    no_show_at=started + 120 if j % 50 == 12 else None,
                )
                ended.append(conversation_id)
                if j % 4 != 0:
                    await tx.insert(
                        "INSERT INTO feedback (conversation_id, rating, comment, created_at) "
                        "VALUES (?, ?, ?, ?)",
                        (conversation_id, 1 + j % 5, f"Fijn <gesprek> {j}", NOW - 60),
                    )
            elif kind == 7:
                await request(
                    j,
                    booth_id,
                    NOW - 900,
                    "declined",
                    closed_at=NOW - 800,
                    closed_by=first,
                    decline_message=f"Helaas <vol> vandaag ({j})",
                )
            elif kind == 8:
                await request(
                    j,
                    booth_id,
                    NOW - 900,
                    "cancelled",
                    closed_at=NOW - 500,
                    closed_reason="booth_closed",
                )
        # Overtime: the longest-running conversation runs well past its end.
        await tx.execute(
            "UPDATE conversations SET ends_at = ? WHERE id = (SELECT MIN(id) FROM conversations "
            "WHERE ended_at IS NULL)",
            (NOW - 400,),
        )
        # Follow-ups at the first booths: for one advisor, unassigned, cancelled, over.
        for i, booth_id in enumerate(booth_ids[:4]):
            first, _second = by_booth[booth_id]
            for m, (advisor, status, starts) in enumerate(
                (
                    (first, "booked", NOW + 86400),
                    (None, "booked", NOW + 7200),
                    (first, "cancelled", NOW + 3600),
                    (None, "booked", NOW - 86400),
                )
            ):
                await tx.insert(
                    "INSERT INTO follow_ups (booth_id, advisor_id, candidate_id, starts_at, "
                    "minutes, mode, location, message, status, created_at, created_by) "
                    "VALUES (?, ?, ?, ?, 15, 'video', '', ?, ?, ?, ?)",
                    (
                        booth_id,
                        advisor,
                        candidate_ids[(i * 4 + m) % len(candidate_ids)],
                        starts,
                        f"Tot dan <{m}>",
                        status,
                        NOW - 300,
                        first,
                    ),
                )
    return Seeded(await load_event(db), booth_ids, advisor_ids, candidate_ids)


async def seeded_file(path: Path, *, booths: int, candidates: int) -> Seeded:
    """A new SQLite file at ``path`` holding the seeded event."""
    db = await Database.open(path)
    try:
        return await seed(db, booths=booths, candidates=candidates)
    finally:
        await db.close()


async def capture(db: Database, seeded: Seeded) -> dict[str, Any]:
    """The snapshots of the seeded event at ``NOW`` as the audiences get them (the hall also
    in the evening, when every booth is closed by its schedule): every candidate's state,
    every advisor's console and the moderator's overview."""
    from app.live import snapshots

    event = seeded.event
    return {
        "hall": await snapshots.hall(db, event, NOW),
        "hall_at_19": await snapshots.hall(db, event, NOW + 8 * 3600),
        "candidates": {
            str(c): await snapshots.candidate_state(db, event, c, NOW) for c in seeded.candidates
        },
        "consoles": {
            str(a): await snapshots.console_state(db, event, a, NOW) for a in seeded.advisors
        },
        "overview": await snapshots.overview(db, event, NOW),
    }


def dump(captured: dict[str, Any]) -> str:
    """``capture``'s result as JSON text with one candidate or console a line, so a change
    shows as a readable diff."""

    def one(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    parts = []
    for key, value in captured.items():
        if key in ("candidates", "consoles"):
            lines = ",\n".join(f"{one(k)}:{one(v)}" for k, v in value.items())
            parts.append(f"{one(key)}:{{\n{lines}\n}}")
        else:
            parts.append(f"{one(key)}:{one(value)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


async def record(path: Path, *, booths: int = 40, candidates: int = 200) -> None:
    """Write ``capture``'s result for a seeded event of this size to ``path``."""
    with tempfile.TemporaryDirectory() as folder:
        seeded = await seeded_file(Path(folder) / "seeded.db", booths=booths, candidates=candidates)
        db = await Database.open(Path(folder) / "seeded.db")
        try:
            path.write_text(dump(await capture(db, seeded)), encoding="utf-8")
        finally:
            await db.close()


if __name__ == "__main__":
    # .venv/bin/python -m tests.snapshotkit tests/fixtures/snapshots-40-booths.json
    asyncio.run(record(Path(sys.argv[1])))
