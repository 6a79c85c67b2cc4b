from __future__ import annotations

import asyncio
import sqlite3
import time

from app.domain import conversations, queue
from app.domain.event import load_event
from app.storage import db as db_module
from tests.servicekit import (
    make_advisor,
    make_booth,
    make_candidate,
    make_event,
    make_request,
    open_db,
)


async def test_restart_keeps_queue_order_and_timers(tmp_path):
    path = tmp_path / "hall.db"
    db = await open_db(path)
    try:
        event = await make_event(db)
        booth = await make_booth(db, "zorgpunt")
        anna = await make_advisor(db, booth, "anna@zorgpunt.nl")
        await make_advisor(db, booth, "bob@zorgpunt.nl")
        t = time.time()
        talking = await make_request(db, event, await make_candidate(db, "Sanne"), booth, now=t)
        conversation, _ = await conversations.accept(
            db, event, advisor_id=anna, request_id=talking.id, now=t + 1
        )
        waiting_ids = []
        for i, name in enumerate(["Kees", "Noor", "Lotte"]):
            request = await make_request(
                db, event, await make_candidate(db, name), booth, now=t + 10 - i, ttl_seconds=3600
            )
            waiting_ids.append(request.id)
        before = [e.request for e in await queue.waiting_at_booth(db, booth)]
        timer_before = await conversations.next_timer(db, event)
        expiry_before = await queue.next_expiry(db)
    finally:
        await db.close()

    db = await open_db(path)
    try:
        event = await load_event(db)
        after = [e.request for e in await queue.waiting_at_booth(db, booth)]
        assert after == before
        # Created at t+10, t+9, t+8: the last one asked first.
        assert [r.id for r in after] == list(reversed(waiting_ids))

        running = await conversations.running(db)
        assert [c.id for c in running] == [conversation.id]
        assert running[0].ends_at == conversation.ends_at == t + 1 + 600
        assert running[0].video_url == conversation.video_url

        assert timer_before == conversation.ends_at - 120
        assert await conversations.next_timer(db, event) == conversation.ends_at - 120
        assert expiry_before == t + 8 + 3600
        assert await queue.next_expiry(db) == t + 8 + 3600

        # The pending deadlines still fire after the restart, once.
        warned = await conversations.warn_due(db, event, conversation.ends_at - 120)
        assert [c.id for c in warned] == [conversation.id]
        assert await conversations.next_timer(db, event) == conversation.ends_at
        expired = await queue.expire_due(db, t + 8 + 3600)
        assert [r.id for r in expired] == [waiting_ids[2]]
    finally:
        await db.close()

    db = await open_db(path)
    try:
        stored = await conversations.get_conversation(db, conversation.id)
        assert stored.warned_at == conversation.ends_at - 120
        assert (await queue.get_request(db, waiting_ids[2])).status == "expired"
    finally:
        await db.close()


async def test_migrations_are_applied_once(tmp_path):
    path = tmp_path / "hall.db"
    versions = [v for v, _ in db_module.migrations()]
    assert versions and versions[0] == 1

    db = await open_db(path)
    try:
        await make_event(db)
        await make_booth(db, "zorgpunt")
    finally:
        await db.close()

    for _ in range(2):
        db = await open_db(path)
        try:
            assert await db.migrate() == []
            rows = await db.fetchall("SELECT version FROM schema_migrations ORDER BY version")
            assert [r["version"] for r in rows] == versions
            # The data survived the reopen and was not recreated.
            assert await db.fetchvalue("SELECT COUNT(*) FROM booths") == 1
            assert (await load_event(db)).conversation_seconds == 600
        finally:
            await db.close()


async def test_fresh_database_applies_every_migration(tmp_path):
    db = await db_module.Database.open(tmp_path / "plain.db", migrate=False)
    try:
        applied = await db.migrate()
        assert applied == [v for v, _ in db_module.migrations()]
        assert await db.migrate() == []
        assert await db.fetchvalue("SELECT COUNT(*) FROM schema_migrations") == len(applied)
    finally:
        await db.close()


async def test_two_workers_starting_at_once_apply_each_migration_once(tmp_path):
    """Several worker processes share one SQLite file and each migrates at start-up.

    A third connection holds the write lock (as a worker busy migrating would) while two
    workers read which versions are done; both then queue for the lock. The second one in
    must see that the first already applied everything, not replay the migration.
    """
    path = tmp_path / "hall.db"
    versions = [v for v, _ in db_module.migrations()]
    blocker = sqlite3.connect(path, isolation_level=None)
    workers: list[db_module.Database] = []
    try:
        blocker.execute("PRAGMA journal_mode = WAL")
        blocker.execute(
            "CREATE TABLE schema_migrations "
            "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
        )
        blocker.execute("BEGIN IMMEDIATE")
        for _ in range(2):
            workers.append(await db_module.Database.open(path, migrate=False))
        tasks = [asyncio.create_task(w.migrate()) for w in workers]
        await asyncio.sleep(0.3)
        blocker.execute("COMMIT")

        results = await asyncio.gather(*tasks, return_exceptions=True)

        errors = [r for r in results if isinstance(r, BaseException)]
        assert errors == []
        applied = sorted(v for r in results for v in r)
        assert applied == versions
        rows = await workers[0].fetchall("SELECT version FROM schema_migrations ORDER BY version")
        assert [r["version"] for r in rows] == versions
    finally:
        for worker in workers:
            await worker.close()
        blocker.close()
