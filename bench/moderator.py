"""Moderator reads benchmark: what the dashboard, its charts, the report and the CSV exports
cost on a busy hall, side by side with the hall's own booth read as the baseline.

Run from the repository root::

    .venv/bin/python bench/moderator.py            # 60 booths, 180 advisors, 6000 candidates
    .venv/bin/python bench/moderator.py --smoke    # a small hall, a few seconds

The hall is seeded straight into a fresh SQLite file (one transaction): ``--booths`` booths
with three advisors each in mixed statuses, ``--waiting`` waiting requests, ``--done``
conversations over the last eight hours (``--running`` of them still running) with a rating
each, and a quarter of the candidates online. Every read is the one the server makes (the
same functions, the same database class); each runs ``--reads`` times after one warm-up and
the median and maximum are printed. The baseline is ``snapshots.booth_views`` of every booth:
what each hall refresh already costs. The reads use the server's reader connection, which
blocks its event loop while they run: the maxima say how long.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.domain import dashboard, reports
from app.domain.event import Event, load_event, save_event
from app.live import snapshots
from app.storage.db import Database
from app.web.pages.dashboard import charts

STATUSES = ("available", "in_conversation", "wrapping_up", "paused", "offline")


async def seed(db: Database, args: argparse.Namespace, now: float) -> None:
    rnd = random.Random(1)
    booths = args.booths
    candidates = args.waiting + args.done
    async with db.transaction() as tx:
        await save_event(
            tx,
            Event(
                name="Benchmark",
                timezone="Europe/Amsterdam",
                conversation_seconds=600,
                warning_seconds=120,
                video_provider="jitsi",
                video_base_url="https://meet.jit.si",
            ),
        )
        for b in range(booths):
            await tx.insert(
                "INSERT INTO booths (slug, name, kind, sector, position) "
                "VALUES (?, ?, 'employer', 'zorg', ?)",
                (f"stand-{b}", f"Stand {b}", b),
            )
        advisors = booths * 3
        for a in range(advisors):
            # The first --running advisors are the ones in the running conversations.
            status = "in_conversation" if a < args.running else rnd.choice(STATUSES)
            await tx.insert(
                "INSERT INTO staff (email, name, role, password_hash, booth_id, status, "
                "status_since) VALUES (?, ?, 'advisor', '!', ?, ?, ?)",
                (f"a{a}@bench.test", f"Adviseur {a}", a % booths + 1, status, now - 600),
            )
        for c in range(candidates):
            online = now + 30 if c % 4 == 0 else None
            await tx.insert(
                "INSERT INTO candidates (name, email, consent_at, created_at, online_until) "
                "VALUES (?, ?, ?, ?, ?)",
                (f"Kandidaat {c}", f"k{c}@bench.test", now, now, online),
            )
        for c in range(args.waiting):
            await tx.insert(
                "INSERT INTO requests (booth_id, candidate_id, client_key, created_at, "
                "expires_at) VALUES (?, ?, 'k', ?, ?)",
                (rnd.randint(1, booths), c + 1, now - rnd.random() * 1800, now + 3600),
            )
        for i in range(args.done):
            candidate = args.waiting + i + 1
            created = now - 900 - rnd.random() * 8 * 3600
            started = created + rnd.random() * 900
            booth = rnd.randint(1, booths)
            running = i < args.running
            advisor = i + 1 if running else rnd.randint(1, advisors)
            request = await tx.insert(
                "INSERT INTO requests (booth_id, candidate_id, status, client_key, created_at, "
                "expires_at, closed_at) VALUES (?, ?, 'accepted', 'k', ?, ?, ?)",
                (booth, candidate, created, created + 3600, started),
            )
            if running:
                started, ended = now - rnd.random() * 700, None
            else:
                ended = started + 120 + rnd.random() * 700
            conversation = await tx.insert(
                "INSERT INTO conversations (request_id, booth_id, advisor_id, candidate_id, "
                "video_url, started_at, ends_at, ended_at) VALUES (?, ?, ?, ?, '', ?, ?, ?)",
                (request, booth, advisor, candidate, started, started + 600, ended),
            )
            if ended is not None:
                await tx.insert(
                    "INSERT INTO feedback (conversation_id, rating, created_at) VALUES (?, ?, ?)",
                    (conversation, rnd.randint(1, 5), ended + 60),
                )


async def timed(read: Callable[[], Awaitable[Any]], reads: int) -> tuple[float, float]:
    await read()
    times = []
    for _ in range(reads):
        started = time.perf_counter()
        await read()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000, max(times) * 1000


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--booths", type=int, default=60)
    parser.add_argument("--waiting", type=int, default=1000)
    parser.add_argument("--done", type=int, default=5000)
    parser.add_argument("--running", type=int, default=100)
    parser.add_argument("--reads", type=int, default=20)
    parser.add_argument("--smoke", action="store_true", help="a small hall, a few seconds")
    args = parser.parse_args()
    if args.smoke:
        args.booths, args.waiting, args.done, args.running, args.reads = 6, 40, 200, 6, 3
    args.running = min(args.running, args.done, args.booths * 3)

    with tempfile.TemporaryDirectory() as folder:
        db = await Database.open(Path(folder) / "bench.db")
        now = time.time()
        await seed(db, args, now)
        event = await load_event(db)
        reads: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
            ("hall: every booth (baseline)", lambda: snapshots.booth_views(db, event, now)),
            ("dashboard state", lambda: dashboard.state(db, event, now)),
            ("dashboard charts", lambda: charts(db, event, now)),
            ("report, whole event", lambda: reports.report(db, event)),
            ("export requests.csv", lambda: reports.export_requests(db, event)),
            ("export conversations.csv", lambda: reports.export_conversations(db, event, now)),
            ("export feedback.csv", lambda: reports.export_feedback(db, event)),
        ]
        print(
            f"{args.booths} booths, {args.booths * 3} advisors, {args.waiting} waiting, "
            f"{args.done} conversations ({args.running} running); {args.reads} reads each"
        )
        baseline = None
        for label, read in reads:
            median, most = await timed(read, args.reads)
            baseline = baseline or median
            print(
                f"  {label:<30} median {median:7.1f} ms  max {most:7.1f} ms  "
                f"({median / baseline:4.1f} x baseline)"
            )
        await db.close()


if __name__ == "__main__":
    asyncio.run(main())
