"""Transfer (doorverwijzen): an advisor hands the candidate of their running conversation to
another booth's queue, optionally to one advisor there, with a note for that booth.

One transaction ends the conversation the way ``conversation.end`` does (the advisor wraps
up) and makes a new waiting request at the other booth. That request keeps the creation time
of the request that led to the conversation, so the candidate lands where their original
time puts them (first come, first served by time). It remembers the conversation it came
from and the note; the note is for the receiving booth's staff only, never the candidate.
A refused transfer changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.core import names
from app.core.errors import DomainError, ValidationError
from app.domain import advisors
from app.domain.event import Event
from app.domain.queue import (
    REQUEST_COLUMNS,
    Request,
    advisor_status_at,
    booth_is_accepting,
    closed_by_moderator,
    request_from_row,
)
from app.storage.db import Database, IntegrityError, Transaction

NOTE_MAX = 500


@dataclass(frozen=True)
class Transfer:
    """What a transfer changed, for telling the people concerned after the commit."""

    conversation_id: int
    from_booth_id: int
    request: Request


def check_note(note: str) -> str:
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise ValidationError({"note": DomainError("input.too_long", field="note", max=NOTE_MAX)})
    return note


async def _check_target(
    tx: Transaction, event: Event, booth_id: int, advisor_id: int | None, now: float
) -> None:
    """The receiving booth (and advisor) must take requests now: the same rules as a
    candidate's own request and the moderator's move."""
    if (
        await tx.fetchone("SELECT 1 FROM booths WHERE id = ? AND removed_at IS NULL", (booth_id,))
        is None
    ):
        raise DomainError("booth.not_found", field="booth_id")
    closed = await closed_by_moderator(tx, booth_id)
    if closed is not None:
        raise DomainError(closed, field="booth_id")
    if advisor_id is not None and await advisor_status_at(tx, booth_id, advisor_id) == "offline":
        raise DomainError("advisor.not_present", field="advisor_id")
    elif not await booth_is_accepting(tx, event, booth_id, now):
        raise DomainError("booth.closed", field="booth_id")


async def transfer(
    db: Database,
    event: Event,
    *,
    advisor_id: int,
    conversation_id: int,
    booth_id: int,
    to_advisor_id: int | None,
    note: str,
    now: float,
    ttl_seconds: int,
    wrap_up_seconds: int,
) -> Transfer:
    note = check_note(note)
    async with db.transaction() as tx:
        me = await tx.fetchone(
            "SELECT 1 FROM staff WHERE id = ? AND role = 'advisor' AND active = 1",
            (advisor_id,),
        )
        if me is None:
            raise DomainError("auth.forbidden")
        conversation = await tx.fetchone(
            "SELECT c.id, c.booth_id, c.candidate_id, c.ended_at, r.created_at, r.question "
            "FROM conversations c JOIN requests r ON r.id = c.request_id "
            "WHERE c.id = ? AND c.advisor_id = ?",
            (conversation_id, advisor_id),
        )
        if conversation is None:
            raise DomainError("conversation.not_found", field="conversation_id")
        if conversation["ended_at"] is not None:
            raise DomainError("conversation.ended", field="conversation_id")
        if booth_id == conversation["booth_id"]:
            raise DomainError("transfer.same_booth", field="booth_id")
        await _check_target(tx, event, booth_id, to_advisor_id, now)
        candidate_id = conversation["candidate_id"]
        blocked = await tx.fetchone(
            "SELECT blocked_at FROM candidates WHERE id = ? AND erased_at IS NULL",
            (candidate_id,),
        )
        if blocked is None:
            raise DomainError("candidate.not_found")
        if blocked["blocked_at"] is not None:
            raise DomainError("candidate.blocked")
        if await tx.fetchone(
            "SELECT 1 FROM requests WHERE candidate_id = ? AND status = 'waiting'",
            (candidate_id,),
        ):
            raise DomainError("request.already_open")
        await tx.execute(
            "UPDATE conversations SET ended_at = ? WHERE id = ? AND ended_at IS NULL",
            (now, conversation_id),
        )
        await advisors.start_wrap_up(tx, advisor_id, now, wrap_up_seconds)
        try:
            request_id = await tx.insert(
                "INSERT INTO requests (booth_id, advisor_id, candidate_id, question, client_key, "
                "created_at, expires_at, transferred_from, transfer_note) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    booth_id,
                    to_advisor_id,
                    candidate_id,
                    conversation["question"],
                    f"transfer:{conversation_id}",
                    conversation["created_at"],
                    now + ttl_seconds,
                    conversation_id,
                    note,
                ),
            )
        except IntegrityError as error:
            if "candidate blocked" in str(error):
                raise DomainError("candidate.blocked") from None
            raise
        row = await tx.fetchone(
            f"SELECT {REQUEST_COLUMNS} FROM requests WHERE id = ?", (request_id,)
        )
    assert row is not None
    return Transfer(conversation_id, conversation["booth_id"], request_from_row(row))


async def origins_at_booth(db: Database, booth_id: int) -> dict[int, dict[str, Any]]:
    """For each waiting request at a booth that was transferred to it: the booth it came
    from and the note, keyed by request id. For the booth's staff only."""
    rows = await db.fetchall(
        "SELECT r.id, r.transfer_note, b.name AS from_booth FROM requests r "
        "JOIN conversations c ON c.id = r.transferred_from JOIN booths b ON b.id = c.booth_id "
        "WHERE r.booth_id = ? AND r.status = 'waiting'",
        (booth_id,),
    )
    return {
        r["id"]: {"transferred_from": r["from_booth"], "transfer_note": r["transfer_note"]}
        for r in rows
    }


async def transfer_targets(db: Database, own_booth_id: int) -> list[dict[str, Any]]:
    """The booths (and their advisors) an advisor can hand a candidate to: every booth in
    the hall but their own that the moderator has not closed."""
    booth_rows = await db.fetchall(
        "SELECT id, name FROM booths WHERE removed_at IS NULL AND closed = 0 AND id != ? "
        "ORDER BY position, name",
        (own_booth_id,),
    )
    advisor_rows = await db.fetchall(
        "SELECT id, name, booth_id FROM staff WHERE role = 'advisor' AND active = 1 "
        "AND status != 'offline' AND booth_id IS NOT NULL"
    )
    advisor_rows = names.sorted_by_name(advisor_rows)
    return [
        {
            "id": b["id"],
            "name": b["name"],
            "advisors": [
                {"id": a["id"], "name": a["name"]} for a in advisor_rows if a["booth_id"] == b["id"]
            ],
        }
        for b in booth_rows
    ]
