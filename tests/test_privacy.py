"""Privacy: a candidate's export and erasure, and the retention job.

Domain tests run on a real SQLite file; the rest against a real server process whose log is
captured to a file. After an erasure, every table, the server's log and (after a WAL
checkpoint) the raw bytes of the database file are searched for the candidate's name,
e-mail and phone: the goal is 0 hits.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.core.config import ConfigError, load_settings
from app.core.errors import DomainError
from app.domain import candidates, conversations, privacy, queue
from app.domain.event import add_day
from app.storage.db import Database, IntegrityError, table_columns
from app.storage.leases import Lease
from tests.livekit import ROOT, Browserless, LiveServer, World, csrf_from, seed_world
from tests.servicekit import make_advisor, make_booth, make_candidate, make_event, make_request

NAME = "Zoë Privacyproef"
EMAIL = "zoe.privacyproef@example.nl"
PHONE = "+31 6 1234 5678"
NEEDLES = (NAME, EMAIL, PHONE)


# -- where personal data could be left ------------------------------------------------------


def table_hits(path: Path, needles: tuple[str, ...] = NEEDLES) -> list[str]:
    """Every (table.column) of every row that still holds one of the needles."""
    hits: list[str] = []
    with sqlite3.connect(path) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        for table in tables:
            cursor = conn.execute(f'SELECT * FROM "{table}"')
            columns = [d[0] for d in cursor.description]
            for row in cursor:
                for column, value in zip(columns, row, strict=True):
                    if isinstance(value, bytes):
                        value = value.decode("utf-8", "replace")
                    if isinstance(value, str):
                        hits += [
                            f"{table}.{column}"
                            for needle in needles
                            if needle.lower() in value.lower()
                        ]
    return hits


async def hits_in(db: Database, needles: tuple[str, ...] = NEEDLES) -> list[str]:
    """``table_hits`` through the hall's own connection, on either backend."""
    hits: list[str] = []
    for table, columns in (await table_columns(db)).items():
        for row in await db.fetchall(f'SELECT * FROM "{table}"'):
            for column, value in zip(columns, row, strict=True):
                if isinstance(value, bytes):
                    value = value.decode("utf-8", "replace")
                if isinstance(value, str):
                    hits += [
                        f"{table}.{column}" for needle in needles if needle.lower() in value.lower()
                    ]
    return hits


def rows_scanned(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return sum(conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables)


def file_hits(path: Path, needles: tuple[str, ...] = NEEDLES) -> tuple[int, int]:
    """Checkpoint the WAL into the file and truncate it, then search the raw bytes of the
    database file (and any WAL left) for the needles; returns (hits, bytes searched)."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = path.read_bytes()
    wal = path.with_name(path.name + "-wal")
    if wal.exists():
        raw += wal.read_bytes()
    lowered = raw.lower()
    hits = sum(lowered.count(n.lower().encode("utf-8")) for n in needles)
    return hits, len(raw)


def log_hits(text: str, needles: tuple[str, ...] = NEEDLES) -> int:
    lowered = text.lower()
    return sum(lowered.count(n.lower()) for n in needles)


# -- domain, on a real database file --------------------------------------------------------


async def _person(
    db: Database, name: str = NAME, email: str = EMAIL, phone: str = PHONE, days_ago: float = 0
) -> int:
    """A candidate signed in through the domain, ``days_ago`` days ago."""
    at = time.time() - days_ago * 86400
    candidate = await candidates.sign_in(
        db, name=name, email=email, phone=phone, consent=True, now=at
    )
    return candidate.id


async def test_export_holds_everything_of_theirs_and_nothing_of_others(db, event) -> None:
    booth = await make_booth(db, "zorg", name="Zorggroep Test")
    advisor = await make_advisor(db, booth, "anna@zorg.test", name="Anna Adviseur")
    me = await _person(db)
    other = await make_candidate(db, "Ander Persoon", "ander@example.nl")
    first = await make_request(db, event, me, booth, question="Kan ik BBL doen?")
    await make_request(db, event, other, booth, question="Vraag van een ander")
    conversation, _ = await conversations.accept(
        db, event, advisor_id=advisor, request_id=first.id, now=time.time()
    )
    await conversations.end(
        db, advisor_id=advisor, conversation_id=conversation.id, now=time.time(), wrap_up_seconds=0
    )
    await make_request(db, event, me, booth, question="Tweede vraag", advisor_id=advisor)

    data = await privacy.export(db, me, time.time())
    assert data is not None
    assert data["candidate"]["name"] == NAME
    assert data["candidate"]["email"] == EMAIL
    assert data["candidate"]["phone"] == PHONE
    assert data["candidate"]["consent_given_at"]
    assert [r["question"] for r in data["requests"]] == ["Kan ik BBL doen?", "Tweede vraag"]
    assert [r["status"] for r in data["requests"]] == ["accepted", "waiting"]
    assert data["requests"][1]["advisor"] == "Anna Adviseur"
    (talk,) = data["conversations"]
    assert talk["booth"] == "Zorggroep Test" and talk["advisor"] == "Anna Adviseur"
    assert talk["ended_at"] is not None
    text = json.dumps(data, ensure_ascii=False)
    for foreign in ("Ander Persoon", "ander@example.nl", "Vraag van een ander", "anna@zorg.test"):
        assert foreign not in text
    assert "password" not in text and "notes" not in text
    assert await privacy.summary(db, me) == {
        "requests": 2,
        "conversations": 1,
        "waiting": 1,
        "running": 0,
    }


async def test_erase_leaves_no_trace_and_keeps_the_numbers(db, event, tmp_path: Path) -> None:
    booth = await make_booth(db, "zorg")
    a1 = await make_advisor(db, booth, "a1@zorg.test")
    a2 = await make_advisor(db, booth, "a2@zorg.test")
    me = await _person(db)
    other = await make_candidate(db, "Ander Persoon", "ander@example.nl")
    now = time.time()
    # One conversation that ended, one declined with a message naming them, one running.
    first = await make_request(db, event, me, booth, question=f"Ik ben {NAME}, bel {PHONE}")
    done, _ = await conversations.accept(db, event, advisor_id=a1, request_id=first.id, now=now)
    await conversations.end(
        db, advisor_id=a1, conversation_id=done.id, now=now + 1, wrap_up_seconds=0
    )
    second = await make_request(db, event, me, booth, question="Nog een vraag")
    await queue.decline_request(
        db, advisor_id=a2, booth_id=booth, request_id=second.id, message=f"Sorry {NAME}!", now=now
    )
    await make_request(db, event, other, booth)
    third = await make_request(db, event, me, booth, question=f"Mail me op {EMAIL}")
    running, _ = await conversations.accept(db, event, advisor_id=a2, request_id=third.id, now=now)
    # Something another part of the hall keeps about them, mentioning them in free text.
    async with db.transaction() as tx:
        await tx.execute(
            "CREATE TABLE followups (id INTEGER PRIMARY KEY, conversation_id INTEGER, "
            "mode TEXT CHECK (mode IN ('phone', 'video')), remark TEXT)"
        )
        await tx.execute(
            "INSERT INTO followups (id, conversation_id, mode, remark) VALUES (1, ?, 'phone', ?)",
            (done.id, f"Bel {NAME.upper()} terug op {PHONE}"),
        )
        # The booth's notes on the conversation name them too.
        await tx.execute(
            "UPDATE conversations SET notes = ? WHERE id = ?", (f"{NAME} wil BBL", done.id)
        )
    path = db.path
    assert await hits_in(db), "the scan finds them before the erasure"
    # SQLite overwrites what was erased (secure_delete); PostgreSQL keeps dead row versions
    # until VACUUM reuses them (docs/architecture.md says so), so the file check is SQLite's.
    if path is not None:
        assert file_hits(path)[0] > 0
    before = {
        t: await db.fetchvalue(f"SELECT COUNT(*) FROM {t}")
        for t in ("candidates", "requests", "conversations", "followups")
    }

    erased = await privacy.erase(db, me, now=now + 5, wrap_up_seconds=60)

    assert erased.booth_ids == {booth}
    assert erased.ended_conversations == 1 and erased.requests == 3
    assert await hits_in(db) == []
    if path is not None:
        hits, size = file_hits(path)
        assert hits == 0 and size > 0
    after = {
        t: await db.fetchvalue(f"SELECT COUNT(*) FROM {t}")
        for t in ("candidates", "requests", "conversations", "followups")
    }
    assert after == before, "rows stay, anonymised, so the numbers stay right"
    # The running conversation ended and its advisor is wrapping up; durations are kept.
    row = await db.fetchone(
        "SELECT ended_at, started_at FROM conversations WHERE id = ?", (running.id,)
    )
    assert row is not None and row["ended_at"] == now + 5
    assert await db.fetchvalue("SELECT status FROM staff WHERE id = ?", (a2,)) == "wrapping_up"
    assert await db.fetchvalue("SELECT mode FROM followups") == "phone"
    assert await db.fetchvalue("SELECT notes FROM conversations WHERE id = ?", (done.id,)) == ""
    # The other candidate is untouched.
    assert await candidates.get_candidate(db, other) is not None
    # Nobody signs in as the erased candidate, and the database refuses new requests for them.
    assert await candidates.get_candidate(db, me) is None
    assert await privacy.export(db, me, time.time()) is None
    with pytest.raises(DomainError) as refused:
        await make_request(db, event, me, booth, client_key="after")
    assert refused.value.code == "auth.sign_in_required"
    # Under the rule, the database itself refuses a request row for an erased candidate.
    with pytest.raises(IntegrityError):
        async with db.transaction() as tx:
            await tx.insert(
                "INSERT INTO requests (booth_id, candidate_id, client_key, created_at, "
                "expires_at) VALUES (?, ?, 'raw', ?, ?)",
                (booth, me, time.time(), time.time() + 60),
            )


async def test_follow_ups_and_feedback_are_theirs_to_download_and_to_erase(db, event) -> None:
    booth = await make_booth(db, "zorg")
    advisor = await make_advisor(db, booth, "anna@zorg.test")
    me = await _person(db)
    now = time.time()
    request = await make_request(db, event, me, booth)
    talk, _ = await conversations.accept(
        db, event, advisor_id=advisor, request_id=request.id, now=now
    )
    await conversations.end(
        db, advisor_id=advisor, conversation_id=talk.id, now=now + 60, wrap_up_seconds=0
    )
    async with db.transaction() as tx:
        await tx.insert(
            "INSERT INTO follow_ups (conversation_id, booth_id, advisor_id, candidate_id, "
            "starts_at, minutes, mode, location, message, created_at) "
            "VALUES (?, ?, ?, ?, ?, 30, 'on_site', 'Zorgplein 1', ?, ?)",
            (talk.id, booth, advisor, me, now + 86400, "Neem je cv mee, Sanne", now),
        )
        await tx.insert(
            "INSERT INTO follow_ups (conversation_id, booth_id, advisor_id, candidate_id, "
            "starts_at, minutes, mode, location, created_at) "
            "VALUES (?, ?, ?, ?, ?, 20, 'phone', '06 12345678', ?)",
            (talk.id, booth, advisor, me, now + 2 * 86400, now),
        )
        await tx.insert(
            "INSERT INTO feedback (conversation_id, rating, comment, created_at) "
            "VALUES (?, 4, 'Fijn gesprek, ik heb nu zin in de zorg', ?)",
            (talk.id, now + 90),
        )

    data = await privacy.export(db, me, now)
    assert data is not None
    assert [f["message"] for f in data["other"]["follow_ups"]] == ["Neem je cv mee, Sanne", ""]
    assert data["feedback"] == [
        {
            "conversation_id": talk.id,
            "rating": 4,
            "comment": "Fijn gesprek, ik heb nu zin in de zorg",
            "given_at": data["feedback"][0]["given_at"],
        }
    ]

    await privacy.erase(db, me, now=now + 100, wrap_up_seconds=0)

    follow_up = await db.fetchone(
        "SELECT message, location, minutes FROM follow_ups WHERE mode = 'on_site'"
    )
    assert follow_up is not None
    assert (follow_up["message"], follow_up["location"], follow_up["minutes"]) == (
        "",
        "Zorgplein 1",
        30,
    ), "what they were told goes; where and how long stays for the numbers"
    phone = await db.fetchone("SELECT location, minutes FROM follow_ups WHERE mode = 'phone'")
    assert phone is not None and (phone["location"], phone["minutes"]) == ("", 20), (
        "a phone appointment's location is their own number"
    )
    rating = await db.fetchone("SELECT rating, comment FROM feedback")
    assert rating is not None and (rating["rating"], rating["comment"]) == (4, "")


async def test_erase_cancels_a_waiting_request(db, event) -> None:
    booth = await make_booth(db, "bouw")
    me = await _person(db)
    request = await make_request(db, event, me, booth, question="Wacht")
    done = await privacy.erase(db, me, now=time.time(), wrap_up_seconds=0)
    assert done.closed_requests == 1 and done.touched_candidates == {me}
    assert (await queue.get_request(db, request.id)).status == "cancelled"  # type: ignore[union-attr]
    assert await queue.waiting_at_booth(db, booth) == []
    again = await privacy.erase(db, me, now=time.time(), wrap_up_seconds=0)
    assert again.closed_requests == 0 and not again.booth_ids


async def _event_days(db: Database, first: date, last: date, closes: str = "17:00") -> None:
    async with db.transaction() as tx:
        await add_day(tx, first, "09:00", "17:00")
        await add_day(tx, last, "09:00", closes)


async def test_the_event_ends_at_its_last_closing_time_in_its_zone(db, event) -> None:
    assert await privacy.event_ends_at(db) is None
    await _event_days(db, date(2026, 3, 9), date(2026, 3, 13))
    zone = ZoneInfo("Europe/Amsterdam")
    assert await privacy.event_ends_at(db) == datetime(2026, 3, 13, 17, 0, tzinfo=zone).timestamp()
    async with db.transaction() as tx:
        await add_day(tx, date(2026, 3, 13), "09:00", "24:00")
    assert await privacy.event_ends_at(db) == datetime(2026, 3, 14, 0, 0, tzinfo=zone).timestamp()


async def test_retention_anonymises_after_the_days_and_records_counts_only(db, event) -> None:
    zone = ZoneInfo("Europe/Amsterdam")
    today = datetime.now(zone).date()
    await _event_days(db, today - timedelta(days=44), today - timedelta(days=40))
    booth = await make_booth(db, "zorg")
    advisor = await make_advisor(db, booth, "a@zorg.test")
    now = time.time()
    old = await _person(db)
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE candidates SET created_at = ? WHERE id = ?", (now - 41 * 86400, old)
        )
    request = await make_request(
        db, event, old, booth, question=f"Vraag van {NAME}", now=now - 41 * 86400
    )
    talk, _ = await conversations.accept(
        db, event, advisor_id=advisor, request_id=request.id, now=now
    )
    await conversations.end(
        db, advisor_id=advisor, conversation_id=talk.id, now=now, wrap_up_seconds=0
    )
    # Signed in after the event: kept until 30 days after signing in.
    late = await make_candidate(db, "Late Bezoeker", "late@example.nl")

    # 60 days: not yet.
    nothing = await privacy.run_retention(db, now=now, days=60, wrap_up_seconds=0)
    assert (nothing.candidates, nothing.requests, nothing.conversations) == (0, 0, 0)

    dry = await privacy.run_retention(db, now=now, days=30, wrap_up_seconds=0, dry_run=True)
    assert (dry.candidates, dry.requests, dry.conversations, dry.dry_run) == (1, 1, 1, True)
    assert await hits_in(db), "a dry run changes nothing"
    runs_before = len(await privacy.retention_runs(db))

    result = await privacy.run_retention(db, now=now, days=30, wrap_up_seconds=0)
    assert (result.candidates, result.requests, result.conversations) == (1, 1, 1)
    assert await hits_in(db) == []
    assert await candidates.get_candidate(db, late) is not None
    runs = await privacy.retention_runs(db)
    assert len(runs) == runs_before + 1
    assert runs[0]["candidates"] == 1 and runs[0]["retention_days"] == 30
    assert runs[0]["event_ends_at"] == result.event_ends_at
    # The numbers stay: the request and the conversation with its duration.
    assert await db.fetchvalue("SELECT COUNT(*) FROM requests WHERE booth_id = ?", (booth,)) == 1
    row = await db.fetchone(
        "SELECT started_at, ended_at FROM conversations WHERE id = ?", (talk.id,)
    )
    assert row is not None and row["ended_at"] >= row["started_at"]
    again = await privacy.run_retention(db, now=now, days=30, wrap_up_seconds=0)
    assert again.candidates == 0


class Recorder:
    def __init__(self) -> None:
        self.booths: list[int] = []
        self.candidates: list[int] = []
        self.moved = 0

    async def booths_changed(self, booth_ids: Any) -> None:
        self.booths += list(booth_ids)

    async def candidate_changed(self, candidate_id: int) -> None:
        self.candidates.append(candidate_id)

    async def deadlines_moved(self) -> None:
        self.moved += 1


async def test_the_retention_job_runs_in_one_process_once_per_period(db, event) -> None:
    today = datetime.now(ZoneInfo("Europe/Amsterdam")).date()
    await _event_days(db, today - timedelta(days=12), today - timedelta(days=11))
    booth = await make_booth(db, "zorg")
    waiting = await _person(db)
    await make_request(db, event, waiting, booth, question="Nog steeds hier")
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE candidates SET created_at = ? WHERE id = ?", (time.time() - 12 * 86400, waiting)
        )
    clock = [time.time()]
    notified = [Recorder(), Recorder()]
    jobs = [
        privacy.RetentionJob(db, notified[i], lambda: clock[0], days=10, wrap_up_seconds=0)
        for i in range(2)
    ]
    results = await asyncio.gather(*(job.run_if_due() for job in jobs))
    ran = [r for r in results if r is not None]
    assert len(ran) == 1, "one process holds the lease"
    assert ran[0].candidates == 1
    assert sum(len(n.candidates) for n in notified) == 1
    assert [b for n in notified for b in n.booths] == [booth]
    # Within the day nobody runs it again, even once the lease has passed to the other.
    clock[0] += privacy.LEASE_TTL_SECONDS + 1
    assert [await job.run_if_due() for job in jobs] == [None, None]
    clock[0] += privacy.RUN_EVERY_SECONDS
    later = [await job.run_if_due() for job in jobs]
    assert sum(r is not None for r in later) == 1
    assert len(await privacy.retention_runs(db)) == 2
    lease = Lease(db, privacy.RETENTION_LEASE, lambda: clock[0])
    assert not await lease.hold(), "the lease is held by the job that ran"


def test_retention_days_setting() -> None:
    assert load_settings({}).retention_days == 30
    assert load_settings({"INZOOMEN_RETENTION_DAYS": "7"}).retention_days == 7
    for bad in ("-1", "4000", "dertig"):
        with pytest.raises(ConfigError, match="INZOOMEN_RETENTION_DAYS"):
            load_settings({"INZOOMEN_RETENTION_DAYS": bad})


async def test_retention_command_with_and_without_dry_run(tmp_path: Path) -> None:
    path = tmp_path / "cli.db"
    db = await Database.open(path)
    try:
        await make_event(db)
        today = datetime.now(ZoneInfo("Europe/Amsterdam")).date()
        await _event_days(db, today - timedelta(days=9), today - timedelta(days=8))
        assert await _person(db, days_ago=9)
    finally:
        await db.close()

    def run(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "app", "retention", "--db", str(path), *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": "/usr/bin:/bin", "INZOOMEN_RETENTION_DAYS": "7"},
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "would anonymise 1 candidates" in run("--dry-run")
    assert table_hits(path)
    assert "anonymised 0 candidates" in run("--days", "30")
    assert table_hits(path)
    out = run()
    assert "anonymised 1 candidates, 0 requests, 0 conversations" in out
    assert "would" not in out
    assert table_hits(path) == []
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM retention_runs").fetchone()[0] == 2


# -- a real server: pages, download, erasure, live updates, logs -----------------------------


async def _sign_in(visitor: Browserless, name: str, email: str, phone: str = "") -> None:
    token = await visitor.csrf("/aanmelden")
    response = await visitor.http.post(
        "/aanmelden",
        data={
            "csrf": token,
            "name": name,
            "email": email,
            "phone": phone,
            "consent": "yes",
            "next": "/",
        },
    )
    assert response.status_code == 303, response.text


async def _zoom_in(visitor: Browserless, booth_id: int, question: str, key: str) -> None:
    page = await visitor.http.get(f"/inzoomen/{booth_id}")
    response = await visitor.http.post(
        f"/inzoomen/{booth_id}",
        data={"csrf": csrf_from(page.text), "question": question, "client_key": key},
    )
    assert response.status_code == 303, response.text


async def test_download_and_erase_over_http_leave_no_trace(
    server: LiveServer, world_db: tuple[Path, World], new_visitor
) -> None:
    path, world = world_db
    a1, a2 = new_visitor(), new_visitor()
    await a1.log_in("a1@test.example")
    await a2.log_in("a2@test.example")
    console1, console2 = await a1.socket(), await a2.socket()

    me: Browserless = new_visitor()
    await _sign_in(me, NAME, EMAIL, PHONE)
    old_cookie = me.cookie_header()
    # A conversation that ended, a request declined with a message naming them, and one
    # waiting now, with another candidate waiting behind it.
    await _zoom_in(me, world.booth_a, f"Vraag van {NAME}", "k1")
    queued = await console1.next_event("console.state", where=lambda d: len(d["queue"]) == 1)
    assert queued["queue"][0]["candidate_name"] == NAME
    first = queued["queue"][0]["request_id"]
    accepted = await console1.send("request.accept", {"request_id": first})
    assert accepted["ok"], accepted
    ended = await console1.send(
        "conversation.end", {"conversation_id": accepted["data"]["conversation_id"]}
    )
    assert ended["ok"], ended
    noted = await console1.send(
        "conversation.note",
        {
            "conversation_id": accepted["data"]["conversation_id"],
            "notes": f"{NAME} terugbellen op {PHONE}",
        },
    )
    assert noted["ok"], noted
    await _zoom_in(me, world.booth_a, "Tweede vraag", "k2")
    second = await console2.next_event(
        "console.state", where=lambda d: [q["request_id"] for q in d["queue"]] not in ([], [first])
    )
    declined = await console2.send(
        "request.decline",
        {"request_id": second["queue"][0]["request_id"], "message": f"Sorry {NAME}, vol."},
    )
    assert declined["ok"], declined
    await _zoom_in(me, world.booth_a, f"Bel me op {PHONE}", "k3")
    other = new_visitor()
    await other.sign_in_candidate("Ander Persoon", "ander@example.nl")
    other_ws = await other.socket()
    made = await other_ws.send("request.create", {"booth_id": world.booth_a, "client_key": "o"})
    assert made["ok"], made
    behind = await other_ws.next_event("me.state", where=lambda d: d["request"] is not None)
    assert behind["request"]["position"] == 2
    me_ws = await me.socket()

    # Mijn gegevens: reachable from their pages, showing what is held.
    page = await me.http.get("/mijn-verzoek")
    assert 'href="/mijn-gegevens"' in page.text
    mine = await me.http.get("/mijn-gegevens")
    assert mine.status_code == 200
    assert NAME in mine.text and EMAIL in mine.text and PHONE in mine.text
    assert 'data-testid="erase-cancels-request"' in mine.text
    assert "Ander Persoon" not in mine.text

    download = await me.http.get("/mijn-gegevens/download")
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("application/json")
    assert download.headers["content-disposition"].startswith("attachment;")
    assert ".json" in download.headers["content-disposition"]
    data = download.json()
    assert (data["candidate"]["name"], data["candidate"]["email"]) == (NAME, EMAIL)
    assert data["candidate"]["phone"] == PHONE
    assert [r["status"] for r in data["requests"]] == ["accepted", "declined", "waiting"]
    assert data["requests"][1]["decline_message"] == f"Sorry {NAME}, vol."
    assert data["requests"][1]["closed_by"] == "Adviseur A2"
    assert [c["advisor"] for c in data["conversations"]] == ["Adviseur A1"]
    for foreign in ("Ander Persoon", "ander@example.nl", "a1@test.example", "password"):
        assert foreign not in download.text
    assert "terugbellen" not in download.text, "the booth's own notes are not in the export"

    # Other people get nothing of theirs.
    assert (await new_visitor().http.get("/mijn-gegevens/download")).status_code == 303
    assert (await a1.http.get("/mijn-gegevens/download")).status_code == 403
    other_download = await other.http.get("/mijn-gegevens/download")
    assert NAME not in other_download.text and "Ander Persoon" in other_download.text

    # Erasing needs the CSRF token and a confirmation; without them nothing changes.
    confirm = await me.http.get("/mijn-gegevens/wissen")
    assert confirm.status_code == 200
    token = csrf_from(confirm.text)
    refused = await me.http.post("/mijn-gegevens/wissen", data={"confirm": "yes"})
    assert refused.status_code == 403
    unconfirmed = await me.http.post("/mijn-gegevens/wissen", data={"csrf": token})
    assert unconfirmed.status_code == 400
    assert 'href="#field-confirm"' in unconfirmed.text
    assert table_hits(path), "nothing was erased yet"

    rows_before = rows_scanned(path)
    erased = await me.http.post("/mijn-gegevens/wissen", data={"csrf": token, "confirm": "yes"})
    assert erased.status_code == 303
    assert erased.headers["location"] == "/mijn-gegevens/gewist"
    done = await me.http.get("/mijn-gegevens/gewist")
    assert done.status_code == 200 and NAME not in done.text
    assert 'data-testid="nav-sign-in"' in done.text, "signed out"

    # Live: the booth's advisors see the queue without them, the other candidate moves up,
    # and their own open page hears that nothing is open any more.
    cleared = await console1.next_event(
        "console.state",
        where=lambda d: [q["candidate_name"] for q in d["queue"]] == ["Ander Persoon"],
    )
    assert NAME not in json.dumps(cleared, ensure_ascii=False)
    moved = await other_ws.next_event(
        "me.state", where=lambda d: d["request"] is not None and d["request"]["position"] == 1
    )
    assert moved["request"]["position"] == 1
    closed = await me_ws.wait_closed()
    assert "4001" in str(closed), closed

    # An old session cookie replayed stands for nobody.
    replay = Browserless(server)
    try:
        replay.http.headers["Cookie"] = old_cookie
        assert (await replay.http.get("/mijn-gegevens")).status_code == 303
        assert (await replay.http.get("/mijn-gegevens/download")).status_code == 303
        ws = await replay.socket()
        assert ws.welcome["role"] == "anonymous"
        await ws.close()
    finally:
        await replay.aclose()

    for ws in (console1, console2, other_ws, me_ws):
        await ws.close()
    server.stop()
    log = server.log()
    hits = table_hits(path)
    raw_hits, raw_size = file_hits(path)
    rows = rows_scanned(path)
    print(
        f"\nerased candidate: {rows} rows scanned ({rows_before} before), {len(hits)} hits; "
        f"{len(log.splitlines())} log lines, {log_hits(log)} hits; "
        f"{raw_size} database bytes, {raw_hits} hits"
    )
    assert "POST /mijn-gegevens/wissen" in log, "the access log was captured"
    assert hits == []
    assert log_hits(log) == 0
    assert raw_hits == 0
    # The numbers stay: three requests and one conversation of theirs, anonymised.
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0] == 4
        assert conn.execute("SELECT COUNT(*) FROM conversations").fetchone()[0] == 1
        statuses = [r[0] for r in conn.execute("SELECT status FROM requests ORDER BY id")]
        assert statuses == ["accepted", "declined", "cancelled", "waiting"]


async def test_erasing_during_a_conversation_ends_it_for_the_advisor(
    server: LiveServer, world_db: tuple[Path, World], new_visitor
) -> None:
    path, world = world_db
    advisor = new_visitor()
    await advisor.log_in("b1@test.example")
    console = await advisor.socket()
    me: Browserless = new_visitor()
    await _sign_in(me, NAME, EMAIL)
    await _zoom_in(me, world.booth_b, "Een vraag", "k")
    queued = await console.next_event("console.state", where=lambda d: len(d["queue"]) == 1)
    accepted = await console.send(
        "request.accept", {"request_id": queued["queue"][0]["request_id"]}
    )
    assert accepted["ok"], accepted
    await console.next_event("console.state", where=lambda d: d["conversation"] is not None)

    page = await me.http.get("/mijn-gegevens/wissen")
    assert 'data-testid="erase-ends-conversation"' in page.text
    erased = await me.http.post(
        "/mijn-gegevens/wissen", data={"csrf": csrf_from(page.text), "confirm": "yes"}
    )
    assert erased.status_code == 303
    after = await console.next_event("console.state", where=lambda d: d["conversation"] is None)
    assert after["advisor"]["status"] == "wrapping_up"
    await console.close()
    with sqlite3.connect(path) as conn:
        row = conn.execute("SELECT ended_at FROM conversations").fetchone()
    assert row[0] is not None
    assert table_hits(path) == []


async def test_only_a_candidate_reaches_my_data(server: LiveServer, new_visitor) -> None:
    anonymous: Browserless = new_visitor()
    for url in ("/mijn-gegevens", "/mijn-gegevens/download", "/mijn-gegevens/wissen"):
        response = await anonymous.http.get(url)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/aanmelden?next=")
    token = await anonymous.csrf("/aanmelden")
    posted = await anonymous.http.post(
        "/mijn-gegevens/wissen", data={"csrf": token, "confirm": "yes"}
    )
    assert posted.status_code == 403  # a form needs signing in first: nothing is erased
    moderator: Browserless = new_visitor()
    await moderator.log_in("mod@test.example")
    assert (await moderator.http.get("/mijn-gegevens")).status_code == 403
    page = await moderator.http.get("/moderator")
    posted = await moderator.http.post(
        "/mijn-gegevens/wissen", data={"csrf": csrf_from(page.text), "confirm": "yes"}
    )
    assert posted.status_code == 403


async def test_pages_say_what_is_kept_and_for_how_long(
    world_db: tuple[Path, World], tmp_path: Path
) -> None:
    live = LiveServer(world_db[0], tmp_path / "days.log", env={"INZOOMEN_RETENTION_DAYS": "14"})
    live.start()
    visitor = Browserless(live)
    try:
        sign_in = (await visitor.http.get("/aanmelden")).text
        summary = sign_in[sign_in.index('data-testid="privacy-summary"') :]
        for needed in (
            "naam",
            "e-mailadres",
            "telefoonnummer",
            "vraag",
            "verzoeken",
            "gesprekken",
            "vervolgafspraak",
            "adviseurs van de stand",
            "organisator",
            "14 dagen na het evenement",
            'href="/privacy"',
        ):
            assert needed in summary, needed
        statement = (await visitor.http.get("/privacy")).text
        for needed in ("14 dagen na de laatste dag", "Mijn gegevens", "downloaden", "wissen"):
            assert needed in statement, needed
        await visitor.http.get("/taal/en")
        english = (await visitor.http.get("/aanmelden")).text
        assert "Until 14 days after the event" in english
        assert "14 days after the last day" in (await visitor.http.get("/privacy")).text
    finally:
        await visitor.aclose()
        live.stop()


async def test_the_server_runs_retention_by_itself(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    await seed_world(path)
    db = await Database.open(path)
    try:
        zone = ZoneInfo("Europe/Amsterdam")
        long_ago = datetime.now(zone).date() - timedelta(days=40)
        async with db.transaction() as tx:
            await tx.execute("DELETE FROM schedule")
            await tx.execute("DELETE FROM event_days")
            await add_day(tx, long_ago, "09:00", "17:00")
        me = await _person(db)
        async with db.transaction() as tx:
            await tx.execute(
                "UPDATE candidates SET created_at = ? WHERE id = ?", (time.time() - 40 * 86400, me)
            )
    finally:
        await db.close()
    live = LiveServer(path, tmp_path / "retention.log", env={"INZOOMEN_RETENTION_DAYS": "30"})
    live.start()
    try:
        deadline = time.monotonic() + 10
        runs: list[Any] = []
        while time.monotonic() < deadline and not runs:
            with sqlite3.connect(path) as conn:
                runs = conn.execute("SELECT candidates FROM retention_runs").fetchall()
            await asyncio.sleep(0.1)
        assert runs == [(1,)]
        assert table_hits(path) == []
    finally:
        live.stop()
    assert log_hits(live.log()) == 0
    assert re.search(r"retention: anonymised 1 candidates", live.log())


async def test_retention_works_in_batches_and_records_one_run(db, event) -> None:
    today = datetime.now(ZoneInfo("Europe/Amsterdam")).date()
    await _event_days(db, today - timedelta(days=3), today - timedelta(days=2))
    people = [
        await _person(db, f"Persoon {i} Proef", f"p{i}@example.nl", "", days_ago=3)
        for i in range(5)
    ]
    needles = tuple(f"p{i}@example.nl" for i in range(5))
    assert len(await hits_in(db, needles)) == 5
    result = await privacy.run_retention(db, now=time.time(), days=1, wrap_up_seconds=0, batch=2)
    assert result.candidates == len(people) == 5
    assert await hits_in(db, needles) == []
    runs = await privacy.retention_runs(db)
    assert [r["candidates"] for r in runs] == [5]
