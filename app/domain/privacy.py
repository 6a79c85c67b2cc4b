"""Privacy (AVG/GDPR): what a candidate can download about themselves, erasing it, and the
retention job that anonymises personal data some days after the event.

Personal data of a candidate: their name, e-mail address and phone number (``candidates``),
the question of each request and the messages addressed to them (``requests``), the
advisors' notes on their conversations, the message of each follow-up (``follow_ups``) and
the comments they gave with a rating (``feedback``). Erasing anonymises: the rows stay,
with these fields emptied, so the numbers of the event (requests and conversations per
booth, waits, durations) stay right. An erased candidate can no longer sign in with an old
session, and the database refuses new requests for them.

Nothing here writes personal data to a log; the retention record holds counts only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from app.domain.advisors import start_wrap_up
from app.domain.event import event_days, load_event
from app.storage.db import Database, Transaction, table_columns
from app.storage.leases import Lease

log = logging.getLogger("inzoomen.privacy")

DAY_SECONDS = 24 * 60 * 60
DEFAULT_TIMEZONE = "Europe/Amsterdam"
DEFAULT_RETENTION_DAYS = 30
RETENTION_LEASE = "retention"
# The server looks this often whether the retention job is due, and runs it at most once
# per RUN_EVERY_SECONDS over all worker processes.
CHECK_EVERY_SECONDS = 60 * 60.0
RUN_EVERY_SECONDS = 24 * 60 * 60.0
LEASE_TTL_SECONDS = 120.0
# Candidates anonymised per transaction by the retention job.
RETENTION_BATCH = 100

# Free-text fields that may hold personal data about the candidate: emptied on erasure.
_FREE_TEXT = {
    "requests": ("question", "decline_message", "transfer_note"),
    # notes: the booth's; callback_phone: the number they asked to be phoned on ("bel mij").
    "conversations": ("notes", "callback_phone"),
    "follow_ups": ("message", "candidate_message"),
    # What a proof of attendance said (its code stays: checking it says the data was erased).
    "attendance_proofs": ("content",),
}
# The same, in tables keyed to the candidate's conversations: what they wrote about one.
_FREE_TEXT_BY_CONVERSATION = {"feedback": ("comment",)}
# Columns never put in an export: the booth's private notes and secrets.
_NOT_EXPORTED = re.compile(r"(^notes|_hash$|token|secret|password)", re.IGNORECASE)


# -- export -------------------------------------------------------------------------------


def _when(timestamp: float | None, zone: ZoneInfo) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, zone).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Schema:
    """The columns of every table, read once: what is keyed to a candidate is found by its
    columns, so a table another part of the hall adds later is covered too."""

    columns: dict[str, list[str]]

    def tables_with(self, column: str) -> list[str]:
        return [t for t, cols in self.columns.items() if column in cols]


async def read_schema(db: Database | Transaction) -> Schema:
    return Schema(await table_columns(db))


async def export(db: Database, candidate_id: int, now: float) -> dict[str, Any] | None:
    """Everything held about a candidate, for them to download; None when there is no such
    candidate (or they were erased). Other people appear only as the advisor's name and
    the booth's name; the booth's private notes are not included."""
    candidate = await db.fetchone(
        "SELECT id, name, email, phone, consent_at, created_at FROM candidates "
        "WHERE id = ? AND erased_at IS NULL",
        (candidate_id,),
    )
    if candidate is None:
        return None
    event = await load_event(db)
    zone = event.zone
    requests = await db.fetchall(
        "SELECT r.id, b.name AS booth, a.name AS advisor, r.question, r.status, "
        "r.created_at, r.expires_at, r.closed_at, d.name AS closed_by, r.decline_message "
        "FROM requests r JOIN booths b ON b.id = r.booth_id "
        "LEFT JOIN staff a ON a.id = r.advisor_id LEFT JOIN staff d ON d.id = r.closed_by "
        "WHERE r.candidate_id = ? ORDER BY r.created_at, r.id",
        (candidate_id,),
    )
    conversations = await db.fetchall(
        "SELECT c.id, c.request_id, b.name AS booth, a.name AS advisor, c.video_url, "
        "c.started_at, c.ends_at, c.ended_at FROM conversations c "
        "JOIN booths b ON b.id = c.booth_id JOIN staff a ON a.id = c.advisor_id "
        "WHERE c.candidate_id = ? ORDER BY c.started_at, c.id",
        (candidate_id,),
    )
    other: dict[str, list[dict[str, Any]]] = {}
    schema = await read_schema(db)
    for table in schema.tables_with("candidate_id"):
        if table in ("requests", "conversations", "outbox"):
            continue
        columns = [c for c in schema.columns[table] if not _NOT_EXPORTED.search(c)]
        if not columns:
            continue
        selected = ", ".join(f'"{c}"' for c in columns)
        rows = await db.fetchall(
            f'SELECT {selected} FROM "{table}" WHERE candidate_id = ?', (candidate_id,)
        )
        if rows:
            other[table] = [dict(r) for r in rows]
    feedback = await db.fetchall(
        "SELECT f.conversation_id, f.rating, f.comment, f.created_at FROM feedback f "
        "JOIN conversations c ON c.id = f.conversation_id WHERE c.candidate_id = ? "
        "ORDER BY f.created_at, f.id",
        (candidate_id,),
    )
    # The e-mails written to them (and about them, to advisors): without the attachments.
    mails = await db.fetchall(
        "SELECT kind, to_address, subject, body, attachment_name, created_at, sent_at "
        "FROM outbox WHERE candidate_id = ? ORDER BY created_at, id",
        (candidate_id,),
    )
    return {
        "exported_at": _when(now, zone),
        "event": event.name,
        "candidate": {
            "id": candidate["id"],
            "name": candidate["name"],
            "email": candidate["email"],
            "phone": candidate["phone"],
            "consent_given_at": _when(candidate["consent_at"], zone),
            "signed_in_at": _when(candidate["created_at"], zone),
        },
        "requests": [
            {
                "id": r["id"],
                "booth": r["booth"],
                "advisor": r["advisor"],
                "question": r["question"],
                "status": r["status"],
                "created_at": _when(r["created_at"], zone),
                "expires_at": _when(r["expires_at"], zone),
                "closed_at": _when(r["closed_at"], zone),
                "closed_by": r["closed_by"],
                "decline_message": r["decline_message"],
            }
            for r in requests
        ],
        "conversations": [
            {
                "id": c["id"],
                "request_id": c["request_id"],
                "booth": c["booth"],
                "advisor": c["advisor"],
                "video_url": c["video_url"],
                "started_at": _when(c["started_at"], zone),
                "ends_at": _when(c["ends_at"], zone),
                "ended_at": _when(c["ended_at"], zone),
            }
            for c in conversations
        ],
        "feedback": [
            {
                "conversation_id": f["conversation_id"],
                "rating": f["rating"],
                "comment": f["comment"],
                "given_at": _when(f["created_at"], zone),
            }
            for f in feedback
        ],
        "mails": [
            {
                "kind": m["kind"],
                "to": m["to_address"],
                "subject": m["subject"],
                "body": m["body"],
                "attachment": m["attachment_name"],
                "written_at": _when(m["created_at"], zone),
                "sent_at": _when(m["sent_at"], zone),
            }
            for m in mails
        ],
        "other": other,
    }


async def summary(db: Database, candidate_id: int) -> dict[str, int]:
    """How many requests and conversations are held about a candidate."""
    row = await db.fetchone(
        "SELECT (SELECT COUNT(*) FROM requests WHERE candidate_id = ?) AS requests, "
        "(SELECT COUNT(*) FROM conversations WHERE candidate_id = ?) AS conversations, "
        "(SELECT COUNT(*) FROM requests WHERE candidate_id = ? AND status = 'waiting') "
        "AS waiting, "
        "(SELECT COUNT(*) FROM conversations WHERE candidate_id = ? AND ended_at IS NULL) "
        "AS running",
        (candidate_id, candidate_id, candidate_id, candidate_id),
    )
    assert row is not None
    return dict(row)


# -- erasure ------------------------------------------------------------------------------


@dataclass
class Anonymised:
    """What anonymising some candidates changed, for telling who needs to know."""

    candidates: list[int] = field(default_factory=list)
    requests: int = 0
    conversations: int = 0
    closed_requests: int = 0
    ended_conversations: int = 0
    # Booths whose queue or conversations changed, and the candidates who had something open.
    booth_ids: set[int] = field(default_factory=set)
    touched_candidates: set[int] = field(default_factory=set)


def _needles(values: Iterable[str]) -> re.Pattern[str] | None:
    words = sorted({v.strip() for v in values if v and v.strip()}, key=len, reverse=True)
    if not words:
        return None
    return re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)


async def _scrub_rows(
    tx: Transaction,
    schema: Schema,
    table: str,
    where: str,
    params: tuple[Any, ...],
    needles: re.Pattern[str],
) -> None:
    """Take every remaining mention of the candidate's name, e-mail or phone out of the text
    columns of their rows in ``table``: a field another part of the hall may add later is
    covered too. A change the table's rules refuse leaves that row as it was."""
    columns = [c for c in schema.columns[table] if c != "id"]
    if not columns:
        return
    selected = ", ".join(f'"{c}"' for c in columns)
    for row in await tx.fetchall(
        f'SELECT {tx.row_id} AS "__rowid", {selected} FROM "{table}" {where}', params
    ):
        changes = {
            c: needles.sub("", row[c])
            for c in columns
            if isinstance(row[c], str) and needles.search(row[c])
        }
        if not changes:
            continue
        assignments = ", ".join(f'"{c}" = ?' for c in changes)
        await tx.execute("SAVEPOINT scrub")
        try:
            await tx.execute(
                f'UPDATE "{table}" SET {assignments} WHERE {tx.row_id} = ?',
                (*changes.values(), row["__rowid"]),
            )
        except Exception:
            await tx.execute("ROLLBACK TO scrub")
        await tx.execute("RELEASE scrub")


async def _anonymise(
    tx: Transaction,
    candidate_ids: list[int],
    *,
    now: float,
    wrap_up_seconds: int,
    closed_status: str,
) -> Anonymised:
    """Anonymise these candidates inside one transaction: a waiting request is closed with
    ``closed_status``, a running conversation ends (its advisor starts wrapping up), free
    text about them is emptied and their name, e-mail and phone are removed."""
    done = Anonymised(candidates=list(candidate_ids))
    schema = await read_schema(tx)
    for candidate_id in candidate_ids:
        person = await tx.fetchone(
            "SELECT name, email, phone FROM candidates WHERE id = ? AND erased_at IS NULL",
            (candidate_id,),
        )
        if person is None:
            continue
        closed = await tx.fetchall(
            "UPDATE requests SET status = ?, closed_at = ? "
            "WHERE candidate_id = ? AND status = 'waiting' RETURNING booth_id",
            (closed_status, now, candidate_id),
        )
        ended = await tx.fetchall(
            "UPDATE conversations SET ended_at = ? WHERE candidate_id = ? AND ended_at IS NULL "
            "RETURNING booth_id, advisor_id",
            (now, candidate_id),
        )
        for row in ended:
            busy = await tx.fetchone(
                "SELECT 1 FROM staff WHERE id = ? AND status = 'in_conversation'",
                (row["advisor_id"],),
            )
            if busy is not None:
                await start_wrap_up(tx, row["advisor_id"], now, wrap_up_seconds)
        if closed or ended:
            done.touched_candidates.add(candidate_id)
        done.booth_ids.update(r["booth_id"] for r in [*closed, *ended])
        done.closed_requests += len(closed)
        done.ended_conversations += len(ended)
        counts = await tx.fetchone(
            "SELECT (SELECT COUNT(*) FROM requests WHERE candidate_id = ?) AS requests, "
            "(SELECT COUNT(*) FROM conversations WHERE candidate_id = ?) AS conversations",
            (candidate_id, candidate_id),
        )
        assert counts is not None
        done.requests += counts["requests"]
        done.conversations += counts["conversations"]
        for table, fields in _FREE_TEXT.items():
            present = [f for f in fields if f in schema.columns.get(table, [])]
            if present:
                assignments = ", ".join(f"\"{f}\" = ''" for f in present)
                await tx.execute(
                    f'UPDATE "{table}" SET {assignments} WHERE candidate_id = ?', (candidate_id,)
                )
        # A phone appointment's location is the candidate's own number.
        await tx.execute(
            "UPDATE follow_ups SET location = '' WHERE candidate_id = ? AND mode = 'phone'",
            (candidate_id,),
        )
        for table, fields in _FREE_TEXT_BY_CONVERSATION.items():
            present = [f for f in fields if f in schema.columns.get(table, [])]
            if present:
                assignments = ", ".join(f"\"{f}\" = ''" for f in present)
                await tx.execute(
                    f'UPDATE "{table}" SET {assignments} WHERE conversation_id IN '
                    "(SELECT id FROM conversations WHERE candidate_id = ?)",
                    (candidate_id,),
                )
        # The e-mails to them or about them go: sent or not, they are personal data.
        if "outbox" in schema.columns:
            await tx.execute("DELETE FROM outbox WHERE candidate_id = ?", (candidate_id,))
        # Every sign-in of theirs ends: an old cookie stands for nobody.
        if "candidate_id" in schema.columns.get("sessions", []):
            await tx.execute("DELETE FROM sessions WHERE candidate_id = ?", (candidate_id,))
        needles = _needles((person["name"], person["email"], person["phone"]))
        if needles is not None:
            await _scrub_related(tx, schema, candidate_id, needles)
        await tx.execute(
            "UPDATE candidates SET name = '', email = '', phone = '', erased_at = ? WHERE id = ?",
            (now, candidate_id),
        )
    return done


async def _scrub_related(
    tx: Transaction, schema: Schema, candidate_id: int, needles: re.Pattern[str]
) -> None:
    """Every row keyed to the candidate, or to one of their requests or conversations."""
    for table in schema.tables_with("candidate_id"):
        if table != "candidates":
            await _scrub_rows(tx, schema, table, "WHERE candidate_id = ?", (candidate_id,), needles)
    for column, owner in (("request_id", "requests"), ("conversation_id", "conversations")):
        for table in schema.tables_with(column):
            if table in ("requests", "conversations"):
                continue
            await _scrub_rows(
                tx,
                schema,
                table,
                f'WHERE "{column}" IN (SELECT id FROM {owner} WHERE candidate_id = ?)',
                (candidate_id,),
                needles,
            )


async def erase(db: Database, candidate_id: int, *, now: float, wrap_up_seconds: int) -> Anonymised:
    """A candidate erases their own data: a waiting request is cancelled, a running
    conversation ends, and their personal data is removed; all in one transaction."""
    async with db.transaction() as tx:
        return await _anonymise(
            tx, [candidate_id], now=now, wrap_up_seconds=wrap_up_seconds, closed_status="cancelled"
        )


# -- retention ----------------------------------------------------------------------------


async def event_ends_at(db: Database) -> float | None:
    """The end of the event: its last day's closing time in its time zone (None without
    days)."""
    days = await event_days(db)
    if not days:
        return None
    last = days[-1]
    hours, minutes = (int(part) for part in last.closes.split(":"))
    zone = ZoneInfo(await db.fetchvalue("SELECT timezone FROM event") or DEFAULT_TIMEZONE)
    day = last.day + timedelta(days=hours // 24)
    closes = datetime.combine(day, time(hours % 24, minutes), zone)
    return closes.timestamp()


@dataclass(frozen=True)
class RetentionResult:
    """What a retention run removed (or, dry, would remove): counts only."""

    ran_at: float
    retention_days: int
    event_ends_at: float | None
    candidates: int
    requests: int
    conversations: int
    dry_run: bool
    booth_ids: frozenset[int] = frozenset()
    touched_candidates: frozenset[int] = frozenset()


def _due_clause() -> str:
    # A candidate's data is kept until N days after the event ends; someone who signed in
    # after the event (the hall stays open) keeps it N days after signing in.
    # (The later of the two is before the cutoff when both are.)
    return "erased_at IS NULL AND COALESCE(?, created_at) <= ? AND created_at <= ?"


async def run_retention(
    db: Database,
    *,
    now: float,
    days: int,
    wrap_up_seconds: int,
    dry_run: bool = False,
    batch: int = RETENTION_BATCH,
) -> RetentionResult:
    """Anonymise every candidate whose data is past its retention time, and record the run
    in ``retention_runs`` (counts only). With ``dry_run`` nothing changes and nothing is
    recorded: the result says what would be removed."""
    ends_at = await event_ends_at(db)
    cutoff = now - days * DAY_SECONDS
    if dry_run:
        row = await db.fetchone(
            f"SELECT COUNT(*) AS candidates, "
            f"(SELECT COUNT(*) FROM requests WHERE candidate_id IN "
            f"(SELECT id FROM candidates WHERE {_due_clause()})) AS requests, "
            f"(SELECT COUNT(*) FROM conversations WHERE candidate_id IN "
            f"(SELECT id FROM candidates WHERE {_due_clause()})) AS conversations "
            f"FROM candidates WHERE {_due_clause()}",
            (ends_at, cutoff, cutoff) * 3,
        )
        assert row is not None
        return RetentionResult(
            now, days, ends_at, row["candidates"], row["requests"], row["conversations"], True
        )
    # In batches, one transaction each, so the writer is never held long while the hall
    # may be live; the run is recorded once at the end.
    total = Anonymised()
    while True:
        async with db.transaction() as tx:
            due = await tx.fetchall(
                f"SELECT id FROM candidates WHERE {_due_clause()} ORDER BY id LIMIT ?",
                (ends_at, cutoff, cutoff, batch),
            )
            done = await _anonymise(
                tx,
                [r["id"] for r in due],
                now=now,
                wrap_up_seconds=wrap_up_seconds,
                closed_status="expired",
            )
        total.candidates += done.candidates
        total.requests += done.requests
        total.conversations += done.conversations
        total.booth_ids |= done.booth_ids
        total.touched_candidates |= done.touched_candidates
        if len(due) < batch:
            break
    # The record of the run is bookkeeping no client's view shows.
    async with db.transaction(moves_revision=False) as tx:
        await tx.execute(
            "INSERT INTO retention_runs (ran_at, retention_days, event_ends_at, candidates, "
            "requests, conversations) VALUES (?, ?, ?, ?, ?, ?)",
            (now, days, ends_at, len(total.candidates), total.requests, total.conversations),
        )
    return RetentionResult(
        now,
        days,
        ends_at,
        len(total.candidates),
        total.requests,
        total.conversations,
        False,
        frozenset(total.booth_ids),
        frozenset(total.touched_candidates),
    )


async def retention_runs(db: Database, limit: int = 20) -> list[dict[str, Any]]:
    rows = await db.fetchall(
        "SELECT id, ran_at, retention_days, event_ends_at, candidates, requests, conversations "
        "FROM retention_runs ORDER BY ran_at DESC, id DESC LIMIT ?",
        (limit,),
    )
    return [dict(r) for r in rows]


async def last_run_at(db: Database) -> float | None:
    value = await db.fetchvalue("SELECT MAX(ran_at) FROM retention_runs")
    return None if value is None else float(value)


class Notifier(Protocol):
    """What the retention job tells when it closed something (``app.live.publish.Live`` does)."""

    async def booths_changed(self, booth_ids: Iterable[int]) -> None: ...

    async def candidate_changed(self, candidate_id: int) -> None: ...

    async def deadlines_moved(self) -> None: ...


class RetentionJob:
    """Runs the retention job in the server: at start and then once per ``run_every``
    seconds, in one worker process at a time (the ``retention`` lease, and the time of the
    last recorded run, decide)."""

    def __init__(
        self,
        db: Database,
        notify: Notifier,
        clock: Callable[[], float],
        *,
        days: int,
        wrap_up_seconds: int,
        check_every: float = CHECK_EVERY_SECONDS,
        run_every: float = RUN_EVERY_SECONDS,
    ) -> None:
        self.db = db
        self.notify = notify
        self.clock = clock
        self.days = days
        self.wrap_up_seconds = wrap_up_seconds
        self.check_every = check_every
        self.run_every = run_every
        self.lease = Lease(db, RETENTION_LEASE, clock, ttl=LEASE_TTL_SECONDS)

    async def run_if_due(self) -> RetentionResult | None:
        if not await self.lease.hold():
            return None
        last = await last_run_at(self.db)
        now = self.clock()
        if last is not None and now - last < self.run_every:
            return None
        result = await run_retention(
            self.db, now=now, days=self.days, wrap_up_seconds=self.wrap_up_seconds
        )
        if result.candidates:
            log.info(
                "retention: anonymised %d candidates, %d requests, %d conversations",
                result.candidates,
                result.requests,
                result.conversations,
            )
        await tell(self.notify, result.booth_ids, result.touched_candidates)
        return result

    async def run(self) -> None:
        try:
            while True:
                try:
                    await self.run_if_due()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("the retention job failed; trying again later")
                await asyncio.sleep(self.check_every)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.lease.release())


async def tell(notify: Notifier, booth_ids: Iterable[int], candidate_ids: Iterable[int]) -> None:
    """After anonymising: booths whose queue or conversations changed, and candidates who had
    something open, see the new state; a wrap-up may have started."""
    booth_ids = set(booth_ids)
    if booth_ids:
        await notify.deadlines_moved()
        await notify.booths_changed(booth_ids)
    for candidate_id in candidate_ids:
        await notify.candidate_changed(candidate_id)
