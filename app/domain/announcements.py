"""Announcements: a short message from the moderator to everyone in the hall, or to the
advisors only, live until the moderator ends it.

Who sees what is decided here, on the server: candidates and anonymous visitors only ever get
announcements for everyone; advisors and moderators get those for the advisors too. Every
announcement made or ended is written to the audit log in the same transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from app.core.errors import DomainError, ValidationError
from app.domain import audit
from app.domain.event import Event
from app.storage.db import Database, Transaction

AUDIENCES = ("all", "advisors")
# Longest text, in characters: a banner is read at a glance, on a phone too.
TEXT_MAX = 280
# At most this many at once: more would push the page itself out of sight.
LIVE_MAX = 5
# How many characters of its text name an announcement in a list or the audit log: enough
# to recognise it, short enough for a table cell on a phone.
NAME_MAX = 40
# Line breaks and tabs are text; other control characters are not.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Announcement:
    id: int
    audience: str
    text: str
    created_at: float
    created_by: int | None
    created_by_name: str
    ended_at: float | None
    ended_by: int | None
    ended_by_name: str

    @property
    def live(self) -> bool:
        return self.ended_at is None

    @property
    def name(self) -> str:
        return short_name(self.text)


def short_name(text: str, limit: int = NAME_MAX) -> str:
    """What an announcement is called where it is listed: the start of its text, on one
    line, cut at a word when it is longer than ``limit`` (plain text: the page escapes it).
    A moderator recognises "Om 15:00 begint de pauze…" where "announcement 7" says nothing."""
    words = " ".join(text.split())
    if len(words) <= limit:
        return words
    # Cut after the last whole word that fits (the character after the limit may be the
    # space that ends it); a word is only broken when it is most of the limit by itself.
    space = words[: limit + 1].rfind(" ")
    cut = words[:space] if space >= limit // 2 else words[:limit]
    return cut.rstrip(" ,.;:!?-–") + "…"


def audiences_for(role: str) -> tuple[str, ...]:
    """The audiences whose announcements a role may see."""
    return AUDIENCES if role in ("advisor", "moderator") else ("all",)


def view(announcement: Announcement) -> dict[str, Any]:
    """What a client is told of a live announcement: no more than it shows."""
    return {
        "id": announcement.id,
        "audience": announcement.audience,
        "text": announcement.text,
        "created_at": announcement.created_at,
    }


def check_text(text: str) -> str:
    """The text as it is kept: line breaks as ``\\n``, no spaces around it."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        raise ValidationError({"text": DomainError("input.required", field="text")})
    if len(text) > TEXT_MAX:
        raise ValidationError({"text": DomainError("input.too_long", field="text", max=TEXT_MAX)})
    if _CONTROL.search(text):
        raise ValidationError({"text": DomainError("input.invalid", field="text")})
    return text


def check_audience(audience: str) -> str:
    if audience not in AUDIENCES:
        raise ValidationError({"audience": DomainError("input.bad_choice", field="audience")})
    return audience


_SELECT = (
    "SELECT a.id, a.audience, a.text, a.created_at, a.created_by, "
    "COALESCE(c.name, '') AS created_by_name, a.ended_at, a.ended_by, "
    "COALESCE(e.name, '') AS ended_by_name FROM announcements a "
    "LEFT JOIN staff c ON c.id = a.created_by LEFT JOIN staff e ON e.id = a.ended_by"
)


def _from_row(row: Any) -> Announcement:
    return Announcement(**dict(row))


async def get_announcement(db: Database | Transaction, announcement_id: int) -> Announcement | None:
    row = await db.fetchone(f"{_SELECT} WHERE a.id = ?", (announcement_id,))
    return None if row is None else _from_row(row)


async def live_announcements(
    db: Database | Transaction, audiences: tuple[str, ...] = AUDIENCES
) -> list[Announcement]:
    """The announcements not ended yet, for these audiences, newest first."""
    marks = ", ".join("?" for _ in audiences)
    rows = await db.fetchall(
        f"{_SELECT} WHERE a.ended_at IS NULL AND a.audience IN ({marks}) ORDER BY a.id DESC",
        tuple(audiences),
    )
    return [_from_row(row) for row in rows]


def start_of_day(event: Event, now: float) -> float:
    """Midnight of today in the event's time zone, as a timestamp."""
    today = event.local(now).date()
    return datetime.combine(today, time(0), event.zone).timestamp()


async def ended_today(db: Database, event: Event, now: float) -> list[Announcement]:
    """The announcements ended since midnight (the event's time zone), last ended first."""
    rows = await db.fetchall(
        f"{_SELECT} WHERE a.ended_at >= ? ORDER BY a.ended_at DESC, a.id DESC",
        (start_of_day(event, now),),
    )
    return [_from_row(row) for row in rows]


async def create(
    db: Database, *, staff_id: int, audience: str, text: str, now: float
) -> tuple[Announcement, bool]:
    """Make an announcement live. The same text to the same audience while it is live is
    the same announcement (a double click makes one): it is returned with ``False``."""
    errors: dict[str, DomainError] = {}
    try:
        text = check_text(text)
    except ValidationError as error:
        errors.update(error.errors)
    try:
        audience = check_audience(audience)
    except ValidationError as error:
        errors.update(error.errors)
    if errors:
        raise ValidationError(errors)
    async with db.transaction() as tx:
        same = await tx.fetchone(
            "SELECT id FROM announcements WHERE ended_at IS NULL AND audience = ? AND text = ?",
            (audience, text),
        )
        if same is not None:
            found = await get_announcement(tx, int(same["id"]))
            assert found is not None
            return found, False
        live = await tx.fetchone("SELECT COUNT(*) AS n FROM announcements WHERE ended_at IS NULL")
        if live is not None and int(live["n"]) >= LIVE_MAX:
            raise DomainError("announcement.too_many", max=LIVE_MAX)
        announcement_id = await tx.insert(
            "INSERT INTO announcements (audience, text, created_at, created_by) "
            "VALUES (?, ?, ?, ?)",
            (audience, text, now, staff_id),
        )
        await audit.record(
            tx,
            staff_id=staff_id,
            action="announcement.create",
            subject=f"announcement:{announcement_id}",
            detail=audit.Detail("announcement", {"audience": audience, "text": text}),
            at=now,
        )
        created = await get_announcement(tx, announcement_id)
    assert created is not None
    return created, True


async def end(db: Database, *, staff_id: int, announcement_id: int, now: float) -> Announcement:
    """End a live announcement: it leaves every page."""
    async with db.transaction() as tx:
        found = await get_announcement(tx, announcement_id)
        if found is None:
            raise DomainError("announcement.not_found")
        if found.ended_at is not None:
            raise DomainError("announcement.ended")
        await tx.execute(
            "UPDATE announcements SET ended_at = ?, ended_by = ? WHERE id = ? AND ended_at IS NULL",
            (now, staff_id, announcement_id),
        )
        await audit.record(
            tx,
            staff_id=staff_id,
            action="announcement.end",
            subject=f"announcement:{announcement_id}",
            at=now,
        )
        ended = await get_announcement(tx, announcement_id)
    assert ended is not None
    return ended
