"""The PostgreSQL backend itself, on a real server: how statements are written for it, the
hall's write lock across processes, migrations started at the same moment, and what the hall
does while the server is away.

The rules of the hall are tested on both backends by the service tests (the ``db``
fixture); this module tests what only a database server has.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.storage.db import Database, IntegrityError, Unavailable, migrations
from app.storage.postgres import translate
from tests.livekit import ROOT, Browserless, LiveServer, fire, seed_world
from tests.pgkit import PostgresServer


def test_parameters_are_numbered_and_quoted_text_is_left_alone() -> None:
    assert translate("SELECT a FROM t WHERE b = ? AND c = ?") == (
        "SELECT a FROM t WHERE b = $1 AND c = $2",
        None,
    )
    assert translate("SELECT '?' || ?, \"a?\" FROM t") == ("SELECT '?' || $1, \"a?\" FROM t", None)
    text, names = translate("SELECT 1 WHERE a >= :start AND b < :end OR c = :start")
    assert text == "SELECT 1 WHERE a >= $1 AND b < $2 OR c = $1"
    assert names == ("start", "end")
    # PostgreSQL's own casts are not parameters.
    assert translate("SELECT x::text FROM t WHERE y = ?") == (
        "SELECT x::text FROM t WHERE y = $1",
        None,
    )
    assert translate("SELECT 'it''s ?' WHERE z = ?")[0] == "SELECT 'it''s ?' WHERE z = $1"


@pytest.fixture(scope="module")
def own_server() -> Iterator[PostgresServer]:
    """A server of this module's own: its tests stop and start it."""
    with PostgresServer() as server:
        yield server


async def test_writers_on_two_connections_take_turns_and_lose_nothing(
    pg_server: PostgresServer,
) -> None:
    """Two processes' worth of writers (two Database objects, each with its own writer
    connection and group commit) increment one counter by read-then-write: with the hall's
    write lock around every transaction, no increment is lost."""
    url = pg_server.database()
    first, second = await Database.open(url), await Database.open(url)
    try:
        async with first.transaction() as tx:
            await tx.execute("INSERT INTO leases (name, holder, expires_at) VALUES ('n', '0', 0)")
        before = await first.revision()

        async def bump(db: Database) -> None:
            async with db.transaction() as tx:
                value = int(await tx.fetchvalue("SELECT holder FROM leases WHERE name = 'n'"))
                await asyncio.sleep(0)  # the other writer gets every chance to interleave
                await tx.execute("UPDATE leases SET holder = ? WHERE name = 'n'", (str(value + 1),))

        await asyncio.gather(*(bump(db) for _ in range(40) for db in (first, second)))
        assert await first.fetchvalue("SELECT holder FROM leases WHERE name = 'n'") == "80"
        # One revision per transaction that changed a row, whichever process made it.
        assert await second.revision() == before + 80
        # Transactions queued on one process shared commits.
        assert first.commits + second.commits < 80 + 2
    finally:
        await first.close()
        await second.close()


async def test_a_refused_insert_rolls_back_its_transaction_only(pg_server: PostgresServer) -> None:
    url = pg_server.database()
    db = await Database.open(url)
    try:
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO leases (name, holder, expires_at) VALUES ('a', 'x', 0)")
        with pytest.raises(IntegrityError):
            async with db.transaction() as tx:
                await tx.execute("UPDATE leases SET holder = 'changed' WHERE name = 'a'")
                await tx.execute(
                    "INSERT INTO leases (name, holder, expires_at) VALUES ('a', 'y', 0)"
                )
        # The group's transaction goes on: the next one commits, the refused one left nothing.
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO leases (name, holder, expires_at) VALUES ('b', 'x', 0)")
        rows = await db.fetchall("SELECT name, holder FROM leases ORDER BY name")
        assert [tuple(r) for r in rows] == [("a", "x"), ("b", "x")]
    finally:
        await db.close()


def test_nodes_migrating_at_the_same_moment_apply_each_version_once(
    pg_server: PostgresServer,
) -> None:
    """Four ``inzoomen migrate`` processes started together on an empty database."""
    url = pg_server.empty_database()
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "app", "migrate", "--database-url", url],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0, 0], outputs
    versions = [v for v, _ in migrations("postgresql")]
    applied_now = [o for o in outputs if f"applied migrations: {versions}" in o]
    assert len(applied_now) == 1, outputs
    assert sum("none (up to date)" in o for o in outputs) == 3, outputs
    listed = pg_server.psql(
        "SELECT version FROM schema_migrations ORDER BY version", url.rsplit("/", 1)[1]
    )
    assert [int(v) for v in listed.split()] == versions


async def test_while_the_server_is_away_the_hall_is_told_to_wait_and_recovers_by_itself(
    own_server: PostgresServer,
) -> None:
    url = own_server.database()
    db = await Database.open(url)
    try:
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO leases (name, holder, expires_at) VALUES ('a', 'x', 0)")
        own_server.stop(signal.SIGKILL)  # a crash, not a shutdown
        with pytest.raises(Unavailable):
            async with db.transaction() as tx:
                await tx.execute(
                    "INSERT INTO leases (name, holder, expires_at) VALUES ('lost', 'x', 0)"
                )
        with pytest.raises(Unavailable):
            await db.fetchall("SELECT * FROM leases")
        with pytest.raises(Unavailable):
            await db.probe()
        own_server.start()
        # The same Database object, with new connections: nothing to restart in the hall.
        await db.probe()
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO leases (name, holder, expires_at) VALUES ('b', 'x', 0)")
        names = [r["name"] for r in await db.fetchall("SELECT name FROM leases ORDER BY name")]
        assert names == ["a", "b"]  # what was committed stayed; the refused write is not there
    finally:
        await db.close()


async def test_a_writer_that_waits_too_long_for_the_lock_is_told_to_try_again(
    pg_server: PostgresServer,
) -> None:
    """Another session holds the hall's write lock (a node frozen mid-transaction): a
    writer does not hang, it gets Unavailable after the lock timeout."""
    import asyncpg

    from app.storage import postgres

    url = pg_server.database()
    holder = await asyncpg.connect(url)
    db = await Database.open(url)
    try:
        await holder.execute("BEGIN")
        await holder.execute("SELECT pg_advisory_xact_lock($1)", postgres.WRITE_LOCK)
        await db.fetchvalue("SET lock_timeout = '300ms'")  # a pooled reader; not the writer
        postgres.SERVER_SETTINGS["lock_timeout"] = "300ms"
        try:
            fresh = await Database.open(url, migrate=False)
        finally:
            postgres.SERVER_SETTINGS["lock_timeout"] = "10s"
        try:
            with pytest.raises(Unavailable):
                async with fresh.transaction() as tx:
                    await tx.execute(
                        "INSERT INTO leases (name, holder, expires_at) VALUES ('w', 'x', 0)"
                    )
            await holder.execute("ROLLBACK")
            async with fresh.transaction() as tx:
                await tx.execute(
                    "INSERT INTO leases (name, holder, expires_at) VALUES ('w', 'x', 0)"
                )
            assert await fresh.fetchvalue("SELECT COUNT(*) FROM leases") == 1
        finally:
            await fresh.close()
    finally:
        await holder.close()
        await db.close()


def test_check_reports_the_database_server(pg_server: PostgresServer) -> None:
    def check(url: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "app", "check", "--database-url", url],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        return next(line for line in done.stdout.splitlines() if " database: " in line)

    assert check(pg_server.database()).startswith("ok ")
    assert "not applied yet" in check(pg_server.empty_database())
    refused = check("postgresql://hall:secret@127.0.0.1:1/none")
    assert refused.startswith("problem ") and "does not answer" in refused
    assert "secret" not in refused


async def test_a_command_that_meets_a_deadlock_is_run_again_and_answered_ok(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    """Another session holds the advisor's row and then asks for the hall's write lock
    while an accept holds that lock and waits for the row: PostgreSQL breaks the deadlock by
    failing the accept's statement. The hall runs the accept again; the advisor gets ok."""
    import asyncpg

    from app.storage import postgres

    url = pg_server.database()
    world = await seed_world(url)
    server = LiveServer(url, tmp_path / "deadlock.log")
    server.start()
    candidate, advisor = Browserless(server), Browserless(server)
    other = await asyncpg.connect(url)
    try:
        await candidate.sign_in_candidate("Dirk Deadlock", "dirk@example.nl")
        await advisor.log_in("a1@test.example")
        me, console = await candidate.socket(), await advisor.socket()
        made = await me.send("request.create", {"booth_id": world.booth_a, "client_key": "d"})
        assert made["ok"], made
        await other.execute("BEGIN")
        # This session waits long before it looks for a deadlock; the hall's waits 1 s, so
        # the hall's accept is the one PostgreSQL fails.
        await other.execute("SET LOCAL deadlock_timeout = '60s'")
        await other.execute("UPDATE staff SET status = status WHERE id = $1", world.advisor_a1)
        accepting = await fire(
            console, "request.accept", {"request_id": made["data"]["request_id"]}
        )
        await asyncio.sleep(0.5)  # the accept holds the write lock and waits for the row
        locking = asyncio.create_task(
            other.execute("SELECT pg_advisory_xact_lock($1)", postgres.WRITE_LOCK)
        )
        await asyncio.wait_for(locking, 30)  # the accept's attempt was broken off
        await other.execute("COMMIT")
        reply = await asyncio.wait_for(accepting, 30)
        assert reply["ok"], reply
        assert "deadlock" in server.log() and "running it again" in server.log()
        db = await Database.open(url, migrate=False)
        try:
            rows = await db.fetchall(
                "SELECT advisor_id FROM conversations WHERE request_id = ?",
                (made["data"]["request_id"],),
            )
        finally:
            await db.close()
        assert [r["advisor_id"] for r in rows] == [world.advisor_a1]
        await me.close()
        await console.close()
    finally:
        await other.close()
        await candidate.aclose()
        await advisor.aclose()
        server.stop()
