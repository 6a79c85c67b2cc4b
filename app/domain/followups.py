"""Follow-up appointments (vervolgafspraken): booked by an advisor (or the moderator) during
or after a conversation, seen and changed by the candidate on "Mijn afspraken", moved or
cancelled by the staff who hold them.

A follow-up is held by one advisor, or by a booth (anyone there: ``advisor_id`` NULL). Its
time is a moment in the event's time zone, in the future, for one of ``LENGTHS`` minutes;
an advisor never holds two follow-ups that overlap. The mode says where it happens: a video
link (generated from the event's video provider when none is typed), a phone number (the
candidate's own when none is typed) or an address (always typed).

Every change bumps ``sequence`` and sets ``updated_at`` (a calendar that imported the
appointment replaces it), and queues the mail for it in the same transaction; changes by
staff are written to the audit log in that transaction too. The advisor's notes of the
conversation go with the follow-up to the staff who hold it; the candidate never sees them.

Advisors keep a short list of periods they are available in (``availability``); the booking
form offers free start times from them. Any other time can still be typed in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.core import names
from app.core.errors import DomainError, ValidationError
from app.domain import audit, followup_mail
from app.domain.accounts import get_staff
from app.domain.event import Event
from app.domain.event_setup import https_url_ok
from app.domain.video import appointment_link
from app.storage.db import Database, Transaction

LENGTHS = (15, 20, 30, 45, 60)
DEFAULT_MINUTES = 30
MODES = ("video", "phone", "on_site")
MESSAGE_MAX = 1000
LOCATION_MAX = 300
# How far ahead a follow-up or an availability period may be set.
HORIZON_DAYS = 366
# Availability: periods an advisor keeps at most, the longest one, and the grid of the
# start times offered from them.
AVAILABILITY_MAX = 30
PERIOD_MAX_HOURS = 12
OFFER_STEP_MINUTES = 15
OFFERS_MAX = 16
# A status that still holds the time (a candidate's ask to reschedule keeps it booked).
ACTIVE = ("booked", "reschedule_requested")
_PHONE = re.compile(r"^\+?[0-9 ()-]{6,20}$")
_LOCAL = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})$")

COLUMNS = (
    "f.id, f.conversation_id, f.booth_id, f.advisor_id, f.candidate_id, f.starts_at, "
    "f.minutes, f.mode, f.location, f.message, f.status, f.created_at, f.created_by, "
    "f.sequence, f.updated_at, f.candidate_message, b.name AS booth_name, "
    "COALESCE(s.name, '') AS advisor_name, k.name AS candidate_name"
)
FROM = (
    "FROM follow_ups f JOIN booths b ON b.id = f.booth_id "
    "LEFT JOIN staff s ON s.id = f.advisor_id JOIN candidates k ON k.id = f.candidate_id"
)


@dataclass(frozen=True)
class FollowUp:
    id: int
    conversation_id: int | None
    booth_id: int
    advisor_id: int | None
    candidate_id: int
    starts_at: float
    minutes: int
    mode: str
    location: str
    message: str
    status: str
    created_at: float
    created_by: int | None
    sequence: int
    updated_at: float | None
    candidate_message: str
    booth_name: str
    advisor_name: str
    candidate_name: str

    @property
    def ends_at(self) -> float:
        return self.starts_at + self.minutes * 60


@dataclass(frozen=True)
class Staffer:
    """Who acts on the staff side: an advisor of a booth, or the moderator."""

    id: int
    role: str
    booth_id: int | None


async def _mail(tx: Transaction, follow_up_id: int, kind: str, now: float) -> None:
    """Queue the mail for this change, in the transaction that makes it."""
    await followup_mail.queue_follow_up_mail(tx, follow_up_id, kind, now)


async def _value(db: Database | Transaction, sql: str, params: tuple[Any, ...]) -> Any:
    row = await db.fetchone(sql, params)
    return None if row is None else row[0]


# -- reading ---------------------------------------------------------------------------------


async def get(db: Database | Transaction, follow_up_id: int) -> FollowUp | None:
    row = await db.fetchone(f"SELECT {COLUMNS} {FROM} WHERE f.id = ?", (follow_up_id,))
    return None if row is None else FollowUp(**dict(row))


async def for_candidate(db: Database, candidate_id: int) -> list[FollowUp]:
    """A candidate's appointments, soonest first (cancelled ones too, marked so)."""
    rows = await db.fetchall(
        f"SELECT {COLUMNS} {FROM} WHERE f.candidate_id = ? ORDER BY f.starts_at, f.id",
        (candidate_id,),
    )
    return [FollowUp(**dict(r)) for r in rows]


async def of_candidate(db: Database, candidate_id: int, follow_up_id: int) -> FollowUp:
    """One appointment of this candidate; someone else's is refused as if it did not exist."""
    found = await get(db, follow_up_id)
    if found is None or found.candidate_id != candidate_id:
        raise DomainError("follow_up.not_found")
    return found


async def _conversation_booth(
    db: Database | Transaction, conversation_id: int | None
) -> int | None:
    if conversation_id is None:
        return None
    value = await _value(db, "SELECT booth_id FROM conversations WHERE id = ?", (conversation_id,))
    return None if value is None else int(value)


async def may_manage(db: Database | Transaction, staffer: Staffer, follow_up: FollowUp) -> bool:
    """The moderator, the advisors of the booth that holds the follow-up, and those of the
    booth where it was booked."""
    if staffer.role == "moderator":
        return True
    if staffer.role != "advisor" or staffer.booth_id is None:
        return False
    if staffer.booth_id == follow_up.booth_id:
        return True
    return staffer.booth_id == await _conversation_booth(db, follow_up.conversation_id)


async def for_staff(db: Database, staffer: Staffer, follow_up_id: int) -> dict[str, Any]:
    """A follow-up as the staff who hold it see it, with the notes of the conversation it
    came from; refused alike whether it exists elsewhere or not at all."""
    found = await get(db, follow_up_id)
    if found is None or not await may_manage(db, staffer, found):
        raise DomainError("follow_up.not_found")
    notes = ""
    if found.conversation_id is not None:
        notes = (
            await _value(
                db, "SELECT notes FROM conversations WHERE id = ?", (found.conversation_id,)
            )
            or ""
        )
    return {**view(found), "notes": notes}


def view(f: FollowUp) -> dict[str, Any]:
    """A follow-up as JSON-ready data for staff (no notes: see ``for_staff``)."""
    return {
        "id": f.id,
        "conversation_id": f.conversation_id,
        "booth_id": f.booth_id,
        "booth_name": f.booth_name,
        "advisor_id": f.advisor_id,
        "advisor_name": f.advisor_name,
        "candidate_name": f.candidate_name,
        "starts_at": f.starts_at,
        "ends_at": f.ends_at,
        "minutes": f.minutes,
        "mode": f.mode,
        "location": f.location,
        "message": f.message,
        "status": f.status,
        "candidate_message": f.candidate_message,
        "sequence": f.sequence,
        "updated_at": f.updated_at,
    }


async def console_list(
    db: Database, event: Event, advisor_id: int, booth_id: int, now: float, limit: int = 20
) -> list[dict[str, Any]]:
    """The follow-ups of a booth that are not over yet, for this advisor and the booth's
    unassigned ones, soonest first, with their status (cancelled ones too, so a
    cancellation shows)."""
    rows = await db.fetchall(
        f"SELECT {COLUMNS} {FROM} WHERE f.booth_id = ? "
        "AND (f.advisor_id = ? OR f.advisor_id IS NULL) "
        "AND f.starts_at + f.minutes * 60 > ? ORDER BY f.starts_at, f.id LIMIT ?",
        (booth_id, advisor_id, now, limit),
    )
    return [
        {**view(f), "day": event.local(f.starts_at).date().isoformat()}
        for f in (FollowUp(**dict(r)) for r in rows)
    ]


async def advisors_concerned(db: Database, follow_up: FollowUp) -> list[int]:
    """The advisors whose console lists this follow-up."""
    if follow_up.advisor_id is not None:
        return [follow_up.advisor_id]
    rows = await db.fetchall(
        "SELECT id FROM staff WHERE booth_id = ? AND role = 'advisor' AND active = 1",
        (follow_up.booth_id,),
    )
    return [int(r["id"]) for r in rows]


# -- checking input ----------------------------------------------------------------------------


def parse_local(event: Event, value: str, field: str) -> float:
    """A local date and time ("2026-03-12T14:30", as a datetime-local field sends it) in
    the event's time zone, as unix seconds."""
    match = _LOCAL.match(value.strip())
    if not match:
        raise DomainError("input.datetime", field=field)
    try:
        moment = datetime.fromisoformat(f"{match.group(1)}T{match.group(2)}")
    except ValueError:
        raise DomainError("input.datetime", field=field) from None
    return moment.replace(tzinfo=event.zone).timestamp()


def local_text(event: Event, timestamp: float) -> str:
    """Unix seconds as the value of a datetime-local field in the event's time zone."""
    return event.local(timestamp).strftime("%Y-%m-%dT%H:%M")


def check_time(event: Event, value: str, field: str, now: float) -> float:
    starts_at = parse_local(event, value, field)
    if starts_at <= now:
        raise DomainError("follow_up.in_past", field=field)
    if starts_at > now + HORIZON_DAYS * 86400:
        raise DomainError("follow_up.too_far", field=field)
    return starts_at


def check_minutes(minutes: int, field: str = "minutes") -> int:
    if minutes not in LENGTHS:
        raise DomainError("follow_up.bad_length", field=field)
    return minutes


@dataclass(frozen=True)
class Booking:
    """What the booking form or the WebSocket sends, before it is checked."""

    conversation_id: int
    starts: str
    minutes: int
    mode: str
    location: str = ""
    holder: str = "me"  # "me", "advisor:<id>" or "booth:<id>"
    message: str = ""


def _holder(value: str) -> tuple[str, int | None]:
    if value in ("", "me"):
        return "me", None
    kind, _, number = value.partition(":")
    if kind in ("advisor", "booth") and number.isascii() and number.isdigit() and len(number) < 16:
        return kind, int(number)
    raise DomainError("input.bad_choice", field="holder")


async def _overlap(
    tx: Database | Transaction,
    advisor_id: int,
    starts_at: float,
    minutes: int,
    exclude_id: int | None = None,
) -> float | None:
    """The start of a booked follow-up of this advisor that overlaps, or None."""
    value = await _value(
        tx,
        "SELECT starts_at FROM follow_ups WHERE advisor_id = ? AND status != 'cancelled' "
        "AND starts_at < ? AND starts_at + minutes * 60 > ? AND id != ? "
        "ORDER BY starts_at LIMIT 1",
        (advisor_id, starts_at + minutes * 60, starts_at, exclude_id or 0),
    )
    return None if value is None else float(value)


def _overlap_error(event: Event, starts_at: float, field: str) -> DomainError:
    moment = event.local(starts_at)
    return DomainError(
        "follow_up.overlap",
        field=field,
        day=moment.strftime("%d-%m-%Y"),
        time=moment.strftime("%H:%M"),
    )


# -- booking ---------------------------------------------------------------------------------


async def book(
    db: Database, event: Event, staffer: Staffer, booking: Booking, *, now: float
) -> FollowUp:
    """Book a follow-up of a conversation (running or ended) of the staffer's booth (any
    booth for the moderator). Every field is checked first; nothing changes on bad input."""
    errors: dict[str, DomainError] = {}
    starts_at = 0.0
    try:
        starts_at = check_time(event, booking.starts, "starts", now)
    except DomainError as error:
        errors["starts"] = error
    try:
        check_minutes(booking.minutes)
    except DomainError as error:
        errors["minutes"] = error
    if booking.mode not in MODES:
        errors["mode"] = DomainError("input.bad_choice", field="mode")
    location = booking.location.strip()
    if len(location) > LOCATION_MAX:
        errors["location"] = DomainError("input.too_long", field="location", max=LOCATION_MAX)
    elif booking.mode == "video" and location and not https_url_ok(location):
        errors["location"] = DomainError("input.https_url", field="location")
    elif booking.mode == "phone" and location and not _PHONE.match(location):
        errors["location"] = DomainError("input.phone", field="location")
    elif booking.mode == "on_site" and not location:
        errors["location"] = DomainError("follow_up.address_required", field="location")
    message = booking.message.replace("\r\n", "\n").strip()
    if len(message) > MESSAGE_MAX:
        errors["message"] = DomainError("input.too_long", field="message", max=MESSAGE_MAX)
    kind, holder_id = "me", None
    try:
        kind, holder_id = _holder(booking.holder)
    except DomainError as error:
        errors["holder"] = error
    if errors:
        raise ValidationError(errors)

    async with db.transaction() as tx:
        conversation = await tx.fetchone(
            "SELECT c.booth_id, c.candidate_id, k.phone, k.erased_at FROM conversations c "
            "JOIN candidates k ON k.id = c.candidate_id WHERE c.id = ?",
            (booking.conversation_id,),
        )
        if conversation is None or (
            staffer.role != "moderator" and conversation["booth_id"] != staffer.booth_id
        ):
            raise DomainError("conversation.not_found", field="conversation_id")
        if conversation["erased_at"] is not None:
            raise DomainError("candidate.not_found")
        booth_id: int = conversation["booth_id"]
        advisor_id: int | None
        if kind == "me":
            # The moderator books for the booth of the conversation (anyone there).
            advisor_id = staffer.id if staffer.role == "advisor" else None
        elif kind == "advisor":
            found = await tx.fetchone(
                "SELECT booth_id FROM staff WHERE id = ? AND role = 'advisor' AND active = 1",
                (holder_id,),
            )
            if found is None or found["booth_id"] != booth_id:
                raise DomainError("advisor.not_found", field="holder")
            advisor_id = holder_id
        else:
            if (
                await tx.fetchone(
                    "SELECT 1 FROM booths WHERE id = ? AND removed_at IS NULL", (holder_id,)
                )
                is None
            ):
                raise DomainError("booth.not_found", field="holder")
            assert holder_id is not None
            booth_id, advisor_id = holder_id, None
        if advisor_id is not None:
            clash = await _overlap(tx, advisor_id, starts_at, booking.minutes)
            if clash is not None:
                raise _overlap_error(event, clash, "starts")
        if not location and booking.mode == "video":
            # Like a conversation's link: the holder's (or, for a booth, the booker's).
            owner = await get_staff(tx, advisor_id if advisor_id is not None else staffer.id)
            assert owner is not None
            location = appointment_link(event, owner)
        elif not location and booking.mode == "phone":
            location = conversation["phone"] or ""
            if not location:
                raise DomainError("follow_up.phone_required", field="location")
        follow_up_id = await tx.insert(
            "INSERT INTO follow_ups (conversation_id, booth_id, advisor_id, candidate_id, "
            "starts_at, minutes, mode, location, message, status, created_at, created_by, "
            "sequence, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'booked', ?, ?, 0, ?)",
            (
                booking.conversation_id,
                booth_id,
                advisor_id,
                conversation["candidate_id"],
                starts_at,
                booking.minutes,
                booking.mode,
                location,
                message,
                now,
                staffer.id,
                now,
            ),
        )
        await audit.record(
            tx,
            staff_id=staffer.id,
            action="follow_up.book",
            subject=f"follow_up:{follow_up_id}",
            detail=audit.Detail(
                "follow_up",
                {
                    "local": local_text(event, starts_at),
                    "minutes": booking.minutes,
                    "mode": booking.mode,
                },
            ),
            at=now,
        )
        await _mail(tx, follow_up_id, "booked", now)
        booked = await get(tx, follow_up_id)
    assert booked is not None
    return booked


# -- changes ----------------------------------------------------------------------------------


async def _change(
    tx: Transaction, follow_up_id: int, now: float, sets: str, params: tuple[Any, ...]
) -> FollowUp:
    await tx.execute(
        f"UPDATE follow_ups SET {sets}, sequence = sequence + 1, updated_at = ? WHERE id = ?",
        (*params, now, follow_up_id),
    )
    changed = await get(tx, follow_up_id)
    assert changed is not None
    return changed


def _still_open(found: FollowUp, now: float) -> None:
    if found.status == "cancelled":
        raise DomainError("follow_up.cancelled")
    if found.ends_at <= now:
        raise DomainError("follow_up.passed")


async def cancel_mine(
    db: Database, *, candidate_id: int, follow_up_id: int, now: float
) -> FollowUp:
    """The candidate cancels their own appointment."""
    async with db.transaction() as tx:
        found = await get(tx, follow_up_id)
        if found is None or found.candidate_id != candidate_id:
            raise DomainError("follow_up.not_found")
        _still_open(found, now)
        changed = await _change(tx, follow_up_id, now, "status = 'cancelled'", ())
        await _mail(tx, follow_up_id, "cancelled", now)
    return changed


def check_ask(message: str) -> str:
    message = message.replace("\r\n", "\n").strip()
    if not message:
        raise ValidationError({"message": DomainError("input.required", field="message")})
    if len(message) > MESSAGE_MAX:
        raise ValidationError(
            {"message": DomainError("input.too_long", field="message", max=MESSAGE_MAX)}
        )
    return message


async def ask_reschedule(
    db: Database, *, candidate_id: int, follow_up_id: int, message: str, now: float
) -> FollowUp:
    """The candidate asks to move their appointment, with a message for the advisor. The
    time stays booked until the advisor moves it."""
    message = check_ask(message)
    async with db.transaction() as tx:
        found = await get(tx, follow_up_id)
        if found is None or found.candidate_id != candidate_id:
            raise DomainError("follow_up.not_found")
        _still_open(found, now)
        changed = await _change(
            tx,
            follow_up_id,
            now,
            "status = 'reschedule_requested', candidate_message = ?",
            (message,),
        )
        await _mail(tx, follow_up_id, "reschedule_requested", now)
    return changed


async def reschedule(
    db: Database,
    event: Event,
    staffer: Staffer,
    *,
    follow_up_id: int,
    starts: str,
    minutes: int | None,
    now: float,
) -> FollowUp:
    """Staff who hold the follow-up move it to a new time (and length): booked again."""
    errors: dict[str, DomainError] = {}
    starts_at = 0.0
    try:
        starts_at = check_time(event, starts, "starts", now)
    except DomainError as error:
        errors["starts"] = error
    if minutes is not None:
        try:
            check_minutes(minutes)
        except DomainError as error:
            errors["minutes"] = error
    if errors:
        raise ValidationError(errors)
    async with db.transaction() as tx:
        found = await get(tx, follow_up_id)
        if found is None or not await may_manage(tx, staffer, found):
            raise DomainError("follow_up.not_found")
        _still_open(found, now)
        length = minutes or found.minutes
        if found.advisor_id is not None:
            clash = await _overlap(tx, found.advisor_id, starts_at, length, found.id)
            if clash is not None:
                raise _overlap_error(event, clash, "starts")
        changed = await _change(
            tx,
            follow_up_id,
            now,
            "starts_at = ?, minutes = ?, status = 'booked', reminded_at = NULL",
            (starts_at, length),
        )
        await audit.record(
            tx,
            staff_id=staffer.id,
            action="follow_up.reschedule",
            subject=f"follow_up:{follow_up_id}",
            detail=audit.Detail(
                "follow_up",
                {"local": local_text(event, starts_at), "minutes": length, "mode": None},
            ),
            at=now,
        )
        await _mail(tx, follow_up_id, "changed", now)
    return changed


async def cancel(db: Database, staffer: Staffer, *, follow_up_id: int, now: float) -> FollowUp:
    """Staff who hold the follow-up cancel it."""
    async with db.transaction() as tx:
        found = await get(tx, follow_up_id)
        if found is None or not await may_manage(tx, staffer, found):
            raise DomainError("follow_up.not_found")
        _still_open(found, now)
        changed = await _change(tx, follow_up_id, now, "status = 'cancelled'", ())
        await audit.record(
            tx,
            staff_id=staffer.id,
            action="follow_up.cancel",
            subject=f"follow_up:{follow_up_id}",
            at=now,
        )
        await _mail(tx, follow_up_id, "cancelled", now)
    return changed


# -- the booking form's choices ------------------------------------------------------------------


async def holders(db: Database, staffer: Staffer, booth_id: int | None) -> list[dict[str, str]]:
    """Whom the follow-up can be with, besides the advisor themselves: another advisor of the
    conversation's booth, or another booth (anyone there)."""
    if booth_id is None:
        return []
    choices: list[dict[str, str]] = []
    advisors = await db.fetchall(
        "SELECT id, name FROM staff WHERE booth_id = ? AND role = 'advisor' AND active = 1 "
        "AND id != ?",
        (booth_id, staffer.id),
    )
    advisors = names.sorted_by_name(advisors)
    choices += [
        {"value": f"advisor:{a['id']}", "label": a["name"], "kind": "advisor"} for a in advisors
    ]
    booths_rows = await db.fetchall(
        "SELECT id, name FROM booths WHERE removed_at IS NULL AND id != ? ORDER BY position, name",
        (booth_id,),
    )
    choices += [
        {"value": f"booth:{b['id']}", "label": b["name"], "kind": "booth"} for b in booths_rows
    ]
    return choices


async def booking_context(db: Database, staffer: Staffer, conversation_id: int) -> dict[str, Any]:
    """The conversation a follow-up is booked for, as the booking form shows it; refused
    for a conversation of another booth as if it did not exist."""
    row = await db.fetchone(
        "SELECT c.id, c.booth_id, c.started_at, c.ended_at, c.notes, k.name AS candidate_name, "
        "k.phone, b.name AS booth_name FROM conversations c "
        "JOIN candidates k ON k.id = c.candidate_id JOIN booths b ON b.id = c.booth_id "
        "WHERE c.id = ? AND k.erased_at IS NULL",
        (conversation_id,),
    )
    if row is None or (staffer.role != "moderator" and row["booth_id"] != staffer.booth_id):
        raise DomainError("conversation.not_found")
    return dict(row)


async def recent_conversations(
    db: Database, staffer: Staffer, limit: int = 20
) -> list[dict[str, Any]]:
    """The conversations a follow-up can be booked for when none was chosen: the booth's most
    recent ones (every booth's for the moderator), candidates who erased their data left out."""
    sql = (
        "SELECT c.id, c.started_at, k.name AS candidate_name, b.name AS booth_name "
        "FROM conversations c JOIN candidates k ON k.id = c.candidate_id "
        "JOIN booths b ON b.id = c.booth_id WHERE k.erased_at IS NULL"
    )
    params: tuple[Any, ...] = ()
    if staffer.role != "moderator":
        sql += " AND c.booth_id = ?"
        params = (staffer.booth_id,)
    rows = await db.fetchall(
        sql + " ORDER BY c.started_at DESC, c.id DESC LIMIT ?", (*params, limit)
    )
    return [dict(r) for r in rows]


# -- availability ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    id: int
    starts_at: float
    ends_at: float


async def periods(db: Database, staff_id: int, now: float) -> list[Period]:
    """An advisor's availability periods that are not over yet, soonest first."""
    rows = await db.fetchall(
        "SELECT id, starts_at, ends_at FROM advisor_availability WHERE staff_id = ? "
        "AND ends_at > ? ORDER BY starts_at, id",
        (staff_id, now),
    )
    return [Period(**dict(r)) for r in rows]


async def add_period(
    db: Database, event: Event, *, staff_id: int, starts: str, ends: str, now: float
) -> Period:
    errors: dict[str, DomainError] = {}
    starts_at = ends_at = 0.0
    try:
        starts_at = parse_local(event, starts, "starts")
    except DomainError as error:
        errors["starts"] = error
    try:
        ends_at = parse_local(event, ends, "ends")
    except DomainError as error:
        errors["ends"] = error
    if not errors:
        if ends_at <= starts_at:
            errors["ends"] = DomainError("input.time_order", field="ends")
        elif ends_at <= now:
            errors["ends"] = DomainError("follow_up.in_past", field="ends")
        elif ends_at - starts_at > PERIOD_MAX_HOURS * 3600:
            errors["ends"] = DomainError(
                "availability.too_long", field="ends", hours=PERIOD_MAX_HOURS
            )
        elif starts_at > now + HORIZON_DAYS * 86400:
            errors["starts"] = DomainError("follow_up.too_far", field="starts")
    if errors:
        raise ValidationError(errors)
    async with db.transaction() as tx:
        held = await _value(
            tx,
            "SELECT COUNT(*) FROM advisor_availability WHERE staff_id = ? AND ends_at > ?",
            (staff_id, now),
        )
        if int(held) >= AVAILABILITY_MAX:
            raise DomainError("availability.too_many", max=AVAILABILITY_MAX)
        if await tx.fetchone(
            "SELECT 1 FROM advisor_availability WHERE staff_id = ? AND starts_at < ? "
            "AND ends_at > ?",
            (staff_id, ends_at, starts_at),
        ):
            raise DomainError("availability.overlap", field="starts")
        period_id = await tx.insert(
            "INSERT INTO advisor_availability (staff_id, starts_at, ends_at, created_at) "
            "VALUES (?, ?, ?, ?)",
            (staff_id, starts_at, ends_at, now),
        )
    return Period(period_id, starts_at, ends_at)


async def remove_period(db: Database, *, staff_id: int, period_id: int) -> None:
    async with db.transaction() as tx:
        removed = await tx.execute(
            "DELETE FROM advisor_availability WHERE id = ? AND staff_id = ?",
            (period_id, staff_id),
        )
        if not removed:
            raise DomainError("availability.not_found")


async def free_starts(
    db: Database, staff_id: int, minutes: int, now: float, limit: int = OFFERS_MAX
) -> list[float]:
    """Start times from the advisor's availability (on a quarter-hour grid, in the future)
    where a follow-up of ``minutes`` fits and overlaps none of their booked follow-ups."""
    step = OFFER_STEP_MINUTES * 60
    booked = await db.fetchall(
        "SELECT starts_at, starts_at + minutes * 60 AS ends_at FROM follow_ups "
        "WHERE advisor_id = ? AND status != 'cancelled' AND starts_at + minutes * 60 > ?",
        (staff_id, now),
    )
    taken = [(float(r["starts_at"]), float(r["ends_at"])) for r in booked]
    found: list[float] = []
    for period in await periods(db, staff_id, now):
        t = period.starts_at
        if t <= now:
            # The first step of the period's grid after now.
            t += (int((now - period.starts_at) // step) + 1) * step
        while t + minutes * 60 <= period.ends_at and len(found) < limit:
            if t > now and not any(b0 < t + minutes * 60 and b1 > t for b0, b1 in taken):
                found.append(t)
            t += step
        if len(found) >= limit:
            break
    return found


def offer_choices(event: Event, starts: list[float]) -> list[dict[str, str]]:
    """Free start times as the form's quick choices: the field value and a label."""
    choices = []
    for t in starts:
        moment = event.local(t)
        choices.append(
            {
                "value": local_text(event, t),
                "day": moment.date().isoformat(),
                "time": moment.strftime("%H:%M"),
            }
        )
    return choices


def default_start(event: Event, now: float) -> str:
    """A suggestion for the typed time: tomorrow at ten, local."""
    tomorrow = (event.local(now) + timedelta(days=1)).replace(hour=10, minute=0)
    return tomorrow.strftime("%Y-%m-%dT%H:%M")
