"""Requests (inzoomverzoeken) and the queue (wachtrij) of each booth.

Order is first come, first served per booth: by place in line (``line_at``: the creation
time, moved back only after a missed readiness prompt, see app.domain.readiness), then id. A request
for one advisor waits in the same line but only that advisor can take it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from app.core.errors import DomainError, ValidationError
from app.domain import booths, estimate
from app.domain.advisors import PRESENT
from app.domain.event import Event
from app.storage.db import Database, IntegrityError, Transaction

QUESTION_MAX = 500
CLIENT_KEY_MAX = 64
DECLINE_MESSAGE_MAX = 500
OPEN_STATUSES = ("waiting",)


@dataclass(frozen=True)
class Request:
    id: int
    booth_id: int
    advisor_id: int | None
    candidate_id: int
    question: str
    status: str
    created_at: float
    expires_at: float
    closed_at: float | None
    decline_message: str
    # When the candidate was last seen, while they are away (app.domain.presence); else None.
    away_since: float | None = None
    # Why a request closed when that is not told by its status alone: 'away' (app.domain.presence),
    # 'booth_closed', 'event_closed' or 'blocked' (app.domain.moderation).
    closed_reason: str = ""
    # When the moderator last moved it to another booth or advisor (app.domain.moderation).
    moved_at: float | None = None
    # Place in line (app.domain.readiness): starts as created_at, moved back after a missed prompt.
    line_at: float = 0.0
    # "Ben je er klaar voor?" (app.domain.readiness): asked, limit, confirmed, misses, extended.
    ready_asked_at: float | None = None
    ready_until: float | None = None
    ready_at: float | None = None
    ready_misses: int = 0
    ready_extended: int = 0


@dataclass(frozen=True)
class QueueEntry:
    """One waiting request as the booth's advisors see it."""

    request: Request
    candidate_name: str
    position: int


REQUEST_COLUMNS = (
    "id, booth_id, advisor_id, candidate_id, question, status, created_at, expires_at, "
    "closed_at, decline_message, away_since, closed_reason, moved_at, line_at, ready_asked_at, "
    "ready_until, ready_at, ready_misses, ready_extended"
)
_ORDER = "line_at, id"


def request_from_row(row: object) -> Request:
    return Request(**dict(row))  # type: ignore[call-overload]


def check_question(question: str) -> str:
    question = question.strip()
    if len(question) > QUESTION_MAX:
        raise ValidationError(
            {"question": DomainError("input.too_long", field="question", max=QUESTION_MAX)}
        )
    return question


async def booth_is_accepting(tx: Transaction, event: Event, booth_id: int, now: float) -> bool:
    """A booth takes requests when it is open by schedule or an advisor is there (a paused
    advisor outside the schedule does not keep it open), unless the moderator closed it or
    the whole event."""
    if await closed_by_moderator(tx, booth_id) is not None:
        return False
    present = await tx.fetchone(
        "SELECT 1 FROM staff WHERE booth_id = ? AND active = 1 "
        f"AND status IN ({', '.join(repr(s) for s in PRESENT)})",
        (booth_id,),
    )
    local_now = event.local(now)
    slots = await booths.slots_from(tx, local_now.date(), booth_id)
    # The hall shows a booth as open by the same rule (booths.takes_requests).
    return booths.takes_requests(booths.opening(slots, local_now), present=present is not None)


async def closed_by_moderator(tx: Transaction, booth_id: int) -> str | None:
    """The error code when the moderator closed the event ('event.closed') or this booth
    ('booth.closed_by_moderator'); None when neither. Read inside the caller's transaction,
    so a request never slips in after the close committed."""
    row = await tx.fetchone(
        "SELECT (SELECT is_open FROM event WHERE id = 1) AS event_open, "
        "(SELECT closed FROM booths WHERE id = ?) AS booth_closed",
        (booth_id,),
    )
    if row is not None and row["event_open"] == 0:
        return "event.closed"
    if row is not None and row["booth_closed"]:
        return "booth.closed_by_moderator"
    return None


async def create_request(
    db: Database,
    event: Event,
    *,
    candidate_id: int,
    booth_id: int,
    advisor_id: int | None,
    question: str,
    client_key: str,
    now: float,
    ttl_seconds: int,
) -> tuple[Request, bool]:
    """Queue a request. Returns the request and whether it is new.

    Sending the same ``client_key`` again returns the first request instead of a second one.
    """
    question = check_question(question)
    if not client_key or len(client_key) > CLIENT_KEY_MAX:
        raise ValidationError({"client_key": DomainError("input.invalid", field="client_key")})
    async with db.transaction() as tx:
        row = await tx.fetchone(
            f"SELECT {REQUEST_COLUMNS} FROM requests WHERE candidate_id = ? AND client_key = ?",
            (candidate_id, client_key),
        )
        if row is not None:
            return request_from_row(row), False
        # Erased (or never there) while this command was on its way: nobody to ask for.
        there = "SELECT 1 FROM candidates WHERE id = ? AND erased_at IS NULL"
        if await tx.fetchone(there, (candidate_id,)) is None:
            raise DomainError("auth.sign_in_required")
        if await tx.fetchone(
            "SELECT 1 FROM candidates WHERE id = ? AND blocked_at IS NOT NULL", (candidate_id,)
        ):
            raise DomainError("candidate.blocked")
        if (
            await tx.fetchone(
                "SELECT 1 FROM booths WHERE id = ? AND removed_at IS NULL", (booth_id,)
            )
            is None
        ):
            raise DomainError("booth.not_found", field="booth_id")
        closed = await closed_by_moderator(tx, booth_id)
        if closed is not None:
            raise DomainError(closed)
        if advisor_id is not None:
            if await advisor_status_at(tx, booth_id, advisor_id) == "offline":
                raise DomainError("booth.closed")
        elif not await booth_is_accepting(tx, event, booth_id, now):
            raise DomainError("booth.closed")
        if await tx.fetchone(
            "SELECT 1 FROM conversations WHERE candidate_id = ? AND ended_at IS NULL",
            (candidate_id,),
        ):
            raise DomainError("request.in_conversation")
        if await tx.fetchone(
            "SELECT 1 FROM requests WHERE candidate_id = ? AND status = 'waiting'",
            (candidate_id,),
        ):
            raise DomainError("request.already_open")
        try:
            request_id = await tx.insert(
                "INSERT INTO requests (booth_id, advisor_id, candidate_id, question, client_key, "
                "created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (booth_id, advisor_id, candidate_id, question, client_key, now, now + ttl_seconds),
            )
        except IntegrityError as error:
            # The database's own backstop: no request for a blocked candidate.
            if "candidate blocked" in str(error):
                raise DomainError("candidate.blocked") from None
            raise
        created = await tx.fetchone(
            f"SELECT {REQUEST_COLUMNS} FROM requests WHERE id = ?", (request_id,)
        )
    assert created is not None
    return request_from_row(created), True


async def get_request(db: Database | Transaction, request_id: int) -> Request | None:
    row = await db.fetchone(f"SELECT {REQUEST_COLUMNS} FROM requests WHERE id = ?", (request_id,))
    return None if row is None else request_from_row(row)


async def cancel_request(
    db: Database, *, candidate_id: int, request_id: int, now: float
) -> Request:
    async with db.transaction() as tx:
        row = await tx.fetchone(
            f"UPDATE requests SET status = 'cancelled', closed_at = ? "
            f"WHERE id = ? AND candidate_id = ? AND status = 'waiting' RETURNING {REQUEST_COLUMNS}",
            (now, request_id, candidate_id),
        )
        if row is None:
            mine = await tx.fetchone(
                "SELECT 1 FROM requests WHERE id = ? AND candidate_id = ?",
                (request_id, candidate_id),
            )
            raise DomainError("request.not_waiting" if mine else "request.not_found")
    return request_from_row(row)


async def decline_request(
    db: Database, *, advisor_id: int, booth_id: int, request_id: int, message: str, now: float
) -> Request:
    message = message.strip()
    if len(message) > DECLINE_MESSAGE_MAX:
        raise ValidationError(
            {"message": DomainError("input.too_long", field="message", max=DECLINE_MESSAGE_MAX)}
        )
    async with db.transaction() as tx:
        row = await tx.fetchone(
            f"UPDATE requests SET status = 'declined', closed_at = ?, closed_by = ?, "
            f"decline_message = ? WHERE id = ? AND booth_id = ? AND status = 'waiting' "
            f"AND (advisor_id IS NULL OR advisor_id = ?) RETURNING {REQUEST_COLUMNS}",
            (now, advisor_id, message, request_id, booth_id, advisor_id),
        )
        if row is None:
            exists = await tx.fetchone(
                "SELECT 1 FROM requests WHERE id = ? AND booth_id = ?", (request_id, booth_id)
            )
            raise DomainError("request.not_waiting" if exists else "request.not_found")
    return request_from_row(row)


async def expire_due(db: Database, now: float) -> list[Request]:
    async with db.transaction() as tx:
        rows = await tx.fetchall(
            f"UPDATE requests SET status = 'expired', closed_at = ? "
            f"WHERE status = 'waiting' AND expires_at <= ? RETURNING {REQUEST_COLUMNS}",
            (now, now),
        )
    return [request_from_row(r) for r in rows]


async def next_expiry(db: Database) -> float | None:
    value = await db.fetchvalue("SELECT MIN(expires_at) FROM requests WHERE status = 'waiting'")
    return None if value is None else float(value)


async def open_request_of(db: Database, candidate_id: int) -> Request | None:
    row = await db.fetchone(
        f"SELECT {REQUEST_COLUMNS} FROM requests WHERE candidate_id = ? AND status = 'waiting'",
        (candidate_id,),
    )
    return None if row is None else request_from_row(row)


async def latest_request_of(db: Database, candidate_id: int) -> Request | None:
    row = await db.fetchone(
        f"SELECT {REQUEST_COLUMNS} FROM requests WHERE candidate_id = ? ORDER BY id DESC LIMIT 1",
        (candidate_id,),
    )
    return None if row is None else request_from_row(row)


async def waiting_at_booth(db: Database | Transaction, booth_id: int) -> list[QueueEntry]:
    rows = await db.fetchall(
        f"SELECT r.{REQUEST_COLUMNS.replace(', ', ', r.')}, c.name AS candidate_name "
        f"FROM requests r JOIN candidates c ON c.id = r.candidate_id "
        f"WHERE r.booth_id = ? AND r.status = 'waiting' ORDER BY r.line_at, r.id",
        (booth_id,),
    )
    requests = []
    for row in rows:
        data = dict(row)
        name = data.pop("candidate_name")
        requests.append((request_from_row(data), name))
    return [
        QueueEntry(request, name, position_in(request, [r for r, _ in requests]))
        for request, name in requests
    ]


def position_in(request: Request, waiting: list[Request]) -> int:
    """1-based place in line among the requests that compete for the same advisor(s)."""
    ahead = 0
    for other in waiting:
        if other.id == request.id:
            break
        if request.advisor_id is None or other.advisor_id in (None, request.advisor_id):
            ahead += 1
    return ahead + 1


def next_for_advisor(advisor_id: int, waiting: list[Request]) -> Request | None:
    for request in waiting:
        if request.advisor_id in (None, advisor_id):
            return request
    return None


def estimate_wait_seconds(
    position: int, free_in_seconds: list[float], conversation_seconds: int
) -> float | None:
    """When the candidate at ``position`` is likely to be called, in seconds from now.

    ``free_in_seconds`` holds, for each advisor present, how long until they are free
    (0 when available now); every conversation takes the configured length. The pages use
    the fuller estimate of app/domain/estimate.py; this is its plain core.
    """
    return estimate.called_after(position, free_in_seconds, conversation_seconds)


def round_wait_minutes(seconds: float | None) -> int | None:
    """Shown waits are whole minutes, rounded up so we never promise too early."""
    if seconds is None:
        return None
    return max(0, math.ceil(seconds / 60))


async def advisor_status_at(tx: Transaction, booth_id: int, advisor_id: int) -> str:
    """The status of an advisor a candidate asked for, who must be an active advisor of
    this booth (else ``advisor.not_found``, on the field that named them)."""
    advisor = await tx.fetchone(
        "SELECT status FROM staff WHERE id = ? AND booth_id = ? AND role = 'advisor' "
        "AND active = 1",
        (advisor_id, booth_id),
    )
    if advisor is None:
        raise DomainError("advisor.not_found", field="advisor_id")
    return str(advisor["status"])
