"""Leases: one holder at a time, renewal, take-over after expiry, release."""

from __future__ import annotations

from pathlib import Path

from app.storage import leases
from app.storage.db import Database


async def test_one_holder_at_a_time_and_take_over_after_expiry(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "hall.db")
    try:
        assert await leases.acquire(db, "deadlines", "a", now=100.0, ttl=10)
        assert not await leases.acquire(db, "deadlines", "b", now=105.0, ttl=10)
        assert await leases.acquire(db, "deadlines", "a", now=108.0, ttl=10)  # renewed to 118
        assert not await leases.acquire(db, "deadlines", "b", now=117.0, ttl=10)
        assert await leases.acquire(db, "deadlines", "b", now=118.0, ttl=10)  # a stopped
        assert not await leases.acquire(db, "deadlines", "a", now=119.0, ttl=10)
        # Other leases are independent.
        assert await leases.acquire(db, "reports", "a", now=119.0, ttl=10)
    finally:
        await db.close()


async def test_two_databases_on_one_file_agree_on_the_holder(tmp_path: Path) -> None:
    """As two processes would: separate connections to the same SQLite file."""
    first = await Database.open(tmp_path / "hall.db")
    second = await Database.open(tmp_path / "hall.db")
    try:
        clock = [1000.0]
        a = leases.Lease(first, "deadlines", lambda: clock[0], ttl=9, holder="a")
        b = leases.Lease(second, "deadlines", lambda: clock[0], ttl=9, holder="b")
        assert await a.hold() and not await b.hold()
        clock[0] += 4  # past a third of the time: a renews
        assert await a.hold() and not await b.hold()
        await a.release()
        assert await b.hold()
        clock[0] += 100  # b stopped renewing: a takes it back
        assert await a.hold()
        assert not await b.hold()
    finally:
        await first.close()
        await second.close()
