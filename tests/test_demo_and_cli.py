"""The demo event and the inzoomen command."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from app.demo import DEMO_PASSWORD, seed_demo
from app.domain import reports
from app.domain.accounts import authenticate
from app.domain.event import event_days, load_event
from tests.livekit import ROOT
from tests.servicekit import open_db


async def test_demo_looks_like_the_leerwerkweek(tmp_path: Path) -> None:
    db = await open_db(tmp_path / "demo.db")
    logins = await seed_demo(db, date(2026, 6, 1))
    event = await load_event(db)
    assert event.conversation_seconds == 600 and event.timezone == "Europe/Amsterdam"
    days = await event_days(db)
    assert [d.day.isoformat() for d in days] == ["2026-05-31"] + [
        f"2026-06-0{i}" for i in range(1, 5)
    ]
    booths = await db.fetchall("SELECT id, kind, sector FROM booths")
    assert len(booths) == 20
    assert sum(1 for b in booths if b["kind"] == "advice_desk") == 1
    assert len({b["sector"] for b in booths}) >= 8
    per_booth = await db.fetchall(
        "SELECT b.kind, COUNT(s.id) AS n FROM booths b "
        "JOIN staff s ON s.booth_id = b.id GROUP BY b.id"
    )
    assert all(1 <= r["n"] <= 2 for r in per_booth)
    assert [r["n"] for r in per_booth if r["kind"] == "advice_desk"] == [2]
    slots = await db.fetchall("SELECT DISTINCT booth_id, day FROM schedule")
    assert len(slots) == 20 * 5  # every booth has a schedule on every day
    # Yesterday is over and has its history; nothing waits or runs.
    report = await reports.report(db, event)
    totals = report.totals
    assert totals.conversations > 100 and totals.follow_ups > 10 and totals.running == 0
    assert totals.requests > totals.served > 0 and totals.waiting == 0
    assert totals.average_rating is not None and 3 <= totals.average_rating <= 5
    staff = await authenticate(db, logins.advisor_emails[0][0], DEMO_PASSWORD)
    assert staff.role == "advisor"
    with pytest.raises(ValueError):
        await seed_demo(db, date(2026, 6, 1))
    await db.close()


def _inzoomen(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_cli_migrate_and_create_user(tmp_path: Path) -> None:
    db_path = tmp_path / "cli.db"
    first = _inzoomen("migrate", "--db", str(db_path))
    versions = sorted(
        int(m.name[:4]) for m in (ROOT / "app" / "storage" / "migrations").glob("[0-9]*.sql")
    )
    assert first.returncode == 0 and f"applied migrations: {versions}" in first.stdout
    again = _inzoomen("migrate", "--db", str(db_path))
    assert "up to date" in again.stdout
    made = _inzoomen(
        "create-user",
        "--db",
        str(db_path),
        "--role",
        "moderator",
        "--email",
        "m@example.nl",
        "--name",
        "Mo",
        "--password-stdin",
        stdin="a-long-password\n",
    )
    assert made.returncode == 0, made.stderr
    short = _inzoomen(
        "create-user",
        "--db",
        str(db_path),
        "--role",
        "moderator",
        "--email",
        "n@example.nl",
        "--name",
        "No",
        "--password-stdin",
        stdin="short\n",
    )
    assert short.returncode == 2
    no_booth = _inzoomen(
        "create-user",
        "--db",
        str(db_path),
        "--role",
        "advisor",
        "--email",
        "a@example.nl",
        "--name",
        "Ad",
        "--booth",
        "nope",
        "--password-stdin",
        stdin="a-long-password\n",
    )
    assert no_booth.returncode == 2 and "nope" in no_booth.stderr
    db = await open_db(db_path)
    staff = await authenticate(db, "m@example.nl", "a-long-password")
    assert staff.role == "moderator"
    assert await db.fetchvalue("SELECT COUNT(*) FROM staff") == 1
    await db.close()
    backup = tmp_path / "copy.db"
    copied = _inzoomen("backup", "--db", str(db_path), str(backup))
    assert copied.returncode == 0, copied.stderr
    db = await open_db(backup)
    assert await db.fetchvalue("SELECT email FROM staff") == "m@example.nl"
    await db.close()


def test_production_without_secret_refuses_to_serve(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app", "serve", "--db", str(tmp_path / "x.db"), "--port", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "INZOOMEN_ENV": "production"},
    )
    assert result.returncode == 2
    assert "INZOOMEN_SECRET_KEY" in result.stderr
