"""Booths (stands), what they offer, and their schedule: when is a booth open?"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from app.core.i18n import N_
from app.storage.db import Database, Transaction

BOOTH_KINDS = {
    "employer": N_("Werkgever"),
    "school": N_("School"),
    "advice_desk": N_("Adviesloket"),
}

OFFERS = {
    "bbl": N_("BBL (leren en werken)"),
    "bol": N_("BOL (school met stage)"),
    "omscholing": N_("Om- en bijscholing"),
    "praktijkverklaring": N_("Praktijkverklaring"),
    "mbo_certificaat": N_("MBO-certificaat"),
    "vacature": N_("Vacatures"),
    "loopbaanadvies": N_("Loopbaanadvies"),
}

SECTORS = {
    "zorg": N_("Zorg en welzijn"),
    "techniek": N_("Techniek"),
    "bouw": N_("Bouw"),
    "logistiek": N_("Logistiek"),
    "ict": N_("ICT"),
    "onderwijs": N_("Onderwijs"),
    "horeca": N_("Horeca"),
    "retail": N_("Retail"),
    "overheid": N_("Overheid"),
    "groen": N_("Groen"),
    "advies": N_("Advies"),
}


@dataclass(frozen=True)
class Booth:
    id: int
    slug: str
    name: str
    kind: str
    sector: str
    offers: tuple[str, ...]
    description: str
    position: int
    # Closed by the moderator: takes no requests whatever the schedule says.
    closed: bool = False
    link: str = ""


@dataclass(frozen=True)
class Slot:
    booth_id: int
    staff_id: int | None
    day: date
    starts: str
    ends: str


@dataclass(frozen=True)
class Opening:
    """Whether a booth is open at a moment, and if not, when it next opens."""

    open_now: bool
    next_day: date | None = None
    next_time: str | None = None
    closes: str | None = None


def _booth(row: object) -> Booth:
    r = dict(row)  # type: ignore[call-overload]
    offers = tuple(o for o in r.pop("offers").split(",") if o)
    r["closed"] = bool(r["closed"])
    return Booth(offers=offers, **r)


_COLUMNS = "id, slug, name, kind, sector, offers, description, position, closed, link"


async def list_booths(db: Database | Transaction) -> list[Booth]:
    """The booths of the hall, in hall order (a removed booth is no longer in it)."""
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM booths WHERE removed_at IS NULL ORDER BY position, name"
    )
    return [_booth(r) for r in rows]


async def get_booth(
    db: Database | Transaction, booth_id: int, *, removed_too: bool = False
) -> Booth | None:
    sql = f"SELECT {_COLUMNS} FROM booths WHERE id = ?"
    if not removed_too:
        sql += " AND removed_at IS NULL"
    row = await db.fetchone(sql, (booth_id,))
    return None if row is None else _booth(row)


async def create_booth(
    tx: Transaction,
    *,
    slug: str,
    name: str,
    kind: str,
    sector: str,
    offers: tuple[str, ...] = (),
    description: str = "",
    position: int = 0,
) -> int:
    if kind not in BOOTH_KINDS:
        raise ValueError(f"booth kind must be one of {sorted(BOOTH_KINDS)}, got {kind!r}")
    unknown = [o for o in offers if o not in OFFERS]
    if unknown:
        raise ValueError(f"unknown offers {unknown}; known: {sorted(OFFERS)}")
    return await tx.insert(
        "INSERT INTO booths (slug, name, kind, sector, offers, description, position) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (slug, name, kind, sector, ",".join(offers), description, position),
    )


async def add_slot(
    tx: Transaction, booth_id: int, day: date, starts: str, ends: str, staff_id: int | None = None
) -> None:
    await tx.insert(
        "INSERT INTO schedule (booth_id, staff_id, day, starts, ends) VALUES (?, ?, ?, ?, ?)",
        (booth_id, staff_id, day.isoformat(), starts, ends),
    )


async def slots_from(
    db: Database | Transaction, first_day: date, booth_id: int | None = None
) -> list[Slot]:
    """Schedule slots from a day on, of one booth or of all, sorted by day and start."""
    sql = "SELECT booth_id, staff_id, day, starts, ends FROM schedule WHERE day >= ?"
    params: tuple[object, ...] = (first_day.isoformat(),)
    if booth_id is not None:
        sql += " AND booth_id = ?"
        params += (booth_id,)
    rows = await db.fetchall(sql + " ORDER BY day, starts", params)
    return [
        Slot(r["booth_id"], r["staff_id"], date.fromisoformat(r["day"]), r["starts"], r["ends"])
        for r in rows
    ]


def opening(slots: list[Slot], local_now: datetime) -> Opening:
    """Open now, or the next opening, from one booth's slots (sorted by day and start)."""
    today = local_now.date()
    clock = local_now.strftime("%H:%M")
    for slot in slots:
        if slot.day == today and slot.starts <= clock < slot.ends:
            closes = max(s.ends for s in slots if s.day == today and s.starts <= clock)
            return Opening(open_now=True, closes=closes)
    for slot in slots:
        if slot.day > today or (slot.day == today and slot.starts > clock):
            return Opening(open_now=False, next_day=slot.day, next_time=slot.starts)
    return Opening(open_now=False)


def takes_requests(
    opening: Opening, *, present: bool, closed: bool = False, event_open: bool = True
) -> bool:
    """Whether a booth takes requests now: it is open by its schedule, or an advisor is there
    (available, in a conversation, wrapping up) before or after its hours. Never when the
    moderator closed the booth or the whole event. The hall shows a booth as open exactly
    when this holds, so the card never says "opens at nine" while someone can zoom in."""
    if closed or not event_open:
        return False
    return opening.open_now or present


async def with_slots(
    db: Database | Transaction, first_day: date, booth_id: int | None = None
) -> list[tuple[Booth, list[Slot]]]:
    """The booths of the hall in hall order (or the one booth, unless removed), each with its
    schedule slots from a day on, sorted by day and start: one read however many booths, for
    the views that show every booth's opening at once."""
    columns = ", ".join(f"b.{name}" for name in _COLUMNS.split(", "))
    sql = (
        f"SELECT {columns}, s.staff_id AS slot_staff_id, s.day AS slot_day, "
        "s.starts AS slot_starts, s.ends AS slot_ends FROM booths b "
        "LEFT JOIN schedule s ON s.booth_id = b.id AND s.day >= ? WHERE b.removed_at IS NULL"
    )
    params: tuple[object, ...] = (first_day.isoformat(),)
    if booth_id is not None:
        sql += " AND b.id = ?"
        params += (booth_id,)
    # b.id keeps each booth's rows together when two booths share a place and a name.
    rows = await db.fetchall(sql + " ORDER BY b.position, b.name, b.id, s.day, s.starts", params)
    found: dict[int, tuple[Booth, list[Slot]]] = {}
    for row in rows:
        data = dict(row)
        staff_id, day = data.pop("slot_staff_id"), data.pop("slot_day")
        starts, ends = data.pop("slot_starts"), data.pop("slot_ends")
        if data["id"] not in found:
            found[data["id"]] = (_booth(data), [])
        if day is not None:
            found[data["id"]][1].append(
                Slot(data["id"], staff_id, date.fromisoformat(day), starts, ends)
            )
    return list(found.values())
