"""Small builders for service tests: a real SQLite file per test, no HTTP, no WebSocket."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from app.domain import accounts, booths, candidates, queue
from app.domain.event import Event, load_event, save_event
from app.storage.db import Database, table_columns

ZONE = "Europe/Amsterdam"
PASSWORD = "correct-horse-battery"
TTL_SECONDS = 90 * 60


async def open_db(path: Path | str) -> Database:
    return await Database.open(path)


async def make_event(
    db: Database,
    conversation_seconds: int = 600,
    warning_seconds: int = 120,
    video_provider: str = "jitsi",
    video_base_url: str = "https://meet.jit.si",
) -> Event:
    async with db.transaction() as tx:
        await save_event(
            tx,
            Event(
                name="LeerWerkWeek test",
                timezone=ZONE,
                conversation_seconds=conversation_seconds,
                warning_seconds=warning_seconds,
                video_provider=video_provider,
                video_base_url=video_base_url,
            ),
        )
    return await load_event(db)


async def make_booth(
    db: Database,
    slug: str,
    *,
    name: str | None = None,
    kind: str = "employer",
    sector: str = "zorg",
    open_now: bool = True,
) -> int:
    """A booth; with ``open_now`` it is open all day yesterday, today and tomorrow (local),
    so it is open at any moment a test puts its clock, an hour back or forward, whatever the
    time of day the test runs."""
    async with db.transaction() as tx:
        booth_id = await booths.create_booth(
            tx, slug=slug, name=name or f"Stand {slug}", kind=kind, sector=sector
        )
        if open_now:
            today = datetime.now(ZoneInfo(ZONE)).date()
            for offset in (-1, 0, 1):
                day = today + timedelta(days=offset)
                await booths.add_slot(tx, booth_id, day, "00:00", "24:00")
    return booth_id


async def make_advisor(
    db: Database, booth_id: int, email: str, status: str = "available", name: str | None = None
) -> int:
    async with db.transaction() as tx:
        advisor_id = await accounts.create_staff(
            tx,
            email=email,
            name=name or email.split("@")[0].capitalize(),
            role="advisor",
            password=PASSWORD,
            booth_id=booth_id,
        )
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE staff SET status = ?, status_since = ? WHERE id = ?",
            (status, time.time(), advisor_id),
        )
    return advisor_id


async def make_candidate(db: Database, name: str = "Sanne", email: str | None = None) -> int:
    email = email or f"{name.split()[0].lower()}@voorbeeld.nl"
    candidate = await candidates.sign_in(
        db, name=name, email=email, phone="", consent=True, now=time.time()
    )
    return candidate.id


async def make_request(
    db: Database,
    event: Event,
    candidate_id: int,
    booth_id: int,
    *,
    advisor_id: int | None = None,
    question: str = "",
    client_key: str | None = None,
    now: float | None = None,
    ttl_seconds: int = TTL_SECONDS,
) -> queue.Request:
    now = time.time() if now is None else now
    request, _created = await queue.create_request(
        db,
        event,
        candidate_id=candidate_id,
        booth_id=booth_id,
        advisor_id=advisor_id,
        question=question,
        client_key=client_key or f"key-{candidate_id}-{now}",
        now=now,
        ttl_seconds=ttl_seconds,
    )
    return request


async def count(
    db: Database, table: str, where: str = "TRUE", params: tuple[object, ...] = ()
) -> int:
    return int(await db.fetchvalue(f"SELECT COUNT(*) FROM {table} WHERE {where}", params))


async def table_rows(
    db: Database, tables: tuple[str, ...] | None = None
) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of these tables (by default every hall table but the revision) as tuples, in
    an order that does not depend on the backend: to compare the database before and after a
    step that must change nothing."""
    columns = await table_columns(db)
    names = tables or tuple(t for t in columns if t != "revision")
    return {
        t: sorted((tuple(r) for r in await db.fetchall(f'SELECT * FROM "{t}"')), key=repr)
        for t in names
    }
