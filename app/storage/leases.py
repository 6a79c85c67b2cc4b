"""Leases: a job that must run in one process at a time, whichever process that is.

A lease is a row in the database with its holder and an expiry time. A process holds it while
it keeps renewing it; when the holder stops (or dies), another process takes it over once it
has expired. The database decides who holds it, so this works for every process that shares
the database, on one machine or several.

Taking, renewing and releasing a lease leave the database revision alone: no client's view
shows a lease, and a renewal every few seconds would otherwise tell every client of a change
that is not there.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable

from app.storage.db import Database

DEFAULT_TTL_SECONDS = 10.0


def holder_name() -> str:
    """Unique for this process: host, process id and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


async def acquire(db: Database, name: str, holder: str, now: float, ttl: float) -> bool:
    """Take or renew the lease; True when ``holder`` holds it until ``now + ttl``."""
    async with db.transaction(moves_revision=False) as tx:
        await tx.execute(
            "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
            "expires_at = excluded.expires_at "
            "WHERE leases.holder = excluded.holder OR leases.expires_at <= ?",
            (name, holder, now + ttl, now),
        )
        row = await tx.fetchone("SELECT holder FROM leases WHERE name = ?", (name,))
    return row is not None and row["holder"] == holder


async def release(db: Database, name: str, holder: str) -> None:
    async with db.transaction(moves_revision=False) as tx:
        await tx.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))


class Lease:
    """One process's claim on one lease, renewed when a third of its time has passed."""

    def __init__(
        self,
        db: Database,
        name: str,
        clock: Callable[[], float],
        ttl: float = DEFAULT_TTL_SECONDS,
        holder: str | None = None,
    ) -> None:
        self.db = db
        self.name = name
        self.clock = clock
        self.ttl = ttl
        self.holder = holder or holder_name()
        self._held_until = 0.0

    @property
    def renew_every(self) -> float:
        return self.ttl / 3

    async def hold(self) -> bool:
        """True while this process holds the lease; renews or tries to take it as needed."""
        now = self.clock()
        if now < self._held_until - 2 * self.renew_every:
            return True
        if await acquire(self.db, self.name, self.holder, now, self.ttl):
            self._held_until = now + self.ttl
            return True
        self._held_until = 0.0
        return False

    async def release(self) -> None:
        if self._held_until:
            self._held_until = 0.0
            await release(self.db, self.name, self.holder)
