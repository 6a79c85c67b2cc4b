"""The database layer: revisions, and reads that always see what was committed."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from app.storage import leases
from app.storage.db import Database, Unavailable


async def test_every_write_moves_the_revision_on(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "hall.db")
    try:
        before = await db.revision()
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO leases (name, holder, expires_at) VALUES ('x', 'a', 0)")
        assert await db.revision() == before + 1
        try:
            async with db.transaction() as tx:
                await tx.execute("DELETE FROM leases")
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
        assert await db.revision() == before + 1
    finally:
        await db.close()


async def test_a_write_that_changes_nothing_or_only_bookkeeping_leaves_the_revision(
    tmp_path: Path,
) -> None:
    """Clients compare states by the revision: it moves only when a view can differ."""
    db = await Database.open(tmp_path / "hall.db")
    try:
        before = await db.revision()
        async with db.transaction() as tx:  # a background round that finds nothing to do
            await tx.execute("UPDATE leases SET holder = 'b' WHERE name = 'none'")
        assert await db.revision() == before
        # Taking, renewing and releasing a lease is bookkeeping no view shows.
        assert await leases.acquire(db, "deadlines", "a", now=1.0, ttl=10)
        assert await leases.acquire(db, "deadlines", "a", now=5.0, ttl=10)
        await leases.release(db, "deadlines", "a")
        assert await db.revision() == before
        assert await db.fetchvalue("SELECT COUNT(*) FROM leases") == 0
    finally:
        await db.close()


async def test_a_read_after_a_commit_sees_it_while_other_reads_run(tmp_path: Path) -> None:
    """Reads share one connection; none may pin it to a snapshot older than a commit."""
    db = await Database.open(tmp_path / "hall.db")
    try:
        async with db.transaction() as tx:
            for i in range(300):
                await tx.execute(
                    "INSERT INTO leases (name, holder, expires_at) VALUES (?, 'x', 0)", (f"n{i}",)
                )
        stop = False

        async def busy_reader() -> None:
            while not stop:
                await db.fetchall("SELECT * FROM leases")
                await db.fetchone("SELECT name FROM leases ORDER BY name")
                await asyncio.sleep(0)

        readers = [asyncio.create_task(busy_reader()) for _ in range(4)]
        try:
            for round_ in range(100):
                async with db.transaction() as tx:
                    await tx.execute(
                        "UPDATE leases SET expires_at = ? WHERE name = 'n0'", (round_ + 1,)
                    )
                seen = await db.fetchvalue("SELECT expires_at FROM leases WHERE name = 'n0'")
                assert seen == round_ + 1, f"round {round_}: read an older snapshot ({seen})"
        finally:
            stop = True
            await asyncio.gather(*readers)
    finally:
        await db.close()


async def test_transactions_that_queue_up_share_one_commit(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "hall.db")
    try:
        commits_before = db.commits

        async def one(i: int) -> None:
            async with db.transaction() as tx:
                await tx.execute(
                    "INSERT INTO leases (name, holder, expires_at) VALUES (?, 'x', 0)", (f"n{i}",)
                )

        async def broken() -> None:
            async with db.transaction() as tx:
                await tx.execute(
                    "INSERT INTO leases (name, holder, expires_at) VALUES ('bad', 'x', 0)"
                )
                raise ValueError("refused half-way")

        results = await asyncio.gather(
            *(one(i) for i in range(25)),
            broken(),
            *(one(i) for i in range(25, 50)),
            return_exceptions=True,
        )
        assert [type(r) for r in results].count(ValueError) == 1
        assert db.commits - commits_before < 50  # fewer syncs to disk than transactions
        # Every transaction that returned is committed, as another process sees it; the one
        # that failed left nothing behind.
        with sqlite3.connect(tmp_path / "hall.db") as other:
            names = {row[0] for row in other.execute("SELECT name FROM leases")}
        assert names == {f"n{i}" for i in range(50)}
    finally:
        await db.close()


async def test_writers_that_cannot_get_the_database_fail_and_the_next_one_works(
    tmp_path: Path,
) -> None:
    path = tmp_path / "hall.db"
    db = await Database.open(path)
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        # Another process holds the database: writers that cannot start in time fail
        # cleanly, and once it lets go the next transaction commits as usual.
        await db._writer.execute("PRAGMA busy_timeout = 100")
        blocker.execute("BEGIN EXCLUSIVE")

        async def one(i: int) -> None:
            async with db.transaction() as tx:
                await tx.execute(
                    "INSERT INTO leases (name, holder, expires_at) VALUES (?, 'x', 0)", (f"n{i}",)
                )

        results = await asyncio.gather(*(one(i) for i in range(3)), return_exceptions=True)
        assert all(isinstance(r, Unavailable) for r in results), results
        blocker.execute("ROLLBACK")
        await one(99)
        assert [r[0] for r in await db.fetchall("SELECT name FROM leases")] == ["n99"]
    finally:
        blocker.close()
        await db.close()
