"""A candidate's rating of a conversation (1-5 and an optional comment), given after it
ended. One rating per conversation, only by the candidate who had it; a second rating of
the same conversation is refused kindly (``feedback.already_given``) and changes nothing.

The candidate sees the rating they gave in their own state; the report and the dashboard
show ratings per booth, never who gave which comment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.core.errors import DomainError, ValidationError
from app.storage.db import Database

RATING_MIN = 1
RATING_MAX = 5
COMMENT_MAX = 1000


@dataclass(frozen=True)
class Feedback:
    conversation_id: int
    rating: int
    comment: str
    created_at: float


def check(rating: int, comment: str) -> tuple[int, str]:
    """The rating and the comment as stored: a whole number 1-5, the comment trimmed with
    one character per line break, at most ``COMMENT_MAX`` characters."""
    errors: dict[str, DomainError] = {}
    if isinstance(rating, bool) or not RATING_MIN <= rating <= RATING_MAX:
        errors["rating"] = DomainError(
            "input.number_range", field="rating", min=RATING_MIN, max=RATING_MAX
        )
    comment = comment.replace("\r\n", "\n").strip()
    if len(comment) > COMMENT_MAX:
        errors["comment"] = DomainError("input.too_long", field="comment", max=COMMENT_MAX)
    if errors:
        raise ValidationError(errors)
    return rating, comment


async def rate(
    db: Database, *, candidate_id: int, conversation_id: int, rating: int, comment: str, now: float
) -> Feedback:
    """Store the candidate's rating of their own ended conversation."""
    rating, comment = check(rating, comment)
    async with db.transaction() as tx:
        row = await tx.fetchone(
            "SELECT candidate_id, ended_at, no_show_at FROM conversations WHERE id = ?",
            (conversation_id,),
        )
        # Someone else's conversation is refused as if it did not exist.
        if row is None or row["candidate_id"] != candidate_id:
            raise DomainError("conversation.not_found")
        if row["ended_at"] is None:
            raise DomainError("feedback.not_ended")
        # The candidate never came: there was no conversation to rate.
        if row["no_show_at"] is not None:
            raise DomainError("feedback.no_show")
        given = await tx.fetchone(
            "SELECT 1 FROM feedback WHERE conversation_id = ?", (conversation_id,)
        )
        if given is not None:
            raise DomainError("feedback.already_given")
        await tx.insert(
            "INSERT INTO feedback (conversation_id, rating, comment, created_at) "
            "VALUES (?, ?, ?, ?)",
            (conversation_id, rating, comment, now),
        )
    return Feedback(conversation_id, rating, comment, now)


async def for_candidate(db: Database, candidate_id: int) -> dict[str, Any] | None:
    """The candidate's last ended conversation and the rating they gave it (``rating``
    None while not yet rated); None when they have had no conversation that ended."""
    return (await for_candidates(db, [candidate_id]))[candidate_id]


async def for_candidates(
    db: Database, candidate_ids: list[int]
) -> dict[int, dict[str, Any] | None]:
    """``for_candidate`` for many candidates in one read (every waiting candidate of a booth
    whose state is pushed)."""
    found: dict[int, dict[str, Any] | None] = dict.fromkeys(candidate_ids)
    if not candidate_ids:
        return found
    marks = ", ".join("?" * len(candidate_ids))
    rows = await db.fetchall(
        "SELECT c.candidate_id, c.id AS conversation_id, b.name AS booth_name, f.rating, "
        "COALESCE(f.comment, '') AS comment FROM conversations c "
        "JOIN booths b ON b.id = c.booth_id LEFT JOIN feedback f ON f.conversation_id = c.id "
        f"WHERE c.candidate_id IN ({marks}) AND c.ended_at IS NOT NULL "
        "AND c.no_show_at IS NULL ORDER BY c.ended_at DESC, c.id DESC",
        tuple(candidate_ids),
    )
    for row in rows:
        candidate_id = int(row["candidate_id"])
        if found[candidate_id] is None:  # the first row is the last conversation
            found[candidate_id] = {
                "conversation_id": row["conversation_id"],
                "booth_name": row["booth_name"],
                "rating": row["rating"],
                "comment": row["comment"],
                "comment_max": COMMENT_MAX,
            }
    return found
