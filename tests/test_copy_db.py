"""Moving a hall between SQLite and PostgreSQL (``inzoomen copy-db``), and backups of both.

A hall is filled through the domain, as an event would fill it (conversations, a transfer, a
blocked and an erased candidate, follow-ups, mail, feedback, audit entries...), then copied
with the real command to a real PostgreSQL server and back to a new SQLite file; both ends
are compared row for row, and the copied hall must go on where the source stopped.
"""

from __future__ import annotations

import subprocess
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from app.domain import (
    accounts,
    announcements,
    attendance,
    audit,
    conversations,
    feedback,
    moderation,
    privacy,
    sessions,
    throttles,
    transfer,
)
from app.domain.event import Event, add_day, load_event
from app.storage import leases, outbox
from app.storage.db import Database, table_columns
from tests.livekit import ROOT
from tests.pgkit import PostgresServer, _bin
from tests.servicekit import (
    PASSWORD,
    ZONE,
    make_advisor,
    make_booth,
    make_candidate,
    make_event,
    make_request,
)

PYTHON = str(ROOT / ".venv" / "bin" / "python")


def inzoomen(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "app", *args], capture_output=True, text=True, cwd=ROOT, timeout=300
    )


async def every_row(target: str | Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every hall table, the revision included, in an order of their own."""
    db = await Database.open(target, migrate=False)
    try:
        columns = await table_columns(db)
        return {
            t: sorted((tuple(r) for r in await db.fetchall(f'SELECT * FROM "{t}"')), key=repr)
            for t in columns
        }
    finally:
        await db.close()


async def fill_hall(path: Path) -> dict[str, int]:
    """A hall after some hours of an event: every table holds rows."""
    db = await Database.open(path)
    try:
        return await _fill(db, await make_event(db))
    finally:
        await db.close()


async def _fill(db: Database, event: Event) -> dict[str, int]:
    now = time.time()
    today = datetime.now(ZoneInfo(ZONE)).date()
    async with db.transaction() as tx:
        await add_day(tx, today, "09:00", "17:00")
        await add_day(tx, date(2031, 3, 14), "10:00", "16:00")
        moderator = await accounts.create_staff(
            tx, email="mo@hal.test", name="Mo de Moderator", role="moderator", password=PASSWORD
        )
    zorg = await make_booth(db, "zorg", name="Zorg & Welzijn <b>")
    bouw = await make_booth(db, "bouw", name="Bouw 'n Techniek", sector="techniek")
    anna = await make_advisor(db, zorg, "anna@zorg.test", name="Anna van den Berg")
    olaf = await make_advisor(db, bouw, "olaf@bouw.test", name="Olaf IJzerman")

    sanne = await make_candidate(db, "Sanne de Vries", "sanne@voorbeeld.nl")
    zoe = await make_candidate(db, "Zoë Ĳsselmeer 日本", "zoe@voorbeeld.nl")
    kees = await make_candidate(db, "Kees Blok", "kees@voorbeeld.nl")
    eva = await make_candidate(db, "Eva Weg", "eva@voorbeeld.nl")

    # Sanne talks with Anna, is handed over to Bouw, and rates her conversation.
    asked = await make_request(db, event, sanne, zorg, question='Hoe zit het met "nachtdienst"?')
    talk, _ = await conversations.accept(db, event, advisor_id=anna, request_id=asked.id, now=now)
    await transfer.transfer(
        db,
        event,
        advisor_id=anna,
        conversation_id=talk.id,
        booth_id=bouw,
        to_advisor_id=None,
        note="Wil graag de bouw in",
        now=now + 60,
        ttl_seconds=3600,
        wrap_up_seconds=0,
    )
    await feedback.rate(
        db, candidate_id=sanne, conversation_id=talk.id, rating=4, comment="Fijn 👍", now=now + 70
    )
    # Zoë talks with Olaf and the conversation ends.
    zoe_asked = await make_request(db, event, zoe, bouw, advisor_id=olaf)
    zoe_talk, _ = await conversations.accept(
        db, event, advisor_id=olaf, request_id=zoe_asked.id, now=now + 80
    )
    await conversations.end(
        db, advisor_id=olaf, conversation_id=zoe_talk.id, now=now + 400, wrap_up_seconds=0
    )
    # Kees waits and is blocked; Eva waits and erases her data: their requests stay behind
    # as rows that the database would refuse as new requests.
    await make_request(db, event, kees, zorg, question="Mag ik iets vragen?")
    await moderation.block_candidate(
        db, staff_id=moderator, candidate_id=kees, now=now + 90, wrap_up_seconds=0
    )
    await make_request(db, event, eva, zorg)
    await privacy.erase(db, eva, now=now + 95, wrap_up_seconds=0)

    async with db.transaction() as tx:
        follow_up = await tx.insert(
            "INSERT INTO follow_ups (conversation_id, booth_id, advisor_id, candidate_id, "
            "starts_at, minutes, mode, location, message, created_at, created_by) "
            "VALUES (?, ?, ?, ?, ?, 30, 'on_site', 'Zorgplein 1', ?, ?, ?)",
            (talk.id, zorg, anna, sanne, now + 86400, "Neem je cv mee", now + 100, anna),
        )
        await outbox.enqueue(
            tx,
            kind="booked",
            to_address="sanne@voorbeeld.nl",
            subject="Je afspraak",
            body="Tot morgen!\n",
            now=now + 100,
            attachment=outbox.Attachment("afspraak.ics", "text/calendar", b"BEGIN:\x00\xff"),
            candidate_id=sanne,
            follow_up_id=follow_up,
        )
        await audit.record(tx, staff_id=moderator, action="test.note", subject="x", at=now)
        await tx.insert(
            "INSERT INTO advisor_availability (staff_id, starts_at, ends_at, created_at) "
            "VALUES (?, ?, ?, ?)",
            (anna, now + 3600, now + 7200, now),
        )
        await tx.insert(
            "INSERT INTO invitations (token_hash, staff_id, created_by, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?)",
            ("f" * 64, olaf, moderator, now, now + 86400),
        )
        await tx.insert(
            "INSERT INTO retention_runs (ran_at, retention_days, event_ends_at, candidates, "
            "requests, conversations) VALUES (?, 30, NULL, 0, 0, 0)",
            (now,),
        )
        # A request whose place in line was never set: the copy must keep the NULL that a
        # trigger would fill on insert.
        await tx.execute(
            "UPDATE requests SET line_at = NULL WHERE id = (SELECT MIN(id) FROM requests)"
        )
    await announcements.create(db, staff_id=moderator, audience="all", text="Welkom!", now=now)
    await sessions.create(db, now=now, staff_id=anna)
    await sessions.create(db, now=now, candidate_id=zoe)
    await throttles.begin_login(
        db, account_key="k" * 16, client_key="c" * 16, ip_key="i" * 16, now=now, free=5, per_ip=50
    )
    await leases.acquire(db, "retention", "node-a", now, 10.0)
    assert await attendance.issue(db, zoe, now=now + 500) is not None
    columns = await table_columns(db)
    empty = [t for t in columns if await db.fetchvalue(f'SELECT COUNT(*) FROM "{t}"') == 0]
    assert empty == [], f"the test hall should fill every table, not {empty}"
    return {"moderator": moderator, "anna": anna, "olaf": olaf, "zorg": zorg, "bouw": bouw}


async def test_a_sqlite_hall_moves_to_postgresql_and_back_and_goes_on(
    tmp_path: Path, pg_server: PostgresServer
) -> None:
    hall = tmp_path / "hall.db"
    people = await fill_hall(hall)
    before = await every_row(hall)
    url = pg_server.empty_database()

    started = time.monotonic()
    moved = inzoomen("copy-db", "--from", str(hall), "--to", url)
    seconds = time.monotonic() - started
    assert moved.returncode == 0, moved.stderr
    rows = sum(len(r) for r in before.values())
    assert f"verified: {rows} rows in {len(before)} tables identical" in moved.stdout
    assert "  requests " in moved.stdout
    print(f"copied {rows} rows in {len(before)} tables in {seconds:.1f} s")

    assert await every_row(url) == before

    # Back to a new SQLite file (an archive): the same rows again.
    archive = tmp_path / "archive.db"
    back = inzoomen("copy-db", "--from", url, "--to", f"sqlite:///{archive}")
    assert back.returncode == 0, back.stderr
    assert await every_row(archive) == before

    # The hall goes on on PostgreSQL: new rows get new ids, the revision moves on from the
    # source's.
    source_revision = before["revision"][0][1]
    db = await Database.open(url)
    try:
        event = await load_event(db)
        newcomer = await make_candidate(db, "Nieuwe Kandidaat", "nieuw@voorbeeld.nl")
        asked = await make_request(db, event, newcomer, people["zorg"])
        talk, _ = await conversations.accept(
            db, event, advisor_id=people["anna"], request_id=asked.id, now=time.time()
        )
        assert newcomer > max(r[0] for r in before["candidates"])
        assert asked.id > max(r[0] for r in before["requests"])
        assert talk.id > max(r[0] for r in before["conversations"])
        assert await db.revision() > source_revision
    finally:
        await db.close()


async def test_a_target_with_data_is_refused_and_left_unchanged(
    tmp_path: Path, pg_server: PostgresServer
) -> None:
    hall = tmp_path / "hall.db"
    db = await Database.open(hall)
    try:
        await make_event(db)
        await make_booth(db, "zorg")
    finally:
        await db.close()
    target = pg_server.database()
    other = await Database.open(target)
    try:
        await make_event(other)
        await make_booth(other, "al-bezet", name="Al bezet")
    finally:
        await other.close()
    kept = await every_row(target)

    refused = inzoomen("copy-db", "--from", str(hall), "--to", target)
    assert refused.returncode == 2
    assert "already holds hall data" in refused.stderr and "booths" in refused.stderr
    assert await every_row(target) == kept

    # A SQLite file with data is refused the same way.
    filled = tmp_path / "filled.db"
    back = inzoomen("copy-db", "--from", target, "--to", str(filled))
    assert back.returncode == 0, back.stderr
    again = inzoomen("copy-db", "--from", str(hall), "--to", str(filled))
    assert again.returncode == 2 and "already holds hall data" in again.stderr
    assert await every_row(filled) == kept


async def test_a_source_on_an_older_schema_is_refused(
    tmp_path: Path, pg_server: PostgresServer
) -> None:
    hall = tmp_path / "old.db"
    db = await Database.open(hall)
    try:
        await make_event(db)
        # As a hall of the version before the last migration left it.
        async with db.transaction(moves_revision=False) as tx:
            await tx.execute("DELETE FROM schema_migrations WHERE version = 19")
    finally:
        await db.close()
    target = pg_server.empty_database()
    refused = inzoomen("copy-db", "--from", str(hall), "--to", target)
    assert refused.returncode == 2
    assert "schema version 18" in refused.stderr and "inzoomen migrate" in refused.stderr
    name = target.rsplit("/", 1)[1]
    assert pg_server.psql("SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public'", name) == "0"


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    missing = inzoomen(
        "copy-db", "--from", str(tmp_path / "none.db"), "--to", str(tmp_path / "x.db")
    )
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    assert not (tmp_path / "x.db").exists()
    hall = tmp_path / "hall.db"
    assert inzoomen("migrate", "--db", str(hall)).returncode == 0
    same = inzoomen("copy-db", "--from", str(hall), "--to", f"sqlite:///{hall}")
    assert same.returncode == 2 and "the same database" in same.stderr
    incomplete = inzoomen("copy-db", "--from", str(hall))
    assert incomplete.returncode == 2 and "--to" in incomplete.stderr


async def test_postgresql_backup_restores_with_pg_restore(
    tmp_path: Path, pg_server: PostgresServer
) -> None:
    hall = tmp_path / "hall.db"
    await fill_hall(hall)
    url = pg_server.empty_database()
    assert inzoomen("copy-db", "--from", str(hall), "--to", url).returncode == 0
    source = await every_row(url)

    dump = tmp_path / "hall.pgdump"
    made = inzoomen("backup", "--database-url", url, str(dump))
    assert made.returncode == 0, made.stderr
    assert "pg_dump archive" in made.stdout and "pg_restore" in made.stdout
    assert dump.read_bytes().startswith(b"PGDMP"), "pg_dump's custom format"
    again = inzoomen("backup", "--database-url", url, str(dump))
    assert again.returncode == 2 and "exists already" in again.stderr

    restored = pg_server.empty_database()
    done = subprocess.run(
        [_bin("pg_restore"), "--no-owner", f"--dbname={restored}", str(dump)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert await every_row(restored) == source
    name = restored.rsplit("/", 1)[1]
    assert pg_server.psql("SELECT MAX(version) FROM schema_migrations", name) == "19"
    # The restored hall is up to date and goes on.
    assert (
        inzoomen("migrate", "--database-url", restored).stdout.strip().endswith("none (up to date)")
    )


async def test_sqlite_backup_says_what_it_wrote(tmp_path: Path) -> None:
    hall = tmp_path / "hall.db"
    await fill_hall(hall)
    copy = tmp_path / "copy.db"
    made = inzoomen("backup", "--db", str(hall), str(copy))
    assert made.returncode == 0, made.stderr
    assert "a SQLite database file" in made.stdout
    assert await every_row(copy) == await every_row(hall)
