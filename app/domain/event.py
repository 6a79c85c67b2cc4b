"""The event: name, days with opening hours, time zone, conversation length, video settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from app.storage.db import Database, Transaction

# builtin: the call runs on the hall's own call page (app.domain.calls); jitsi: a fresh room on a
# Jitsi-compatible server; personal: each advisor's own meeting link.
VIDEO_PROVIDERS = ("builtin", "jitsi", "personal")


@dataclass(frozen=True)
class Event:
    name: str
    timezone: str
    conversation_seconds: int
    warning_seconds: int
    video_provider: str
    video_base_url: str
    # Opened and closed by the moderator, on top of the opening hours.
    is_open: bool = True
    # A wait, or a conversation's overtime, past these raises an alert on the dashboard.
    wait_alert_seconds: int = 600
    overtime_alert_seconds: int = 180

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local(self, timestamp: float) -> datetime:
        return datetime.fromtimestamp(timestamp, self.zone)


@dataclass(frozen=True)
class EventDay:
    day: date
    opens: str
    closes: str


class EventMissing(Exception):
    """The database holds no event yet: run ``inzoomen serve --demo`` or create one."""


async def load_event(db: Database) -> Event:
    row = await db.fetchone(
        "SELECT name, timezone, conversation_seconds, warning_seconds, video_provider, "
        "video_base_url, is_open, wait_alert_seconds, overtime_alert_seconds "
        "FROM event WHERE id = 1"
    )
    if row is None:
        raise EventMissing("no event is configured in this database")
    values = dict(row)
    values["is_open"] = bool(values["is_open"])
    return Event(**values)


async def has_event(db: Database) -> bool:
    return bool(await db.fetchvalue("SELECT COUNT(*) FROM event") == 1)


async def save_event(tx: Transaction, event: Event) -> None:
    if event.video_provider not in VIDEO_PROVIDERS:
        raise ValueError(f"video_provider must be one of {VIDEO_PROVIDERS}")
    ZoneInfo(event.timezone)  # raises for an unknown zone
    await tx.execute(
        "INSERT INTO event (id, name, timezone, conversation_seconds, warning_seconds, "
        "video_provider, video_base_url, is_open, wait_alert_seconds, overtime_alert_seconds) "
        "VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET name = excluded.name, timezone = excluded.timezone, "
        "conversation_seconds = excluded.conversation_seconds, "
        "warning_seconds = excluded.warning_seconds, video_provider = excluded.video_provider, "
        "video_base_url = excluded.video_base_url, is_open = excluded.is_open, "
        "wait_alert_seconds = excluded.wait_alert_seconds, "
        "overtime_alert_seconds = excluded.overtime_alert_seconds",
        (
            event.name,
            event.timezone,
            event.conversation_seconds,
            event.warning_seconds,
            event.video_provider,
            event.video_base_url,
            int(event.is_open),
            event.wait_alert_seconds,
            event.overtime_alert_seconds,
        ),
    )


async def add_day(tx: Transaction, day: date, opens: str, closes: str) -> None:
    await tx.execute(
        "INSERT INTO event_days (day, opens, closes) VALUES (?, ?, ?) "
        "ON CONFLICT (day) DO UPDATE SET opens = excluded.opens, closes = excluded.closes",
        (day.isoformat(), opens, closes),
    )


async def event_days(db: Database) -> list[EventDay]:
    rows = await db.fetchall("SELECT day, opens, closes FROM event_days ORDER BY day")
    return [EventDay(date.fromisoformat(r["day"]), r["opens"], r["closes"]) for r in rows]


async def ensure_event(db: Database) -> None:
    """A database without an event gets a default one, so the hall can start empty."""
    async with db.transaction() as tx:
        exists = await tx.fetchone("SELECT 1 FROM event WHERE id = 1")
        if exists is None:
            await save_event(
                tx,
                Event(
                    name="Inzoomen",
                    timezone="Europe/Amsterdam",
                    conversation_seconds=600,
                    warning_seconds=120,
                    video_provider="builtin",
                    video_base_url="https://meet.jit.si",
                ),
            )
