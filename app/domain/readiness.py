"""Readiness ("Ben je er klaar voor?") and no-shows.

When a candidate is next in line and an advisor of the booth is free or about to be
(available, wrapping up, or in a conversation that reached its warning time), the request is
asked: ``ready_asked_at`` is set and the candidate has until ``ready_until`` to confirm
(``ready_seconds``, an event setting). One candidate is asked per such advisor, and a request
for one advisor is only asked for that advisor. The candidate may ask for more time once; it
extends the limit by the same amount.

Missing the prompt once moves the request back ``ready_step_back`` places in line (by moving
``line_at``; ``created_at`` stays the time they first asked) and it stays waiting. Missing it
twice closes the request as a no-show (status ``expired``, ``closed_reason`` ``no_show``);
the candidate may ask again.

After acceptance, the candidate joins the call through the server (``joined_at``). Who has
not joined by the conversation's ``join_until`` is a no-show too: the conversation ends with
``no_show_at`` set and the advisor is available again at once, without wrap-up. A no-show
conversation does not count as a held conversation (estimate, reports, dashboard).

Every limit is a database column; ``app.live.deadlines`` handles them and also asks whoever is due
after each change of state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from app.core.errors import DomainError, ValidationError
from app.domain import audit
from app.domain.queue import REQUEST_COLUMNS, Request, request_from_row
from app.storage.db import Database, Transaction

NO_SHOW = "no_show"
# Bounds of the moderator's settings.
READY_SECONDS = (20, 600)
STEP_BACK = (1, 10)
JOIN_SECONDS = (30, 900)
# A request that lets the prompt pass this often is closed as a no-show.
MISSES_ALLOWED = 1


@dataclass(frozen=True)
class Settings:
    ready_seconds: int = 60
    ready_step_back: int = 3
    join_seconds: int = 120


@dataclass
class Changes:
    """What a step changed, for telling the people concerned after it committed."""

    booth_ids: set[int] = field(default_factory=set)
    candidate_ids: set[int] = field(default_factory=set)
    # Requests asked now (request id -> candidate id), for the candidate's notification.
    asked: dict[int, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.booth_ids or self.candidate_ids)

    def add(self, other: Changes) -> None:
        self.booth_ids |= other.booth_ids
        self.candidate_ids |= other.candidate_ids
        self.asked.update(other.asked)


@dataclass(frozen=True)
class Joined:
    conversation_id: int
    candidate_id: int
    advisor_id: int
    booth_id: int
    video_url: str
    joined_at: float


# -- settings ------------------------------------------------------------------------------


async def load_settings(db: Database | Transaction) -> Settings:
    row = await db.fetchone(
        "SELECT ready_seconds, ready_step_back, join_seconds FROM event WHERE id = 1"
    )
    return Settings() if row is None else Settings(**dict(row))


def _in_range(values: dict[str, str], name: str, bounds: tuple[int, int]) -> int | DomainError:
    low, high = bounds
    raw = str(values.get(name, "")).strip()
    error = DomainError("input.number_range", field=name, min=low, max=high)
    if not raw.isdigit() or len(raw) > 6:
        return error
    number = int(raw)
    return number if low <= number <= high else error


def check_settings(values: dict[str, str]) -> Settings:
    """The moderator's form values as settings; every field out of range is reported."""
    checked = {
        "ready_seconds": _in_range(values, "ready_seconds", READY_SECONDS),
        "ready_step_back": _in_range(values, "ready_step_back", STEP_BACK),
        "join_seconds": _in_range(values, "join_seconds", JOIN_SECONDS),
    }
    errors = {k: v for k, v in checked.items() if isinstance(v, DomainError)}
    if errors:
        raise ValidationError(errors)
    return Settings(**{k: int(v) for k, v in checked.items() if isinstance(v, int)})


async def save_settings(tx: Transaction, settings: Settings) -> None:
    await tx.execute(
        "UPDATE event SET ready_seconds = ?, ready_step_back = ?, join_seconds = ? WHERE id = 1",
        (settings.ready_seconds, settings.ready_step_back, settings.join_seconds),
    )


def form_values(settings: Settings) -> dict[str, str]:
    return {k: str(v) for k, v in settings.__dict__.items()}


async def update_settings(
    db: Database, data: dict[str, str], *, staff_id: int | None, now: float
) -> Settings:
    """The moderator saves the settings; written to the audit log. Refused: nothing saved."""
    new = check_settings(data)
    async with db.transaction() as tx:
        await save_settings(tx, new)
        await audit.record(
            tx,
            staff_id=staff_id,
            action="event.readiness",
            subject="event",
            detail=audit.Detail("readiness_settings", dict(new.__dict__)),
            at=now,
        )
    return new


# -- asking --------------------------------------------------------------------------------


async def _free_advisors(tx: Database | Transaction, now: float) -> dict[int, list[int]]:
    """Per booth: the advisors who are free or about to be."""
    rows = await tx.fetchall(
        "SELECT s.id, s.booth_id FROM staff s "
        "LEFT JOIN conversations c ON c.advisor_id = s.id AND c.ended_at IS NULL "
        "WHERE s.role = 'advisor' AND s.active = 1 AND s.booth_id IS NOT NULL AND ("
        " (s.status IN ('available', 'wrapping_up') AND c.id IS NULL)"
        " OR (s.status = 'in_conversation' AND c.id IS NOT NULL"
        "     AND c.ends_at - (SELECT warning_seconds FROM event WHERE id = 1) <= ?)"
        ") ORDER BY s.id",
        (now,),
    )
    free: dict[int, list[int]] = {}
    for row in rows:
        free.setdefault(int(row["booth_id"]), []).append(int(row["id"]))
    return free


def choose(waiting: list[Request], free: list[int]) -> list[Request]:
    """Which waiting requests (in line order) to ask now, given the free advisors: the
    requests already asked hold an advisor each; the rest go in line order, one per
    remaining advisor, a request for one advisor only to that advisor. A candidate who is
    away is not asked."""
    left = list(free)

    def take(request: Request) -> bool:
        if request.advisor_id is not None:
            if request.advisor_id in left:
                left.remove(request.advisor_id)
                return True
            return False
        if not left:
            return False
        # Keep the advisors that later requests asked for by name for those requests.
        wanted = {r.advisor_id for r in waiting if r.advisor_id is not None}
        pick = min(left, key=lambda a: (a in wanted, left.index(a)))
        left.remove(pick)
        return True

    for request in waiting:
        if request.ready_asked_at is not None:
            take(request)
    chosen = []
    for request in waiting:
        if not left:
            break
        # Away (no connection, app.domain.presence): they could not see the prompt. They keep their
        # place while the grace period runs; the next one is asked.
        if request.away_since is not None:
            continue
        if request.ready_asked_at is None and take(request):
            chosen.append(request)
    return chosen


async def _to_ask(reader: Database | Transaction, now: float) -> list[Request]:
    """The requests to ask now, over every booth with a free (or nearly free) advisor."""
    chosen: list[Request] = []
    for booth_id, advisor_ids in sorted((await _free_advisors(reader, now)).items()):
        rows = await reader.fetchall(
            f"SELECT {REQUEST_COLUMNS} FROM requests WHERE booth_id = ? "
            "AND status = 'waiting' ORDER BY line_at, id",
            (booth_id,),
        )
        chosen += choose([request_from_row(r) for r in rows], advisor_ids)
    return chosen


async def ask_due(db: Database, now: float) -> Changes:
    """Ask the candidates who are next now. Asks nobody twice for the same turn."""
    changes = Changes()
    # Reads first: most rounds have nobody to ask, and need no write transaction (every
    # write moves the revision that clients compare states by).
    if not await db.fetchone(
        "SELECT 1 FROM requests WHERE status = 'waiting' AND ready_asked_at IS NULL LIMIT 1"
    ) or not await _to_ask(db, now):
        return changes
    async with db.transaction() as tx:
        settings = await load_settings(tx)
        for request in await _to_ask(tx, now):
            await tx.execute(
                "UPDATE requests SET ready_asked_at = ?, ready_until = ?, ready_at = NULL, "
                "ready_extended = 0 WHERE id = ? AND status = 'waiting' "
                "AND ready_asked_at IS NULL",
                (now, now + settings.ready_seconds, request.id),
            )
            changes.booth_ids.add(request.booth_id)
            changes.candidate_ids.add(request.candidate_id)
            changes.asked[request.id] = request.candidate_id
    return changes


def _after(line: list[tuple[float, int]], index: int, request_id: int) -> float:
    """A line_at that puts ``request_id`` right behind the entry at ``index`` of ``line``
    (sorted by line_at, id) and before the one after it."""
    at, other_id = line[index]
    place = at if request_id > other_id else math.nextafter(at, math.inf)
    if index + 1 < len(line):
        following, following_id = line[index + 1]
        if place > following or (place == following and request_id > following_id):
            place = (at + following) / 2
    return place


async def miss_due(db: Database, now: float) -> Changes:
    """Candidates who let the prompt pass: the first time back a few places, the second
    time a no-show."""
    changes = Changes()
    if not await db.fetchone(
        "SELECT 1 FROM requests WHERE status = 'waiting' AND ready_asked_at IS NOT NULL "
        "AND ready_at IS NULL AND ready_until <= ? LIMIT 1",
        (now,),
    ):
        return changes
    async with db.transaction() as tx:
        settings = await load_settings(tx)
        rows = await tx.fetchall(
            f"SELECT {REQUEST_COLUMNS} FROM requests WHERE status = 'waiting' "
            "AND ready_asked_at IS NOT NULL AND ready_at IS NULL AND ready_until <= ? "
            "ORDER BY line_at, id",
            (now,),
        )
        for request in (request_from_row(r) for r in rows):
            changes.booth_ids.add(request.booth_id)
            changes.candidate_ids.add(request.candidate_id)
            if request.ready_misses >= MISSES_ALLOWED:
                await tx.execute(
                    "UPDATE requests SET status = 'expired', closed_at = ?, closed_reason = ?, "
                    "ready_misses = ready_misses + 1 WHERE id = ?",
                    (now, NO_SHOW, request.id),
                )
                continue
            line = [
                (float(r["line_at"]), int(r["id"]))
                for r in await tx.fetchall(
                    "SELECT line_at, id FROM requests WHERE booth_id = ? AND status = 'waiting' "
                    "AND id != ? AND (line_at > ? OR (line_at = ? AND id > ?)) "
                    "ORDER BY line_at, id LIMIT ?",
                    (
                        request.booth_id,
                        request.id,
                        request.line_at,
                        request.line_at,
                        request.id,
                        settings.ready_step_back + 1,
                    ),
                )
            ]
            line_at = request.line_at
            if line:
                line_at = _after(line, min(settings.ready_step_back, len(line)) - 1, request.id)
            await tx.execute(
                "UPDATE requests SET line_at = ?, ready_misses = ready_misses + 1, "
                "ready_asked_at = NULL, ready_until = NULL, ready_at = NULL, ready_extended = 0 "
                "WHERE id = ?",
                (line_at, request.id),
            )
    return changes


async def _asked_request(tx: Transaction, candidate_id: int, request_id: int) -> Request:
    row = await tx.fetchone(
        f"SELECT {REQUEST_COLUMNS} FROM requests WHERE id = ? AND candidate_id = ?",
        (request_id, candidate_id),
    )
    if row is None:
        raise DomainError("request.not_found", field="request_id")
    request = request_from_row(row)
    if request.status != "waiting":
        raise DomainError("request.not_waiting", field="request_id")
    if request.ready_asked_at is None:
        raise DomainError("ready.not_asked", field="request_id")
    return request


async def confirm(db: Database, *, candidate_id: int, request_id: int, now: float) -> Request:
    """The candidate is ready. Confirming again changes nothing."""
    async with db.transaction() as tx:
        request = await _asked_request(tx, candidate_id, request_id)
        if request.ready_at is None:
            await tx.execute("UPDATE requests SET ready_at = ? WHERE id = ?", (now, request_id))
        row = await tx.fetchone(
            f"SELECT {REQUEST_COLUMNS} FROM requests WHERE id = ?", (request_id,)
        )
    assert row is not None
    return request_from_row(row)


async def extend(db: Database, *, candidate_id: int, request_id: int, now: float) -> Request:
    """More time, once per prompt: the limit moves on by ``ready_seconds``."""
    async with db.transaction() as tx:
        settings = await load_settings(tx)
        request = await _asked_request(tx, candidate_id, request_id)
        if request.ready_at is not None:
            raise DomainError("ready.already_confirmed", field="request_id")
        if request.ready_extended:
            raise DomainError("ready.already_extended", field="request_id")
        await tx.execute(
            "UPDATE requests SET ready_until = ready_until + ?, ready_extended = 1 WHERE id = ?",
            (settings.ready_seconds, request_id),
        )
        row = await tx.fetchone(
            f"SELECT {REQUEST_COLUMNS} FROM requests WHERE id = ?", (request_id,)
        )
    assert row is not None
    return request_from_row(row)


# -- joining -------------------------------------------------------------------------------


async def join(db: Database, *, candidate_id: int, conversation_id: int, now: float) -> Joined:
    """The candidate goes into the call. Joining again keeps the first time."""
    async with db.transaction() as tx:
        row = await tx.fetchone(
            "SELECT id, candidate_id, advisor_id, booth_id, video_url, joined_at, ended_at "
            "FROM conversations WHERE id = ? AND candidate_id = ?",
            (conversation_id, candidate_id),
        )
        if row is None:
            raise DomainError("conversation.not_found", field="conversation_id")
        if row["ended_at"] is not None:
            raise DomainError("conversation.ended", field="conversation_id")
        joined_at = row["joined_at"]
        if joined_at is None:
            joined_at = now
            await tx.execute(
                "UPDATE conversations SET joined_at = ? WHERE id = ?", (now, conversation_id)
            )
    return Joined(
        conversation_id=int(row["id"]),
        candidate_id=int(row["candidate_id"]),
        advisor_id=int(row["advisor_id"]),
        booth_id=int(row["booth_id"]),
        video_url=str(row["video_url"]),
        joined_at=float(joined_at),
    )


async def join_due(db: Database, now: float) -> Changes:
    """Conversations whose candidate did not join in time end as no-shows; the advisor is
    available again at once."""
    changes = Changes()
    if not await db.fetchone(
        "SELECT 1 FROM conversations WHERE ended_at IS NULL AND joined_at IS NULL "
        "AND join_until <= ? LIMIT 1",
        (now,),
    ):
        return changes
    async with db.transaction() as tx:
        rows = await tx.fetchall(
            "UPDATE conversations SET ended_at = ?, no_show_at = ? WHERE ended_at IS NULL "
            "AND joined_at IS NULL AND join_until <= ? "
            "RETURNING id, advisor_id, candidate_id, booth_id",
            (now, now, now),
        )
        for row in rows:
            await tx.execute(
                "UPDATE staff SET status = 'available', status_since = ?, wrap_up_until = NULL "
                "WHERE id = ? AND status = 'in_conversation'",
                (now, row["advisor_id"]),
            )
            changes.booth_ids.add(int(row["booth_id"]))
            changes.candidate_ids.add(int(row["candidate_id"]))
    return changes


# -- deadlines -----------------------------------------------------------------------------


async def next_deadline(db: Database, now: float) -> float | None:
    """The earliest moment something here is due: a prompt's limit, a join limit, or a
    running conversation reaching its warning time while someone waits at its booth."""
    value = await db.fetchvalue(
        "SELECT MIN(t) FROM ("
        " SELECT ready_until AS t FROM requests WHERE status = 'waiting'"
        "  AND ready_asked_at IS NOT NULL AND ready_at IS NULL"
        " UNION ALL"
        " SELECT join_until AS t FROM conversations WHERE ended_at IS NULL"
        "  AND joined_at IS NULL AND join_until IS NOT NULL"
        " UNION ALL"
        " SELECT c.ends_at - (SELECT warning_seconds FROM event WHERE id = 1) AS t"
        "  FROM conversations c WHERE c.ended_at IS NULL"
        "  AND c.ends_at - (SELECT warning_seconds FROM event WHERE id = 1) > ?"
        "  AND EXISTS (SELECT 1 FROM requests r WHERE r.booth_id = c.booth_id"
        "   AND r.status = 'waiting' AND r.ready_asked_at IS NULL)) AS moments",
        (now,),
    )
    return None if value is None else float(value)


async def run_due(db: Database, now: float) -> Changes:
    """Everything due now, in order: no-shows after acceptance free advisors, missed prompts
    move people back, then whoever is next is asked."""
    changes = await join_due(db, now)
    changes.add(await miss_due(db, now))
    changes.add(await ask_due(db, now))
    return changes


async def join_view(db: Database, conversation_id: int) -> dict[str, object]:
    """The wire fields of joining, for a conversation view: when the candidate joined, until
    when they may, and whether they were a no-show."""
    row = await db.fetchone(
        "SELECT joined_at, join_until, no_show_at FROM conversations WHERE id = ?",
        (conversation_id,),
    )
    if row is None:
        return {"joined_at": None, "join_until": None, "no_show": False}
    return {
        "joined_at": row["joined_at"],
        "join_until": row["join_until"],
        "no_show": row["no_show_at"] is not None,
    }
