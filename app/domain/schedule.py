"""Administration of the schedule: per booth and event day, blocks from a start to an end,
optionally with one advisor of that booth. The hall's "open now / opens at" is read from
these blocks (``app.domain.booths.opening``).

A block lies within the opening hours of its day; an advisor is in one block at a time
(across booths too).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.core.errors import DomainError, ValidationError
from app.domain import audit
from app.domain.event_setup import Fields
from app.storage.db import Database


@dataclass(frozen=True)
class Block:
    id: int
    booth_id: int
    staff_id: int | None
    staff_name: str
    day: str
    starts: str
    ends: str


async def blocks_of(db: Database, booth_id: int) -> list[Block]:
    rows = await db.fetchall(
        "SELECT s.id, s.booth_id, s.staff_id, COALESCE(st.name, '') AS staff_name, s.day, "
        "s.starts, s.ends FROM schedule s LEFT JOIN staff st ON st.id = s.staff_id "
        "WHERE s.booth_id = ? ORDER BY s.day, s.starts, s.ends, s.id",
        (booth_id,),
    )
    return [Block(**dict(r)) for r in rows]


async def add(
    db: Database, booth_id: int, data: Mapping[str, str], *, actor: int | None, now: float
) -> int:
    f = Fields(data)
    day = f.day("day")
    starts = f.clock("starts")
    ends = f.clock("ends", end=True)
    if "starts" not in f.errors and "ends" not in f.errors and starts >= ends:
        f.fail("ends", "input.time_order")
    advisor_text = f.raw("staff_id")
    f.done()
    assert day is not None
    key = day.isoformat()
    async with db.transaction() as tx:
        booth = await tx.fetchone(
            "SELECT id FROM booths WHERE id = ? AND removed_at IS NULL", (booth_id,)
        )
        if booth is None:
            raise DomainError("booth.not_found")
        hours = await tx.fetchone("SELECT opens, closes FROM event_days WHERE day = ?", (key,))
        if hours is None:
            raise ValidationError({"day": DomainError("day.not_found", field="day")})
        if starts < hours["opens"] or ends > hours["closes"]:
            error = DomainError(
                "slot.outside_day", field="starts", opens=hours["opens"], closes=hours["closes"]
            )
            raise ValidationError({"starts": error})
        staff_id = None
        if advisor_text:
            advisor = None
            if advisor_text.isdigit() and len(advisor_text) < 16:
                advisor = await tx.fetchone(
                    "SELECT id FROM staff WHERE id = ? AND booth_id = ? AND role = 'advisor' "
                    "AND active = 1",
                    (int(advisor_text), booth_id),
                )
            if advisor is None:
                raise ValidationError(
                    {"staff_id": DomainError("advisor.not_found", field="staff_id")}
                )
            staff_id = int(advisor["id"])
            clash = await tx.fetchone(
                "SELECT starts, ends FROM schedule WHERE staff_id = ? AND day = ? "
                "AND starts < ? AND ends > ?",
                (staff_id, key, ends, starts),
            )
            if clash is not None:
                error = DomainError(
                    "slot.overlap", field="staff_id", starts=clash["starts"], ends=clash["ends"]
                )
                raise ValidationError({"staff_id": error})
        slot_id = await tx.insert(
            "INSERT INTO schedule (booth_id, staff_id, day, starts, ends) VALUES (?, ?, ?, ?, ?)",
            (booth_id, staff_id, key, starts, ends),
        )
        await audit.record(
            tx,
            staff_id=actor,
            action="schedule.add",
            subject=f"booth:{booth_id}",
            detail=audit.Detail(
                "slot", {"day": key, "starts": starts, "ends": ends, "advisor": staff_id}
            ),
            at=now,
        )
    return slot_id


async def remove(db: Database, slot_id: int, *, actor: int | None, now: float) -> int:
    """Remove a block; returns its booth."""
    async with db.transaction() as tx:
        row = await tx.fetchone(
            "DELETE FROM schedule WHERE id = ? RETURNING booth_id, day, starts, ends", (slot_id,)
        )
        if row is None:
            raise DomainError("slot.not_found")
        await audit.record(
            tx,
            staff_id=actor,
            action="schedule.remove",
            subject=f"booth:{row['booth_id']}",
            detail=audit.Detail(
                "slot",
                {"day": row["day"], "starts": row["starts"], "ends": row["ends"], "advisor": None},
            ),
            at=now,
        )
    return int(row["booth_id"])


async def blocks_per_day(db: Database) -> dict[str, int]:
    """How many blocks each event day holds, all booths together (removing a day removes
    them too); a day without blocks is left out."""
    rows = await db.fetchall("SELECT day, COUNT(*) FROM schedule GROUP BY day")
    return {str(row[0]): int(row[1]) for row in rows}
