"""Presence: is a candidate who waits in a queue still there?

Closing the tab or a dropped connection does not cost a candidate their place at once: their
waiting request keeps its place for a grace period (``INZOOMEN_GRACE_SECONDS``). Presence is
kept in the database, on the waiting request, so it survives a restart and holds across
several worker processes:

- ``away_since`` is NULL while the candidate is connected (or nobody knows yet), and the
  moment they were last seen once they are gone;
- a waiting request whose candidate has been away for longer than the grace period lapses:
  status ``expired`` with ``closed_reason = 'away'``. That is a deadline like any other and
  is handled by ``app.live.deadlines`` (``lapse_due``, ``next_lapse``).

Who is connected is known per process (``Presence``): a candidate is marked present when
their first connection to this process opens and away when their last one closes. Each
process marks the candidates connected to it present again every ``refresh_seconds``, so a
process that closes (and marks them away) does not start the grace period of someone still
connected to another one. At start-up, waiting requests of candidates nobody has seen yet
start their grace period; connections that come back clear it. A page view counts as being
seen (``seen``), so a candidate without JavaScript, whose page refreshes itself, keeps their
place too.

The moderators' count of candidates online reads ``candidates.online_until``: a process sets
it to a little beyond its next refresh (``ONLINE_REFRESHES`` refreshes ahead) when a
candidate's first connection to it opens and every time it marks its candidates present
again, and clears it when their last connection to it closes. Online means
``online_until > now``: a process that stops without closing its connections stops moving it
on, so its candidates drop out within a few refreshes; a candidate still connected to another
process after one closed counts again from that process's next refresh.

This module knows nothing about HTTP or WebSockets: adapters tell it who arrived and left.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

from app.domain.queue import REQUEST_COLUMNS, Request, request_from_row
from app.storage.db import Database, Unavailable

log = logging.getLogger("inzoomen.presence")

AWAY = "away"
# Mark connected candidates present again at most this far apart.
REFRESH_MAX_SECONDS = 10.0
# A connected candidate counts as online for this many refreshes ahead.
ONLINE_REFRESHES = 3
# SQLite allows many more host parameters; this keeps each statement small.
CHUNK = 500


def refresh_seconds_for(grace_seconds: float) -> float:
    """How often a process marks its connected candidates present again: well within the
    grace period, so a candidate still connected elsewhere never lapses."""
    return max(0.2, min(REFRESH_MAX_SECONDS, grace_seconds / 3))


async def mark_present(db: Database, candidate_ids: Iterable[int]) -> int:
    """These candidates are connected: clear the grace period of their waiting requests.
    Returns how many requests changed (0 writes nothing)."""
    ids = sorted(set(candidate_ids))
    changed = 0
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        marks = ", ".join("?" for _ in chunk)
        where = f"candidate_id IN ({marks}) AND status = 'waiting' AND away_since IS NOT NULL"
        if await db.fetchone(f"SELECT 1 FROM requests WHERE {where} LIMIT 1", chunk) is None:
            continue
        async with db.transaction() as tx:
            changed += await tx.execute(
                f"UPDATE requests SET away_since = NULL WHERE {where}", chunk
            )
    return changed


async def mark_online(db: Database, candidate_ids: Iterable[int], until: float) -> None:
    """These candidates are connected: they count as online until ``until``."""
    ids = sorted(set(candidate_ids))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        marks = ", ".join("?" for _ in chunk)
        async with db.transaction() as tx:
            await tx.execute(
                f"UPDATE candidates SET online_until = ? WHERE id IN ({marks})", (until, *chunk)
            )


async def mark_offline(db: Database, candidate_id: int) -> None:
    """The candidate's last connection to this process closed."""
    where = "id = ? AND online_until IS NOT NULL"
    if await db.fetchone(f"SELECT 1 FROM candidates WHERE {where}", (candidate_id,)) is None:
        return
    async with db.transaction() as tx:
        await tx.execute(
            f"UPDATE candidates SET online_until = NULL WHERE {where}", (candidate_id,)
        )


async def online_count(db: Database, now: float) -> int:
    return int(
        await db.fetchvalue("SELECT COUNT(*) FROM candidates WHERE online_until > ?", (now,)) or 0
    )


async def mark_away(db: Database, candidate_id: int, now: float) -> bool:
    """The candidate's last connection closed: their waiting request (if any) starts its
    grace period now. True when a request was marked."""
    where = "candidate_id = ? AND status = 'waiting' AND away_since IS NULL"
    if await db.fetchone(f"SELECT 1 FROM requests WHERE {where}", (candidate_id,)) is None:
        return False
    async with db.transaction() as tx:
        changed = await tx.execute(
            f"UPDATE requests SET away_since = ? WHERE {where}", (now, candidate_id)
        )
    return changed > 0


async def seen(db: Database, candidate_id: int, now: float) -> bool:
    """The candidate was seen (a page view) while away: their grace period starts again."""
    where = "candidate_id = ? AND status = 'waiting' AND away_since IS NOT NULL AND away_since < ?"
    if await db.fetchone(f"SELECT 1 FROM requests WHERE {where}", (candidate_id, now)) is None:
        return False
    async with db.transaction() as tx:
        changed = await tx.execute(
            f"UPDATE requests SET away_since = ? WHERE {where}", (now, candidate_id, now)
        )
    return changed > 0


async def mark_unseen_away(db: Database, now: float) -> int:
    """At start-up: nobody is connected to this process yet, so waiting requests of
    candidates not known to be away start their grace period now."""
    where = "status = 'waiting' AND away_since IS NULL"
    if await db.fetchone(f"SELECT 1 FROM requests WHERE {where} LIMIT 1") is None:
        return 0
    async with db.transaction() as tx:
        return await tx.execute(f"UPDATE requests SET away_since = ? WHERE {where}", (now,))


async def lapse_due(db: Database, now: float, grace_seconds: float) -> list[Request]:
    """Waiting requests whose candidate has been away longer than the grace period lapse."""
    async with db.transaction() as tx:
        rows = await tx.fetchall(
            f"UPDATE requests SET status = 'expired', closed_at = ?, closed_reason = '{AWAY}' "
            f"WHERE status = 'waiting' AND away_since IS NOT NULL AND away_since <= ? "
            f"RETURNING {REQUEST_COLUMNS}",
            (now, now - grace_seconds),
        )
    return [request_from_row(r) for r in rows]


async def next_lapse(db: Database, grace_seconds: float) -> float | None:
    value = await db.fetchvalue(
        "SELECT MIN(away_since) FROM requests WHERE status = 'waiting' AND away_since IS NOT NULL"
    )
    return None if value is None else float(value) + grace_seconds


class Presence:
    """Which candidates have a connection to this process, told to the database."""

    def __init__(
        self,
        db: Database,
        clock: Callable[[], float],
        grace_seconds: float,
        on_change: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.grace_seconds = grace_seconds
        self.refresh_seconds = refresh_seconds_for(grace_seconds)
        # Called after a candidate was marked away (their lapse is a new deadline) or back
        # (one who is next may now be asked whether they are ready, see app.domain.readiness).
        self.on_change = on_change
        self._connections: dict[int, int] = {}

    def _online_until(self) -> float:
        return self.clock() + ONLINE_REFRESHES * self.refresh_seconds

    def connected(self, candidate_id: int) -> bool:
        return candidate_id in self._connections

    async def _away(self, candidate_id: int) -> None:
        if await mark_away(self.db, candidate_id, self.clock()):
            if self.connected(candidate_id):
                # A connection came back while the mark was written.
                await mark_present(self.db, [candidate_id])
            elif self.on_change is not None:
                await self.on_change()

    async def arrived(self, role: str, person_id: int | None) -> None:
        """A connection of this person opened."""
        if role != "candidate" or person_id is None:
            return
        count = self._connections.get(person_id, 0)
        self._connections[person_id] = count + 1
        if count == 0:
            try:
                if await mark_present(self.db, [person_id]) and self.on_change is not None:
                    await self.on_change()
                await mark_online(self.db, [person_id], self._online_until())
            except Exception:
                log.exception("marking a candidate present failed")

    async def left(self, role: str, person_id: int | None) -> None:
        """A connection of this person closed."""
        if role != "candidate" or person_id is None:
            return
        count = self._connections.get(person_id, 0) - 1
        if count > 0:
            self._connections[person_id] = count
            return
        self._connections.pop(person_id, None)
        try:
            await mark_offline(self.db, person_id)
            if self.connected(person_id):
                # A connection came back while the mark was written.
                await mark_online(self.db, [person_id], self._online_until())
            await self._away(person_id)
        except Exception:
            # The next start-up (or the connection coming back) puts it right.
            log.exception("marking a candidate away failed")

    async def request_made_without_connection(self, candidate_id: int) -> None:
        """A request made through a form: unless the candidate is connected here, its grace
        period starts at once (their page views keep it)."""
        if not self.connected(candidate_id):
            await self._away(candidate_id)

    async def start(self) -> None:
        """At start-up, before any connection: candidates nobody has seen are away."""
        if await mark_unseen_away(self.db, self.clock()) and self.on_change is not None:
            await self.on_change()

    async def run(self) -> None:
        """Mark the candidates connected to this process present again, now and then."""
        while True:
            await asyncio.sleep(self.refresh_seconds)
            try:
                if self._connections:
                    await mark_present(self.db, list(self._connections))
                    await mark_online(self.db, list(self._connections), self._online_until())
            except asyncio.CancelledError:
                raise
            except Unavailable as error:
                # The database is away (restarting): a known state, not a fault to trace.
                log.warning(
                    "marking connected candidates present waits for the database (%s); retrying",
                    error,
                )
            except Exception:
                log.exception("marking connected candidates present failed; retrying")
