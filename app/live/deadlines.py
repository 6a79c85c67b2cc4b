"""Timers that must fire even across restarts: request expiry, the lapse of a request whose
candidate stayed away past the grace period (``app.domain.presence``), the two-minute warning,
time is up, the end of an advisor's wrap-up, and readiness (``app.domain.readiness``: asking who is
next, the limit of that prompt, and the limit for joining after acceptance).

Nothing is kept in memory: every deadline is a column in the database. One background task
asks the database for the earliest pending deadline, sleeps until then (or until woken
because something changed), and handles everything that is due. After a restart the same
query finds the same deadlines, so timers resume with their original end times.

When several worker processes share the database, only the holder of the ``deadlines``
lease handles them, so each deadline is handled once; the others stand by and take over when
the holder stops. Any process can wake the holder through the hub (``deadlines.wake``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from app.domain import advisors, conversations, presence, queue, readiness
from app.domain.event import load_event
from app.live.publish import Live
from app.storage.db import Database, Unavailable
from app.storage.leases import Lease

log = logging.getLogger("inzoomen.deadlines")

# Upper bound on one sleep, so a changed clock or a missed wake-up heals itself.
MAX_SLEEP_SECONDS = 30.0


LEASE = "deadlines"


class Deadlines:
    def __init__(
        self,
        db: Database,
        live: Live,
        clock: Callable[[], float],
        lease: Lease | None = None,
        grace_seconds: float | None = None,
    ) -> None:
        self.db = db
        # None: requests never lapse for being away (only their time to live applies).
        self.grace_seconds = grace_seconds
        self.live = live
        self.clock = clock
        self.lease = lease
        self._wake = asyncio.Event()
        self.rounds = 0

    def wake(self) -> None:
        """Something changed that may have moved the next deadline earlier."""
        self._wake.set()

    async def next_deadline(self) -> float | None:
        event = await load_event(self.db)
        candidates = [
            await queue.next_expiry(self.db),
            await conversations.next_timer(self.db, event),
            await advisors.next_wrap_up_end(self.db),
            await readiness.next_deadline(self.db, self.clock()),
        ]
        if self.grace_seconds is not None:
            candidates.append(await presence.next_lapse(self.db, self.grace_seconds))
        pending = [c for c in candidates if c is not None]
        return min(pending) if pending else None

    async def run_due(self) -> None:
        """Handle every deadline that has passed, then tell who needs to know."""
        now = self.clock()
        event = await load_event(self.db)
        booths: set[int] = set()
        expired = await queue.expire_due(self.db, now)
        if self.grace_seconds is not None:
            expired += await presence.lapse_due(self.db, now, self.grace_seconds)
        for request in expired:
            booths.add(request.booth_id)
            await self.live.candidate_changed(request.candidate_id)
        for conversation in await conversations.warn_due(self.db, event, now):
            await self.live.conversation_signal(
                "conversation.warning",
                conversation.candidate_id,
                conversation.advisor_id,
                {"id": conversation.id, "ends_at": conversation.ends_at},
            )
        for conversation in await conversations.time_up_due(self.db, now):
            await self.live.conversation_signal(
                "conversation.time_up",
                conversation.candidate_id,
                conversation.advisor_id,
                {"id": conversation.id, "ends_at": conversation.ends_at},
            )
        for advisor in await advisors.finish_wrap_ups_due(self.db, now):
            if advisor.booth_id is not None:
                booths.add(advisor.booth_id)
        # Readiness last: no-shows free advisors, missed prompts move people back, and
        # whoever is next now (after all of the above) is asked.
        ready = await readiness.run_due(self.db, now)
        booths |= ready.booth_ids
        for candidate_id in sorted(ready.candidate_ids):
            await self.live.candidate_changed(candidate_id)
        if booths:
            await self.live.booths_changed(booths)

    async def holding(self) -> bool:
        return self.lease is None or await self.lease.hold()

    async def run(self) -> None:
        try:
            await self._run()
        finally:
            if self.lease is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(self.lease.release())

    async def _run(self) -> None:
        while True:
            # Cleared before the work, so a wake-up during the work is not lost.
            self._wake.clear()
            delay = MAX_SLEEP_SECONDS
            try:
                if await self.holding():
                    await self.run_due()
                    self.rounds += 1
                    deadline = await self.next_deadline()
                    if deadline is not None:
                        delay = min(MAX_SLEEP_SECONDS, max(0.0, deadline - self.clock()))
            except asyncio.CancelledError:
                raise
            except Unavailable as error:
                # The database is away (restarting): a known state, not a fault to trace.
                log.warning("handling deadlines waits for the database (%s); retrying", error)
            except Exception:
                log.exception("handling deadlines failed; retrying")
            if self.lease is not None:
                delay = min(delay, self.lease.renew_every)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay + 0.01)


async def moments_passed(db: Database, role: str, person_id: int | None) -> list[tuple[str, Any]]:
    """The moments of a running conversation that were already told (warning, time up),
    for a participant who connects now: a client that was away when they happened, or
    connects after a restart, still hears the latest of them after its snapshot."""
    if person_id is None or role not in ("candidate", "advisor"):
        return []
    column = "candidate_id" if role == "candidate" else "advisor_id"
    row = await db.fetchone(
        f"SELECT id, ends_at, warned_at, time_up_at FROM conversations "
        f"WHERE {column} = ? AND ended_at IS NULL",
        (person_id,),
    )
    if row is None:
        return []
    data = {"id": row["id"], "ends_at": row["ends_at"]}
    if row["time_up_at"] is not None:
        return [("conversation.time_up", data)]
    if row["warned_at"] is not None:
        return [("conversation.warning", data)]
    return []
