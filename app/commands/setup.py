"""Commands of the organisers' administration forms (moderators only): the event's settings
and days, the booths (create, edit, remove, reorder, import), the schedule's blocks and the
staff (invite, a new link, deactivate and reactivate, move to another booth).

They are given by forms only (``forms_only``): the socket does not offer them, and the
forms' pages name them with ``perform(..., form=True)``. Their text fields are the form's
fields as typed; the domain modules check them (``app.domain.event_setup``,
``app.domain.booth_setup``, ``app.domain.schedule``, ``app.domain.invitations``) and name each
wrong field, so every text field here is optional and unbounded and a form that leaves one
out is told what the domain says about it. What changed is published like any command's:
the hall, the booths' advisors and candidates, the overview, and the sessions that ended.
"""

from __future__ import annotations

from typing import Any

from app.commands.envelope import Field
from app.commands.registry import action, person_id
from app.core.errors import DomainError
from app.domain import booth_setup, event_setup, extension, invitations, readiness, schedule
from app.domain.outcome import DEACTIVATED, MOVED, Outcome
from app.domain.principals import Principal
from app.live.resources import Resources

MODERATOR = ("moderator",)


def _text(*names: str) -> tuple[Field, ...]:
    """Text fields of a form, as typed: checked by the domain module, not here."""
    return tuple(Field(name, str, required=False) for name in names)


def _typed(data: dict[str, Any], *names: str) -> dict[str, str]:
    """The text fields the form gave, for the domain module's own checks."""
    return {name: data[name] for name in names if data.get(name) is not None}


# -- the event: its settings and days ---------------------------------------------------------

SETTINGS = (
    "name",
    "timezone",
    "conversation_minutes",
    "warning_minutes",
    "video_provider",
    "video_base_url",
    "wait_alert_minutes",
    "overtime_alert_minutes",
)


@action("event.settings", MODERATOR, *_text(*SETTINGS), forms_only=True)
async def event_settings(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    changed = await event_setup.update_settings(
        r.db, _typed(data, *SETTINGS), staff_id=person_id(p), now=r.now()
    )
    # The name, time zone and conversation length show in the hall.
    return Outcome(reply={"changed": changed}, hall=True)


EXTENSION = ("extension_minutes", "extension_max_minutes", "extension_when_waiting")


@action("event.extension_settings", MODERATOR, *_text(*EXTENSION), forms_only=True)
async def event_extension_settings(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    changed = await extension.update_settings(
        r.db, _typed(data, *EXTENSION), staff_id=person_id(p), now=r.now()
    )
    return Outcome(reply={"changed": changed})


READINESS = ("ready_seconds", "ready_step_back", "join_seconds")


@action("event.readiness_settings", MODERATOR, *_text(*READINESS), forms_only=True)
async def event_readiness_settings(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    saved = await readiness.update_settings(
        r.db, _typed(data, *READINESS), staff_id=person_id(p), now=r.now()
    )
    return Outcome(reply=dict(saved.__dict__))


DAY = ("day", "opens", "closes")


@action("day.save", MODERATOR, *_text(*DAY), forms_only=True)
async def day_save(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    hours, created = await event_setup.save_day(
        r.db, _typed(data, *DAY), staff_id=person_id(p), now=r.now()
    )
    return Outcome(reply={"day": hours.day.isoformat(), "created": created}, hall=True)


@action("day.remove", MODERATOR, *_text("day"), forms_only=True)
async def day_remove(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    day = data["day"] or ""
    blocks = await event_setup.remove_day(r.db, day, staff_id=person_id(p), now=r.now())
    return Outcome(reply={"day": day, "blocks_removed": blocks}, hall=True)


# -- booths -----------------------------------------------------------------------------------

BOOTH = ("name", "slug", "kind", "sector", "description", "link")
OFFERS = Field("offers", list, required=False)


@action("booth.create", MODERATOR, *_text(*BOOTH), OFFERS, forms_only=True)
async def booth_create(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    booth_id = await booth_setup.create(
        r.db, _typed(data, *BOOTH), data["offers"] or [], staff_id=person_id(p), now=r.now()
    )
    return Outcome(reply={"booth_id": booth_id}, hall=True)


@action("booth.update", MODERATOR, Field("booth_id", int), *_text(*BOOTH), OFFERS, forms_only=True)
async def booth_update(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    booth_id = data["booth_id"]
    await booth_setup.update(
        r.db,
        booth_id,
        _typed(data, *BOOTH),
        data["offers"] or [],
        staff_id=person_id(p),
        now=r.now(),
    )
    return Outcome(reply={"booth_id": booth_id}, booth_ids={booth_id})


@action("booth.remove", MODERATOR, Field("booth_id", int), forms_only=True)
async def booth_remove(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    booth_id = data["booth_id"]
    advisors = await booth_setup.remove(r.db, booth_id, staff_id=person_id(p), now=r.now())
    # Its advisors were deactivated with it: their pages close.
    return Outcome(
        reply={"booth_id": booth_id, "advisors_deactivated": advisors},
        hall=True,
        revoked_staff=dict.fromkeys(advisors, DEACTIVATED),
    )


@action("booth.move", MODERATOR, Field("booth_id", int), *_text("direction"), forms_only=True)
async def booth_move(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    moved = await booth_setup.move(
        r.db, data["booth_id"], data["direction"] or "", staff_id=person_id(p), now=r.now()
    )
    return Outcome(reply={"booth_id": data["booth_id"], "moved": moved}, hall=True)


@action("booth.import", MODERATOR, Field("file", bytes), forms_only=True)
async def booth_import(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    raw: bytes = data["file"]
    if not raw:
        raise booth_setup.ImportRefused([DomainError("csv.unreadable")])
    result = await booth_setup.import_csv(r.db, raw, staff_id=person_id(p), now=r.now())
    return Outcome(reply={"created": result.created, "updated": result.updated}, hall=True)


# -- the schedule -----------------------------------------------------------------------------

BLOCK = ("day", "starts", "ends", "staff_id")


@action("schedule.add", MODERATOR, Field("booth_id", int), *_text(*BLOCK), forms_only=True)
async def schedule_add(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    booth_id = data["booth_id"]
    slot_id = await schedule.add(
        r.db, booth_id, _typed(data, *BLOCK), actor=person_id(p), now=r.now()
    )
    return Outcome(reply={"slot_id": slot_id, "booth_id": booth_id}, booth_ids={booth_id})


@action("schedule.remove", MODERATOR, Field("slot_id", int), forms_only=True)
async def schedule_remove(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    booth_id = await schedule.remove(r.db, data["slot_id"], actor=person_id(p), now=r.now())
    return Outcome(reply={"slot_id": data["slot_id"], "booth_id": booth_id}, booth_ids={booth_id})


# -- staff ------------------------------------------------------------------------------------

INVITE = ("name", "email", "role", "booth_id")


@action("staff.invite", MODERATOR, *_text(*INVITE), forms_only=True)
async def staff_invite(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    given = _typed(data, *INVITE)
    staff_id, token = await invitations.invite(r.db, given, actor=person_id(p), now=r.now())
    # The token is the invitation link's secret: it goes back to the form that asked, never
    # over the socket (this command is for forms only).
    return Outcome(
        reply={"staff_id": staff_id, "token": token, "name": given.get("name", "").strip()},
        # A new advisor counts among the booth's advisors on the dashboard.
        overview=given.get("role") == "advisor",
    )


@action("staff.new_link", MODERATOR, Field("staff_id", int), forms_only=True)
async def staff_new_link(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    token = await invitations.new_invitation(
        r.db, data["staff_id"], actor=person_id(p), now=r.now()
    )
    return Outcome(reply={"staff_id": data["staff_id"], "token": token})


@action("staff.deactivate", MODERATOR, Field("staff_id", int), forms_only=True)
async def staff_deactivate(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    staff_id = data["staff_id"]
    booth_id = await invitations.deactivate(r.db, staff_id, actor=person_id(p), now=r.now())
    return Outcome(
        reply={"staff_id": staff_id, "booth_id": booth_id},
        booth_ids=set() if booth_id is None else {booth_id},
        revoked_staff={staff_id: DEACTIVATED},
    )


@action("staff.reactivate", MODERATOR, Field("staff_id", int), forms_only=True)
async def staff_reactivate(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    staff_id = data["staff_id"]
    booth_id = await invitations.reactivate(r.db, staff_id, actor=person_id(p), now=r.now())
    return Outcome(
        reply={"staff_id": staff_id, "booth_id": booth_id},
        booth_ids=set() if booth_id is None else {booth_id},
    )


@action("staff.assign", MODERATOR, Field("staff_id", int), *_text("booth_id"), forms_only=True)
async def staff_assign(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    staff_id = data["staff_id"]
    old, new = await invitations.assign(
        r.db, staff_id, data["booth_id"] or "", actor=person_id(p), now=r.now()
    )
    out = Outcome(reply={"staff_id": staff_id, "from_booth": old, "to_booth": new})
    if old != new:
        # Their sessions ended: their pages close and ask them to log in at the new booth.
        out.booth_ids |= {old, new}
        out.revoked_staff[staff_id] = MOVED
    return out
