"""Advisor notes (notities): one text per conversation, private to the advisors of the
conversation's booth and the moderator. The candidate never sees them.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.errors import DomainError, ValidationError
from app.storage.db import Database, Transaction

NOTES_MAX = 5000


@dataclass(frozen=True)
class ConversationNotes:
    conversation_id: int
    booth_id: int
    booth_name: str
    advisor_name: str
    candidate_name: str
    started_at: float
    ended_at: float | None
    notes: str
    notes_at: float | None
    notes_by_name: str


def may_read(role: str, viewer_booth_id: int | None, booth_id: int) -> bool:
    """Advisors of the conversation's booth and moderators read notes; nobody else."""
    if role == "moderator":
        return True
    return role == "advisor" and viewer_booth_id == booth_id


def check_notes(text: str) -> str:
    text = text.replace("\r\n", "\n").strip()
    if len(text) > NOTES_MAX:
        raise ValidationError(
            {"notes": DomainError("input.too_long", field="notes", max=NOTES_MAX)}
        )
    return text


async def read_notes(db: Database | Transaction, conversation_id: int) -> ConversationNotes | None:
    row = await db.fetchone(
        "SELECT c.id AS conversation_id, c.booth_id, b.name AS booth_name, "
        "s.name AS advisor_name, k.name AS candidate_name, c.started_at, c.ended_at, c.notes, "
        "c.notes_at, COALESCE(w.name, '') AS notes_by_name FROM conversations c "
        "JOIN booths b ON b.id = c.booth_id JOIN staff s ON s.id = c.advisor_id "
        "JOIN candidates k ON k.id = c.candidate_id LEFT JOIN staff w ON w.id = c.notes_by "
        "WHERE c.id = ?",
        (conversation_id,),
    )
    return None if row is None else ConversationNotes(**dict(row))


async def notes_for(
    db: Database, conversation_id: int, *, role: str, booth_id: int | None
) -> ConversationNotes:
    """The notes of a conversation for a viewer; refused the same way whether the
    conversation exists elsewhere or not at all, so ids of other booths reveal nothing."""
    notes = await read_notes(db, conversation_id)
    if notes is None or not may_read(role, booth_id, notes.booth_id):
        raise DomainError("conversation.not_found")
    return notes


async def save_notes(
    db: Database, *, advisor_id: int, booth_id: int, conversation_id: int, text: str, now: float
) -> ConversationNotes:
    """Replace the notes of a conversation of the advisor's booth (running or ended)."""
    text = check_notes(text)
    async with db.transaction() as tx:
        changed = await tx.execute(
            "UPDATE conversations SET notes = ?, notes_at = ?, notes_by = ? "
            "WHERE id = ? AND booth_id = ?",
            (text, now, advisor_id, conversation_id, booth_id),
        )
        if not changed:
            raise DomainError("conversation.not_found")
        notes = await read_notes(tx, conversation_id)
    assert notes is not None
    return notes


async def booth_conversations(
    db: Database, booth_id: int, limit: int = 20
) -> list[dict[str, object]]:
    """The booth's most recent conversations, for its advisors to find their notes."""
    rows = await db.fetchall(
        "SELECT c.id, c.started_at, c.ended_at, s.name AS advisor_name, "
        "k.name AS candidate_name, c.notes != '' AS has_notes FROM conversations c "
        "JOIN staff s ON s.id = c.advisor_id JOIN candidates k ON k.id = c.candidate_id "
        "WHERE c.booth_id = ? ORDER BY c.started_at DESC, c.id DESC LIMIT ?",
        (booth_id, limit),
    )
    return [dict(r) for r in rows]
