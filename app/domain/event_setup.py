"""Administration of the event: its settings and its days with opening hours; and the field
checks every administration form shares (text, whole numbers, choices, https addresses,
HH:MM times, dates).

Every change is one transaction that writes its audit entry with it; bad input raises a
``ValidationError`` naming each wrong field, and then nothing is changed.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from urllib.parse import urlsplit

from app.core.errors import DomainError, ValidationError
from app.domain import audit
from app.domain.event import VIDEO_PROVIDERS, Event, load_event
from app.storage.db import Database

_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
URL_MAX = 300
NAME_MAX = 100


@cache
def timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def https_url_ok(value: str) -> bool:
    """An absolute https address with a host, no spaces or control characters."""
    if len(value) > URL_MAX or not value.isprintable() or any(c.isspace() for c in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme == "https" and bool(parts.hostname) and "\\" not in value


def clock_ok(value: str, *, end: bool = False) -> bool:
    """HH:MM on a 24-hour clock; an end of the day may be written 24:00."""
    return bool(_CLOCK.match(value)) or (end and value == "24:00")


class Fields:
    """Reads one form's fields, collecting an error per wrong field; ``done`` raises them."""

    def __init__(self, data: Mapping[str, str]) -> None:
        self.data = data
        self.errors: dict[str, DomainError] = {}

    def raw(self, name: str) -> str:
        value = self.data.get(name, "")
        return value.replace("\r\n", "\n").strip() if isinstance(value, str) else ""

    def fail(self, name: str, code: str, **params: object) -> None:
        self.errors.setdefault(name, DomainError(code, field=name, **params))

    def text(self, name: str, *, max_len: int, required: bool = True) -> str:
        value = self.raw(name)
        if required and not value:
            self.fail(name, "input.required")
        elif len(value) > max_len:
            self.fail(name, "input.too_long", max=max_len)
        elif "\x00" in value:
            self.fail(name, "input.invalid")
        return value

    def integer(self, name: str, low: int, high: int) -> int:
        value = self.raw(name)
        if not value:
            self.fail(name, "input.required")
            return low
        if not (value.isascii() and value.isdigit() and len(value) < 10) or not (
            low <= int(value) <= high
        ):
            self.fail(name, "input.number_range", min=low, max=high)
            return low
        return int(value)

    def choice(self, name: str, choices: Mapping[str, object] | tuple[str, ...]) -> str:
        value = self.raw(name)
        if not value:
            self.fail(name, "input.required")
        elif value not in choices:
            self.fail(name, "input.bad_choice")
        return value

    def https_url(self, name: str, *, required: bool) -> str:
        value = self.raw(name)
        if not value:
            if required:
                self.fail(name, "input.required")
        elif not https_url_ok(value):
            self.fail(name, "input.https_url")
        return value

    def clock(self, name: str, *, end: bool = False) -> str:
        value = self.raw(name)
        if not value:
            self.fail(name, "input.required")
        elif not clock_ok(value, end=end):
            self.fail(name, "input.clock")
        return value

    def day(self, name: str) -> date | None:
        value = self.raw(name)
        if not value:
            self.fail(name, "input.required")
            return None
        try:
            if len(value) != 10:
                raise ValueError(value)
            return date.fromisoformat(value)
        except ValueError:
            self.fail(name, "input.date")
            return None

    def done(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)


# -- the event's settings -------------------------------------------------------------------

CONVERSATION_MINUTES = (1, 120)
WARNING_MINUTES = (0, 60)
ALERT_MINUTES = (1, 240)


@dataclass(frozen=True)
class Settings:
    """The event's settings as the form shows them (times in minutes)."""

    name: str
    timezone: str
    conversation_minutes: int
    warning_minutes: int
    video_provider: str
    video_base_url: str
    wait_alert_minutes: int
    overtime_alert_minutes: int

    @classmethod
    def of(cls, event: Event) -> Settings:
        def minutes(seconds: int) -> int:
            return max(1, -(-seconds // 60)) if seconds else 0

        return cls(
            name=event.name,
            timezone=event.timezone,
            conversation_minutes=minutes(event.conversation_seconds),
            warning_minutes=minutes(event.warning_seconds),
            video_provider=event.video_provider,
            video_base_url=event.video_base_url,
            wait_alert_minutes=minutes(event.wait_alert_seconds),
            overtime_alert_minutes=minutes(event.overtime_alert_seconds),
        )


def check_settings(data: Mapping[str, str]) -> Settings:
    f = Fields(data)
    name = f.text("name", max_len=NAME_MAX)
    zone = f.raw("timezone")
    if not zone:
        f.fail("timezone", "input.required")
    elif zone not in timezones():
        f.fail("timezone", "input.timezone")
    conversation = f.integer("conversation_minutes", *CONVERSATION_MINUTES)
    warning = f.integer("warning_minutes", *WARNING_MINUTES)
    if "conversation_minutes" not in f.errors and warning >= conversation:
        f.fail("warning_minutes", "input.warning_too_long")
    provider = f.choice("video_provider", VIDEO_PROVIDERS)
    base_url = f.https_url("video_base_url", required=True)
    wait_alert = f.integer("wait_alert_minutes", *ALERT_MINUTES)
    overtime_alert = f.integer("overtime_alert_minutes", *ALERT_MINUTES)
    f.done()
    return Settings(
        name, zone, conversation, warning, provider, base_url, wait_alert, overtime_alert
    )


async def update_settings(
    db: Database, data: Mapping[str, str], *, staff_id: int | None, now: float
) -> list[str]:
    """Save the event's settings; returns the names of the settings that changed. Whether
    the event is open is not one of them (the moderator opens and closes it elsewhere)."""
    new = check_settings(data)
    async with db.transaction() as tx:
        old = Settings.of(await load_event(db))
        changed = [k for k in new.__dataclass_fields__ if getattr(new, k) != getattr(old, k)]
        await tx.execute(
            "UPDATE event SET name = ?, timezone = ?, conversation_seconds = ?, "
            "warning_seconds = ?, video_provider = ?, video_base_url = ?, "
            "wait_alert_seconds = ?, overtime_alert_seconds = ? WHERE id = 1",
            (
                new.name,
                new.timezone,
                new.conversation_minutes * 60,
                new.warning_minutes * 60,
                new.video_provider,
                new.video_base_url,
                new.wait_alert_minutes * 60,
                new.overtime_alert_minutes * 60,
            ),
        )
        await audit.record(
            tx,
            staff_id=staff_id,
            action="event.settings",
            subject="event",
            detail=audit.Detail("settings_changed", {"fields": changed}),
            at=now,
        )
    return changed


# -- the event's days -----------------------------------------------------------------------


@dataclass(frozen=True)
class DayHours:
    day: date
    opens: str
    closes: str


def check_day(data: Mapping[str, str]) -> DayHours:
    f = Fields(data)
    day = f.day("day")
    opens = f.clock("opens")
    closes = f.clock("closes", end=True)
    if "opens" not in f.errors and "closes" not in f.errors and opens >= closes:
        f.fail("closes", "input.time_order")
    f.done()
    assert day is not None
    return DayHours(day, opens, closes)


async def save_day(
    db: Database, data: Mapping[str, str], *, staff_id: int | None, now: float
) -> tuple[DayHours, bool]:
    """Add a day, or change the opening hours of one; returns it and whether it is new.
    Hours that would leave schedule blocks of that day outside them are refused."""
    hours = check_day(data)
    key = hours.day.isoformat()
    async with db.transaction() as tx:
        existing = await tx.fetchone("SELECT opens, closes FROM event_days WHERE day = ?", (key,))
        outside = await tx.fetchone(
            "SELECT COUNT(*) AS n FROM schedule s JOIN booths b ON b.id = s.booth_id "
            "WHERE s.day = ? AND b.removed_at IS NULL AND (s.starts < ? OR s.ends > ?)",
            (key, hours.opens, hours.closes),
        )
        count = int(outside["n"]) if outside else 0
        if count:
            raise ValidationError(
                {"opens": DomainError("day.slots_outside", field="opens", count=count)}
            )
        await tx.execute(
            "INSERT INTO event_days (day, opens, closes) VALUES (?, ?, ?) "
            "ON CONFLICT (day) DO UPDATE SET opens = excluded.opens, closes = excluded.closes",
            (key, hours.opens, hours.closes),
        )
        await audit.record(
            tx,
            staff_id=staff_id,
            action="event.day_added" if existing is None else "event.day_changed",
            subject=f"day:{key}",
            detail=audit.Detail("hours", {"opens": hours.opens, "closes": hours.closes}),
            at=now,
        )
    return hours, existing is None


async def remove_day(db: Database, day: str, *, staff_id: int | None, now: float) -> int:
    """Remove a day of the event with the schedule blocks on it; returns how many blocks."""
    async with db.transaction() as tx:
        gone = await tx.execute("DELETE FROM event_days WHERE day = ?", (day,))
        if gone != 1:
            raise DomainError("day.not_found")
        blocks = await tx.execute("DELETE FROM schedule WHERE day = ?", (day,))
        await audit.record(
            tx,
            staff_id=staff_id,
            action="event.day_removed",
            subject=f"day:{day}",
            detail=audit.Detail("blocks_removed", {"count": blocks}),
            at=now,
        )
    return blocks
