"""The database layer: revisions, and reads that always see what was committed."""

from __future__ import annotations

import asyncio
from pathlib import Path

from app import leases
from app.db import Database


async def test_every_write_moves_the_revision_on(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "hall.db")
    try:
        before = await db.revision()
        await leases.acquire(db, "x", "a", now=1.0, ttl=1)
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
