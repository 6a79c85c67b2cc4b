"""Commands about follow-up appointments: advisors and moderators book, move and cancel
them and advisors say when they are available; the candidate cancels theirs or asks for
another time. Whatever changed, the consoles that list the appointment are told at once."""

from __future__ import annotations

from typing import Any

from app.commands.envelope import Field
from app.commands.registry import action, person_id
from app.domain import followups as follow_ups
from app.domain.event import load_event
from app.domain.followups import Booking, Staffer
from app.domain.outcome import Outcome
from app.domain.principals import Principal
from app.live.resources import Resources


def _staffer(p: Principal) -> Staffer:
    return Staffer(person_id(p), p.role, p.booth_id)


async def _changed(r: Resources, follow_up: follow_ups.FollowUp) -> Outcome:
    """After a follow-up changed: the consoles that list it are told."""
    return Outcome(
        reply={
            "follow_up_id": follow_up.id,
            "status": follow_up.status,
            "starts_at": follow_up.starts_at,
            "minutes": follow_up.minutes,
            "sequence": follow_up.sequence,
        },
        advisor_ids=set(await follow_ups.advisors_concerned(r.db, follow_up)),
    )


@action(
    "follow_up.book",
    ("advisor", "moderator"),
    Field("conversation_id", int),
    Field("starts", str, max_length=32),
    Field("minutes", int),
    Field("mode", str, choices=follow_ups.MODES),
    Field("location", str, required=False, max_length=follow_ups.LOCATION_MAX),
    Field("holder", str, required=False, max_length=40),
    Field("message", str, required=False, max_length=follow_ups.MESSAGE_MAX),
)
async def follow_up_book(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    event = await load_event(r.db)
    booking = Booking(
        conversation_id=data["conversation_id"],
        starts=data["starts"],
        minutes=data["minutes"],
        mode=data["mode"],
        location=data["location"] or "",
        holder=data["holder"] or "me",
        message=data["message"] or "",
    )
    booked = await follow_ups.book(r.db, event, _staffer(p), booking, now=r.now())
    return await _changed(r, booked)


@action(
    "follow_up.reschedule",
    ("advisor", "moderator"),
    Field("follow_up_id", int),
    Field("starts", str, max_length=32),
    Field("minutes", int, required=False),
)
async def follow_up_reschedule(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    event = await load_event(r.db)
    moved = await follow_ups.reschedule(
        r.db,
        event,
        _staffer(p),
        follow_up_id=data["follow_up_id"],
        starts=data["starts"],
        minutes=data["minutes"],
        now=r.now(),
    )
    return await _changed(r, moved)


@action("follow_up.cancel", ("advisor", "moderator"), Field("follow_up_id", int))
async def follow_up_cancel(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    cancelled = await follow_ups.cancel(
        r.db, _staffer(p), follow_up_id=data["follow_up_id"], now=r.now()
    )
    return await _changed(r, cancelled)


@action("follow_up.cancel_mine", ("candidate",), Field("follow_up_id", int))
async def follow_up_cancel_mine(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    cancelled = await follow_ups.cancel_mine(
        r.db, candidate_id=person_id(p), follow_up_id=data["follow_up_id"], now=r.now()
    )
    return await _changed(r, cancelled)


@action(
    "follow_up.ask_reschedule",
    ("candidate",),
    Field("follow_up_id", int),
    Field("message", str, max_length=follow_ups.MESSAGE_MAX),
)
async def follow_up_ask_reschedule(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    asked = await follow_ups.ask_reschedule(
        r.db,
        candidate_id=person_id(p),
        follow_up_id=data["follow_up_id"],
        message=data["message"],
        now=r.now(),
    )
    return await _changed(r, asked)


@action(
    "availability.add",
    ("advisor",),
    Field("starts", str, max_length=32),
    Field("ends", str, max_length=32),
)
async def availability_add(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    event = await load_event(r.db)
    period = await follow_ups.add_period(
        r.db, event, staff_id=person_id(p), starts=data["starts"], ends=data["ends"], now=r.now()
    )
    return Outcome(
        reply={"period_id": period.id, "starts_at": period.starts_at, "ends_at": period.ends_at}
    )


@action("availability.remove", ("advisor",), Field("period_id", int))
async def availability_remove(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    await follow_ups.remove_period(r.db, staff_id=person_id(p), period_id=data["period_id"])
    return Outcome(reply={"period_id": data["period_id"]})
