"""The audit log: who did what, when, for every moderator action.

An entry is written in the same transaction as the change it records, so the log never
claims a change that was rolled back and never misses one that was committed.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.db import Database, Transaction

# Longest ``detail`` kept; a longer one (an announcement's text, say) is cut off.
DETAIL_MAX = 300


@dataclass(frozen=True)
class Entry:
    id: int
    at: float
    staff_id: int | None
    staff_name: str
    action: str
    subject: str
    detail: str


async def record(
    tx: Transaction,
    *,
    staff_id: int | None,
    action: str,
    subject: str = "",
    detail: str = "",
    at: float,
) -> int:
    """Write one entry, inside the transaction that makes the change."""
    if len(detail) > DETAIL_MAX:
        detail = detail[: DETAIL_MAX - 1] + "…"
    return await tx.insert(
        "INSERT INTO audit_log (at, staff_id, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
        (at, staff_id, action, subject, detail),
    )


async def entries(db: Database, *, limit: int = 100, before_id: int | None = None) -> list[Entry]:
    """The newest entries first; ``before_id`` pages back through older ones."""
    sql = (
        "SELECT a.id, a.at, a.staff_id, COALESCE(s.name, '') AS staff_name, a.action, "
        "a.subject, a.detail FROM audit_log a LEFT JOIN staff s ON s.id = a.staff_id"
    )
    params: tuple[object, ...] = ()
    if before_id is not None:
        sql += " WHERE a.id < ?"
        params = (before_id,)
    rows = await db.fetchall(sql + " ORDER BY a.id DESC LIMIT ?", (*params, limit))
    return [Entry(**dict(r)) for r in rows]
