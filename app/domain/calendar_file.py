"""A follow-up appointment as an RFC 5545 calendar file (``.ics``), made with icalendar.

One VEVENT per file, with a UID that stays the same for the life of the appointment and a
SEQUENCE that is the follow-up's ``sequence`` (raised on every change): a calendar program
that imported an earlier version replaces it instead of adding a second appointment. Start
and end are written in the event's time zone, with its VTIMEZONE, so the appointment lands
at the right hour whatever the reader's own zone. A cancelled appointment keeps its UID and
carries STATUS:CANCELLED.

The file is published (METHOD:PUBLISH), both for the download and in the e-mails: the hall
does not take part in calendar invitations (no organiser who receives replies), it tells the
candidate where to be. Every calendar program imports a published event; importing a later
version (higher SEQUENCE) updates it.
"""

from __future__ import annotations

from contextvars import copy_context
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar
from icalendar import Event as CalendarEvent

from app.core.i18n import DEFAULT_LANGUAGE, set_language
from app.core.i18n import gettext as _
from app.storage.db import Database, Transaction

PRODID = "-//Inzoomen//Vervolgafspraak//NL"
UID_DOMAIN = "inzoomen"
METHODS = ("PUBLISH",)


class FollowUpMissing(LookupError):
    """No follow-up with this id."""


FOLLOW_UP_QUERY = (
    "SELECT f.id, f.booth_id, f.advisor_id, f.candidate_id, f.starts_at, f.minutes, f.mode, "
    "f.location, f.message, f.status, f.created_at, f.sequence, f.updated_at, "
    "f.candidate_message, f.reminded_at, b.name AS booth, b.slug AS booth_slug, "
    "a.name AS advisor, a.email AS advisor_email, c.name AS candidate, "
    "c.email AS candidate_email, c.erased_at AS candidate_erased_at, "
    "e.name AS event, e.timezone "
    "FROM follow_ups f JOIN booths b ON b.id = f.booth_id "
    "JOIN candidates c ON c.id = f.candidate_id "
    "LEFT JOIN staff a ON a.id = f.advisor_id "
    "JOIN event e ON e.id = 1 WHERE f.id = ?"
)


async def load_follow_up(db: Database | Transaction, follow_up_id: int) -> dict[str, Any]:
    """Everything about one follow-up that a calendar file or a mail needs."""
    row = await db.fetchone(FOLLOW_UP_QUERY, (follow_up_id,))
    if row is None:
        raise FollowUpMissing(follow_up_id)
    return dict(row)


def uid(follow_up: dict[str, Any]) -> str:
    return f"follow-up-{follow_up['id']}-{int(follow_up['created_at'])}@{UID_DOMAIN}"


def how_to_join(follow_up: dict[str, Any]) -> str:
    """One line on how the candidate joins (in the current language)."""
    location = follow_up["location"]
    if follow_up["mode"] == "video":
        return _("Videogesprek via deze link: %(link)s", link=location)
    if follow_up["mode"] == "phone":
        return _("Telefoongesprek: %(phone)s", phone=location)
    return _("Op locatie: %(address)s", address=location)


def summary(follow_up: dict[str, Any]) -> str:
    return _("Vervolgafspraak met %(booth)s", booth=follow_up["booth"])


def description(follow_up: dict[str, Any]) -> str:
    lines = [how_to_join(follow_up)]
    if follow_up["advisor"]:
        lines.append(_("Met: %(advisor)s", advisor=follow_up["advisor"]))
    if follow_up["message"]:
        lines += ["", follow_up["message"]]
    return "\n".join(lines)


def _build(follow_up: dict[str, Any], method: str) -> bytes:
    set_language(DEFAULT_LANGUAGE)
    zone = ZoneInfo(follow_up["timezone"])
    starts = datetime.fromtimestamp(follow_up["starts_at"], zone)
    stamp = follow_up["updated_at"] or follow_up["created_at"]
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    entry = CalendarEvent()
    entry.add("uid", uid(follow_up))
    entry.add("dtstamp", datetime.fromtimestamp(stamp, UTC))
    entry.add("created", datetime.fromtimestamp(follow_up["created_at"], UTC))
    entry.add("last-modified", datetime.fromtimestamp(stamp, UTC))
    entry.add("dtstart", starts)
    entry.add("dtend", starts + timedelta(minutes=follow_up["minutes"]))
    entry.add("sequence", int(follow_up["sequence"]))
    entry.add("summary", summary(follow_up))
    if follow_up["location"]:
        entry.add("location", follow_up["location"])
    entry.add("description", description(follow_up))
    if follow_up["mode"] == "video" and follow_up["location"].startswith(("https://", "http://")):
        entry.add("url", follow_up["location"])
    entry.add("status", "CANCELLED" if follow_up["status"] == "cancelled" else "CONFIRMED")
    entry.add("transp", "OPAQUE")
    calendar.add_component(entry)
    calendar.add_missing_timezones()
    return bytes(calendar.to_ical())


def build_ics(follow_up: dict[str, Any], method: str = "PUBLISH") -> bytes:
    """The calendar file of a loaded follow-up; its texts are in the hall's language."""
    if method not in METHODS:
        raise ValueError(f"unsupported calendar method: {method!r}")
    return copy_context().run(_build, follow_up, method)


async def follow_up_ics(db: Database | Transaction, follow_up_id: int) -> bytes:
    """The ``.ics`` file of one follow-up; FollowUpMissing when there is none."""
    return build_ics(await load_follow_up(db, follow_up_id))


def file_name(follow_up_id: int) -> str:
    return f"afspraak-{follow_up_id}.ics"
