"""An advisor's live status: available, in conversation, wrapping up, paused, offline."""

from __future__ import annotations

from app.core.errors import DomainError
from app.core.i18n import N_
from app.domain.accounts import Staff, get_staff
from app.storage.db import Database, Transaction

STATUSES = {
    "available": N_("Beschikbaar"),
    "in_conversation": N_("In gesprek"),
    "wrapping_up": N_("Rondt af"),
    "paused": N_("Pauze"),
    "offline": N_("Niet aanwezig"),
}
# Statuses in which an advisor is at the booth and will take requests (now or soon).
PRESENT = ("available", "in_conversation", "wrapping_up")
# Statuses an advisor may choose by hand; "in conversation" and "wrapping up" follow a call.
CHOOSABLE = ("available", "paused", "offline")


async def set_status(db: Database, advisor_id: int, status: str, now: float) -> Staff:
    """Change an advisor's status by their own choice. Refused during a conversation."""
    if status not in CHOOSABLE:
        raise DomainError("advisor.bad_status", field="status")
    async with db.transaction() as tx:
        changed = await tx.execute(
            "UPDATE staff SET status = ?, wrap_up_until = NULL, "
            "status_since = CASE WHEN status = ? THEN status_since ELSE ? END "
            "WHERE id = ? AND role = 'advisor' AND status != 'in_conversation'",
            (status, status, now, advisor_id),
        )
        if changed == 0:
            raise DomainError("advisor.busy")
        staff = await get_staff(tx, advisor_id)
    assert staff is not None
    return staff


async def start_wrap_up(tx: Transaction, advisor_id: int, now: float, seconds: int) -> None:
    await tx.execute(
        "UPDATE staff SET status = 'wrapping_up', status_since = ?, wrap_up_until = ? WHERE id = ?",
        (now, now + seconds, advisor_id),
    )


async def finish_wrap_ups_due(db: Database, now: float) -> list[Staff]:
    """Advisors whose wrap-up time is over become available again."""
    async with db.transaction() as tx:
        rows = await tx.fetchall(
            "UPDATE staff SET status = 'available', status_since = ?, wrap_up_until = NULL "
            "WHERE status = 'wrapping_up' AND wrap_up_until <= ? RETURNING id",
            (now, now),
        )
        done = [await get_staff(tx, r["id"]) for r in rows]
    return [s for s in done if s is not None]


async def next_wrap_up_end(db: Database) -> float | None:
    value = await db.fetchvalue("SELECT MIN(wrap_up_until) FROM staff WHERE status = 'wrapping_up'")
    return None if value is None else float(value)
