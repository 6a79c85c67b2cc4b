"""Conversations (gesprekken): accept a request, the shared timer, and the end.

The server owns the end time. Accepting is one guarded transaction: a request that is no
longer waiting is never accepted, and an advisor can never hold two running conversations.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.errors import DomainError
from app.domain import advisors
from app.domain.accounts import Staff, get_staff
from app.domain.event import Event
from app.domain.queue import REQUEST_COLUMNS, Request, next_for_advisor, request_from_row
from app.domain.video import meeting_for
from app.storage.db import Database, IntegrityError


@dataclass(frozen=True)
class Conversation:
    id: int
    request_id: int
    booth_id: int
    advisor_id: int
    candidate_id: int
    video_url: str
    started_at: float
    ends_at: float
    warned_at: float | None
    time_up_at: float | None
    ended_at: float | None
    # The call on the hall's own page (app.domain.calls), when the event uses built-in video.
    call_token: str | None = None
    # The external room both can fall back to when video does not work.
    room_url: str = ""


_COLUMNS = (
    "id, request_id, booth_id, advisor_id, candidate_id, video_url, started_at, ends_at, "
    "warned_at, time_up_at, ended_at, call_token, room_url"
)


def _conversation(row: object) -> Conversation:
    return Conversation(**dict(row))  # type: ignore[call-overload]


async def accept(
    db: Database, event: Event, *, advisor_id: int, request_id: int | None, now: float
) -> tuple[Conversation, Request]:
    """Accept a chosen request, or the next one in line when ``request_id`` is None."""
    advisor = await get_staff(db, advisor_id)
    if advisor is None or advisor.role != "advisor" or advisor.booth_id is None:
        raise DomainError("auth.forbidden")
    meeting = meeting_for(event, advisor)
    async with db.transaction() as tx:
        busy = await tx.fetchone(
            "SELECT 1 FROM conversations WHERE advisor_id = ? AND ended_at IS NULL",
            (advisor_id,),
        )
        if busy is not None:
            raise DomainError("advisor.busy")
        if request_id is None:
            rows = await tx.fetchall(
                f"SELECT {REQUEST_COLUMNS} FROM requests "
                "WHERE booth_id = ? AND status = 'waiting' ORDER BY line_at, id",
                (advisor.booth_id,),
            )
            chosen = next_for_advisor(advisor_id, [request_from_row(r) for r in rows])
            if chosen is None:
                raise DomainError("request.queue_empty")
            request_id = chosen.id
        row = await tx.fetchone(
            "UPDATE requests SET status = 'accepted', closed_at = ?, closed_by = ? "
            "WHERE id = ? AND booth_id = ? AND status = 'waiting' "
            "AND (advisor_id IS NULL OR advisor_id = ?) "
            f"RETURNING {REQUEST_COLUMNS}",
            (now, advisor_id, request_id, advisor.booth_id, advisor_id),
        )
        if row is None:
            exists = await tx.fetchone(
                "SELECT 1 FROM requests WHERE id = ? AND booth_id = ?",
                (request_id, advisor.booth_id),
            )
            raise DomainError("request.not_waiting" if exists else "request.not_found")
        request = request_from_row(row)
        try:
            conversation_id = await tx.insert(
                "INSERT INTO conversations (request_id, booth_id, advisor_id, candidate_id, "
                "video_url, call_token, room_url, started_at, ends_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    request.id,
                    request.booth_id,
                    advisor_id,
                    request.candidate_id,
                    meeting.video_url,
                    meeting.call_token,
                    meeting.room_url,
                    now,
                    now + event.conversation_seconds,
                ),
            )
        except IntegrityError:
            # The unique indexes refuse a second running conversation for either person.
            raise DomainError("request.in_conversation") from None
        await tx.execute(
            "UPDATE staff SET status = 'in_conversation', status_since = ?, wrap_up_until = NULL "
            "WHERE id = ?",
            (now, advisor_id),
        )
        created = await tx.fetchone(
            f"SELECT {_COLUMNS} FROM conversations WHERE id = ?", (conversation_id,)
        )
    assert created is not None
    return _conversation(created), request


async def end(
    db: Database, *, advisor_id: int, conversation_id: int, now: float, wrap_up_seconds: int
) -> Conversation:
    async with db.transaction() as tx:
        row = await tx.fetchone(
            f"UPDATE conversations SET ended_at = ? WHERE id = ? AND advisor_id = ? "
            f"AND ended_at IS NULL RETURNING {_COLUMNS}",
            (now, conversation_id, advisor_id),
        )
        if row is None:
            mine = await tx.fetchone(
                "SELECT 1 FROM conversations WHERE id = ? AND advisor_id = ?",
                (conversation_id, advisor_id),
            )
            raise DomainError("conversation.ended" if mine else "conversation.not_found")
        await advisors.start_wrap_up(tx, advisor_id, now, wrap_up_seconds)
    return _conversation(row)


async def get_conversation(db: Database, conversation_id: int) -> Conversation | None:
    row = await db.fetchone(
        f"SELECT {_COLUMNS} FROM conversations WHERE id = ?", (conversation_id,)
    )
    return None if row is None else _conversation(row)


async def running_for_candidate(db: Database, candidate_id: int) -> Conversation | None:
    row = await db.fetchone(
        f"SELECT {_COLUMNS} FROM conversations WHERE candidate_id = ? AND ended_at IS NULL",
        (candidate_id,),
    )
    return None if row is None else _conversation(row)


async def running_for_advisor(db: Database, advisor_id: int) -> Conversation | None:
    row = await db.fetchone(
        f"SELECT {_COLUMNS} FROM conversations WHERE advisor_id = ? AND ended_at IS NULL",
        (advisor_id,),
    )
    return None if row is None else _conversation(row)


async def running(db: Database) -> list[Conversation]:
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM conversations WHERE ended_at IS NULL ORDER BY ends_at"
    )
    return [_conversation(r) for r in rows]


async def warn_due(db: Database, event: Event, now: float) -> list[Conversation]:
    """Mark conversations that reached the warning time; each is warned once."""
    async with db.transaction() as tx:
        rows = await tx.fetchall(
            f"UPDATE conversations SET warned_at = ? WHERE ended_at IS NULL "
            f"AND warned_at IS NULL AND ends_at - ? <= ? RETURNING {_COLUMNS}",
            (now, event.warning_seconds, now),
        )
    return [_conversation(r) for r in rows]


async def time_up_due(db: Database, now: float) -> list[Conversation]:
    """Mark conversations whose time is up. Nobody is cut off: they run on in overtime."""
    async with db.transaction() as tx:
        rows = await tx.fetchall(
            f"UPDATE conversations SET time_up_at = ? WHERE ended_at IS NULL "
            f"AND time_up_at IS NULL AND ends_at <= ? RETURNING {_COLUMNS}",
            (now, now),
        )
    return [_conversation(r) for r in rows]


async def next_timer(db: Database, event: Event) -> float | None:
    value = await db.fetchvalue(
        "SELECT MIN(t) FROM ("
        " SELECT ends_at - ? AS t FROM conversations WHERE ended_at IS NULL AND warned_at IS NULL"
        " UNION ALL"
        " SELECT ends_at AS t FROM conversations WHERE ended_at IS NULL AND time_up_at IS NULL"
        ") AS moments",
        (event.warning_seconds,),
    )
    return None if value is None else float(value)


async def advisor_of(db: Database, conversation: Conversation) -> Staff | None:
    return await get_staff(db, conversation.advisor_id)
