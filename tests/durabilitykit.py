"""A hall for durability checks, shared by ``tests/test_durability.py`` and
``bench/durability.py``: many advisors seeded straight into a SQLite file, visitors signed in
through the forms with reconnecting sockets, a SIGKILL and restart of the server on the same
file and port, and the rule for how late a timer that ended during an outage may count.

The tests assert what must always hold (nothing lost, every timer fires, never early); the
benchmark measures how late the timers come, which depends on the machine's load.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from app.domain import accounts, booths
from app.domain.event import Event, add_day, save_event
from app.storage.db import Database
from tests.livekit import PASSWORD, Browserless, LiveServer, ReconnectingPeer, comparable

ZONE = ZoneInfo("Europe/Amsterdam")
# Test clients reconnect like live.js, with a shorter first wait and cap, so a restart is
# noticed within half a second.
FIRST, CAP = 0.1, 0.5
ENV = {
    # Nobody's place lapses during these tests unless a test says so.
    "INZOOMEN_GRACE_SECONDS": "3600",
    "INZOOMEN_WRAP_UP_SECONDS": "3600",
    "INZOOMEN_REQUESTS_PER_MINUTE": "1000",
    "INZOOMEN_LOG_LEVEL": "warning",
}


# -- a hall of many advisors, seeded straight into the file ----------------------------------


@dataclass
class Hall:
    path: Path
    booths: list[int]
    advisors: list[tuple[int, int, str]]  # (id, booth id, e-mail)
    moderator: str


async def seed_hall(
    path: Path,
    *,
    booth_count: int,
    advisors_per_booth: int,
    conversation_seconds: int,
    warning_seconds: int,
) -> Hall:
    db = await Database.open(path)
    today = datetime.now(ZONE).date()
    password_hash = accounts.hash_password(PASSWORD)
    try:
        async with db.transaction() as tx:
            await save_event(
                tx,
                Event(
                    name="Duurzaamheidsbeurs",
                    timezone="Europe/Amsterdam",
                    conversation_seconds=conversation_seconds,
                    warning_seconds=warning_seconds,
                    video_provider="jitsi",
                    video_base_url="https://meet.example.test",
                ),
            )
            await add_day(tx, today, "00:00", "24:00")
            booth_ids, advisors = [], []
            for b in range(booth_count):
                booth_id = await booths.create_booth(
                    tx, slug=f"stand-{b}", name=f"Stand {b}", kind="employer", sector="zorg"
                )
                await booths.add_slot(tx, booth_id, today, "00:00", "24:00")
                booth_ids.append(booth_id)
                for a in range(advisors_per_booth):
                    email = f"adv{b}-{a}@test.example"
                    # One hash for every advisor: hashing hundreds would only cost time.
                    staff_id = await tx.insert(
                        "INSERT INTO staff (email, name, role, password_hash, booth_id, status, "
                        "status_since) VALUES (?, ?, 'advisor', ?, ?, 'available', ?)",
                        (email, f"Adviseur {b}-{a}", password_hash, booth_id, time.time()),
                    )
                    advisors.append((staff_id, booth_id, email))
            await tx.insert(
                "INSERT INTO staff (email, name, role, password_hash) "
                "VALUES ('mod@test.example', 'Moderator', 'moderator', ?)",
                (password_hash,),
            )
    finally:
        await db.close()
    return Hall(path, booth_ids, advisors, "mod@test.example")


def read_db(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
    """A plain read of the file, as any other process could do it."""
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


class People:
    """Visitors (cookie jars) and their reconnecting sockets; all closed at the end."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.visitors: list[Browserless] = []
        self.peers: list[ReconnectingPeer] = []
        self.limit = asyncio.Semaphore(16)

    async def _visitor(self, sign: Callable[[Browserless], Awaitable[None]]) -> Browserless:
        visitor = Browserless(self.server)
        # Staff logins verify an argon2 hash each (about 0.15 s of CPU); on a busy machine a
        # hundred of them queue up for longer than the usual 10 s.
        visitor.http.timeout = httpx.Timeout(60)
        self.visitors.append(visitor)
        async with self.limit:
            await sign(visitor)
        return visitor

    async def candidate(self, name: str, email: str) -> ReconnectingPeer:
        visitor = await self._visitor(lambda v: v.sign_in_candidate(name, email))
        return await self.connect(visitor)

    async def staff(self, email: str) -> ReconnectingPeer:
        visitor = await self._visitor(lambda v: v.log_in(email))
        return await self.connect(visitor)

    async def anonymous(self) -> ReconnectingPeer:
        return await self.connect(Browserless(self.server))

    async def connect(self, visitor: Browserless, **backoff: float) -> ReconnectingPeer:
        if visitor not in self.visitors:
            self.visitors.append(visitor)
        peer = ReconnectingPeer(
            visitor, first=backoff.get("first", FIRST), cap=backoff.get("cap", CAP)
        )
        self.peers.append(peer)
        async with self.limit:
            return await peer.start(timeout=30)

    async def aclose(self) -> None:
        await asyncio.gather(*(peer.close() for peer in self.peers), return_exceptions=True)
        await asyncio.gather(*(v.aclose() for v in self.visitors), return_exceptions=True)


@contextlib.asynccontextmanager
async def people_of(server: LiveServer) -> AsyncIterator[People]:
    made = People(server)
    try:
        yield made
    finally:
        await made.aclose()


async def all_in_sync(peers: list[ReconnectingPeer], within: float = 90.0) -> float:
    """Wait until every peer is connected and holds what a fresh ``session.sync`` says;
    return the moment (time.time()) the last one was. Hundreds of clients reconnecting to a
    restarted server on a busy machine take a while: ``within`` bounds a hang, not speed."""
    deadline = time.monotonic() + within
    pending = list(peers)
    last = time.time()
    while pending:
        left = []

        async def check(peer: ReconnectingPeer) -> bool:
            try:
                await peer.wait_connected(max(0.1, deadline - time.monotonic()))
                return await peer.in_sync()
            except (ConnectionError, TimeoutError):
                return False

        results = await asyncio.gather(*(check(p) for p in pending))
        left = [p for p, ok in zip(pending, results, strict=True) if not ok]
        if not left:
            last = time.time()
            break
        if time.monotonic() > deadline:
            bad = left[0]
            fresh = None
            with contextlib.suppress(Exception):
                fresh = (await bad.send("session.sync"))["data"]
            raise AssertionError(
                f"{len(left)} clients not in sync; e.g. holds {comparable(bad.state)!r}, "
                f"server says {comparable(fresh) if fresh else None!r}"
            )
        pending = left
        await asyncio.sleep(0.1)
    return last


def kill_and_restart(server: LiveServer) -> tuple[float, float]:
    """SIGKILL the server, start it again on the same file and port; (killed, ready)."""
    assert server.process is not None
    killed = time.time()
    server.process.kill()
    server.process.wait()
    server.process = None
    server.start()
    return killed, time.time()


def time_up_drift(arrived: float, ends_at: float, outages: list[tuple[float, float]]) -> float:
    """How late a time-up push came: after its end time, or, when the end time passed while
    the server was down, after the server was back."""
    reference = ends_at
    for killed, ready in outages:
        if killed <= ends_at <= ready:
            reference = ready
    return arrived - reference
