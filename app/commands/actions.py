"""Every command a client can give, in one registry: its name, the roles allowed to give
it, the shape of its payload, and what it does.

The WebSocket and the HTML forms are both thin adapters over ``perform``: the role is
checked and the payload validated before any service is called, and what changed is
published after the service has committed it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from app.commands.envelope import Field, clean_payload
from app.core.errors import DomainError
from app.domain import (
    advisors,
    announcements,
    calls,
    conversations,
    extension,
    feedback,
    moderation,
    notes,
    queue,
    readiness,
)
from app.domain import followups as follow_ups
from app.domain.candidates import PHONE_MAX
from app.domain.event import load_event
from app.domain.followups import Booking, Staffer
from app.domain.principals import Principal
from app.domain.transfer import NOTE_MAX as TRANSFER_NOTE_MAX
from app.domain.transfer import transfer as transfer_candidate
from app.domain.video import TOKEN_MAX
from app.live import snapshots
from app.live.resources import Resources
from app.web.auth import announce_revoked

Handler = Callable[[Resources, Principal, dict[str, Any]], Awaitable[Any]]


@dataclass(frozen=True)
class Action:
    name: str
    roles: frozenset[str]
    fields: tuple[Field, ...]
    handler: Handler


REGISTRY: dict[str, Action] = {}
EVERYONE = ("anonymous", "candidate", "advisor", "moderator")


def action(name: str, roles: tuple[str, ...], *fields: Field) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        if name in REGISTRY:
            raise RuntimeError(f"action {name!r} registered twice")
        REGISTRY[name] = Action(name, frozenset(roles), fields, handler)
        return handler

    return register


async def perform(
    resources: Resources, principal: Principal, name: str, data: dict[str, Any]
) -> Any:
    found = REGISTRY.get(name)
    if found is None:
        raise DomainError("protocol.unknown_action")
    if principal.role not in found.roles:
        raise DomainError(
            "auth.sign_in_required" if principal.role == "anonymous" else "auth.forbidden"
        )
    cleaned = clean_payload(found.fields, data)
    return await found.handler(resources, principal, cleaned)


def _id(principal: Principal) -> int:
    assert principal.id is not None
    return principal.id


async def personal_state(resources: Resources, principal: Principal) -> dict[str, Any]:
    """Everything this principal sees, as one snapshot: the hall and their own part."""
    state: dict[str, Any] = {"hall": resources.live.feed.snapshot()}
    state["announcements"] = await resources.live.announcements_for(principal.role)
    if principal.role == "anonymous":
        return state
    db = resources.db
    event = await load_event(db)
    rev = await db.revision()
    now = resources.now()
    if principal.role == "candidate":
        me = await snapshots.candidate_state(db, event, _id(principal), now)
        state["me"] = {**me, "rev": rev}
    elif principal.role == "advisor":
        console = await snapshots.console_state(db, event, _id(principal), now)
        state["console"] = {**console, "rev": rev}
    elif principal.role == "moderator":
        overview = await snapshots.overview(db, event, now)
        state["overview"] = {**overview, "rev": rev}
    return state


@action("session.sync", EVERYONE)
async def session_sync(r: Resources, p: Principal, data: dict[str, Any]) -> Any:
    return await personal_state(r, p)


@action("clock.sync", EVERYONE)
async def clock_sync(r: Resources, p: Principal, data: dict[str, Any]) -> Any:
    return {"server_time": r.now()}


@action(
    "request.create",
    ("candidate",),
    Field("booth_id", int),
    Field("advisor_id", int, required=False),
    Field("question", str, required=False, max_length=queue.QUESTION_MAX),
    Field("client_key", str, max_length=queue.CLIENT_KEY_MAX),
)
async def request_create(r: Resources, p: Principal, data: dict[str, Any]) -> Any:
    event = await load_event(r.db)
    request, created = await queue.create_request(
        r.db,
        event,
        candidate_id=_id(p),
        booth_id=data["booth_id"],
        advisor_id=data["advisor_id"],
        question=data["question"] or "",
        client_key=data["client_key"],
        now=r.now(),
        ttl_seconds=r.settings.request_ttl_seconds,
    )
    if created:
        await r.live.deadlines_moved()
        await r.live.booths_changed([request.booth_id])
    return {"request_id": request.id, "created": created}


@action("request.cancel", ("candidate",), Field("request_id", int))
async def request_cancel(r: Resources, p: Principal, data: dict[str, Any]) -> Any:
    request = await queue.cancel_request(
        r.db, candidate_id=_id(p), request_id=data["request_id"], now=r.now()
    )
    await r.live.booths_changed([request.booth_id])
    await r.live.candidate_changed(request.candidate_id)
    return {"request_id": request.id, "status": request.status}


# -- readiness: "Ben je er klaar voor?" and joining the call (app.domain.readiness) ----------------


@action("request.ready", ("candidate",), Field("request_id", int))
async def request_ready(r: Resources, p: Principal, data: dict[str, Any]) -> Any:
    request = await readiness.confirm(
        r.db, candidate_id=_id(p), request_id=data["request_id"], now=r.now()
    )
    await r.live.booths_changed([request.booth_id])
    return {"request_id": request.id, "ready_at": request.ready_at}


@action("request.more_time", ("candidate",), Field("request_id", int))
async def request_more_time(r: Resources, p: Principal, data: dict[str, Any]) -> Any:
    request = await readiness.extend(
        r.db, candidate_id=_id(p), request_id=data["request_id"], now=r.now()
    )
    await r.live.deadlines_moved()
    await r.live.candidate_changed(request.candidate_id)
    return {"request_id": request.id, "ready_until": request.ready_until}


@action("conversation.join", ("candidate",), Field("conversation_id", int))
async def conversation_join(r: Resources, p: Principal, data: dict[str, Any]) -> Any:
    joined = await readiness.join(
        r.db, candidate_id=_id(p), conversation_id=data["conversation_id"], now=r.now()
    )
    await r.live.candidate_changed(joined.candidate_id)
    await r.live.console_changed(joined.advisor_id)
    return {
        "conversation_id": joined.conversation_id,
        "video_url": joined.video_url,
        "joined_at": joined.joined_at,
    }


@action(
    "advisor.status",
    ("advisor",),
    Field("status", str, choices=advisors.CHOOSABLE),
)
async def advisor_status(r: Resources, p: Principal, data: dict[str, Any]) -> Any:
    staff = await advisors.set_status(r.db, _id(p), data["status"], r.now())
    assert staff.booth_id is not None
    await r.live.booths_changed([staff.booth_id])
    return {"status": staff.status}


@action("request.accept", ("advisor",), Field("request_id", int, required=False))
async def request_accept(r: Resources, p: Principal, data: dict[str, Any]) -> Any:
    event = await load_event(r.db)
    conversation, request = await conversations.accept(
        r.db, event, advisor_id=_id(p), request_id=data["request_id"], now=r.now()
    )
    await r.live.deadlines_moved()
    await r.live.conversation_started(request.candidate_id, _id(p))
    await r.live.booths_changed([request.booth_id])
    return {"conversation_id": conversation.id, "request_id": request.id}


@action(
    "request.decline",
    ("advisor",),
    Field("request_id", int),
    Field("message", str, required=False, max_length=queue.DECLINE_MESSAGE_MAX),
)
async def request_decline(r: Resources, p: Principal, data: dict[str, Any]) -> Any:
    assert p.booth_id is not None
    request = await queue.decline_request(
        r.db,
        advisor_id=_id(p),
        booth_id=p.booth_id,
        request_id=data["request_id"],
        message=data["message"] or "",
        now=r.now(),
    )
    await r.live.candidate_changed(request.candidate_id)
    await r.live.booths_changed([request.booth_id])
    return {"request_id": request.id, "status": request.status}


@action("conversation.end", ("advisor",), Field("conversation_id", int))
async def conversation_end(r: Resources, p: Principal, data: dict[str, Any]) -> Any:
    conversation = await conversations.end(
        r.db,
        advisor_id=_id(p),
        conversation_id=data["conversation_id"],
        now=r.now(),
        wrap_up_seconds=r.settings.wrap_up_seconds,
    )
    await r.live.deadlines_moved()
    await r.live.candidate_changed(conversation.candidate_id)
    await r.live.booths_changed([conversation.booth_id])
    return {"conversation_id": conversation.id}


@action(
    "conversation.transfer",
    ("advisor",),
    Field("conversation_id", int),
    Field("booth_id", int),
    Field("advisor_id", int, required=False),
    Field("note", str, required=False, max_length=TRANSFER_NOTE_MAX),
)
async def conversation_transfer(r: Resources, p: Principal, data: dict[str, Any]) -> Any:
    event = await load_event(r.db)
    done = await transfer_candidate(
        r.db,
        event,
        advisor_id=_id(p),
        conversation_id=data["conversation_id"],
        booth_id=data["booth_id"],
        to_advisor_id=data["advisor_id"],
        note=data["note"] or "",
        now=r.now(),
        ttl_seconds=r.settings.request_ttl_seconds,
        wrap_up_seconds=r.settings.wrap_up_seconds,
    )
    await r.live.deadlines_moved()
    await r.live.candidate_changed(done.request.candidate_id)
    await r.live.booths_changed([done.from_booth_id, done.request.booth_id])
    return {"conversation_id": done.conversation_id, "request_id": done.request.id}


@action("conversation.notes", ("advisor", "moderator"), Field("conversation_id", int))
async def conversation_notes(r: Resources, p: Principal, data: dict[str, Any]) -> Any:
    found = await notes.notes_for(r.db, data["conversation_id"], role=p.role, booth_id=p.booth_id)
    return {
        "conversation_id": found.conversation_id,
        "notes": found.notes,
        "notes_at": found.notes_at,
        "notes_by": found.notes_by_name,
    }


@action(
    "conversation.note",
    ("advisor",),
    Field("conversation_id", int),
    Field("notes", str, max_length=notes.NOTES_MAX),
)
async def conversation_note(r: Resources, p: Principal, data: dict[str, Any]) -> Any:
    assert p.booth_id is not None
    saved = await notes.save_notes(
        r.db,
        advisor_id=_id(p),
        booth_id=p.booth_id,
        conversation_id=data["conversation_id"],
        text=data["notes"],
        now=r.now(),
    )
    return {"conversation_id": saved.conversation_id, "notes_at": saved.notes_at}


@action(
    "conversation.rate",
    ("candidate",),
    Field("conversation_id", int),
    Field("rating", int),
    Field("comment", str, required=False, max_length=feedback.COMMENT_MAX),
)
async def conversation_rate(r: Resources, p: Principal, data: dict[str, Any]) -> Any:
    given = await feedback.rate(
        r.db,
        candidate_id=_id(p),
        conversation_id=data["conversation_id"],
        rating=data["rating"],
        comment=data["comment"] or "",
        now=r.now(),
    )
    await r.live.candidate_changed(_id(p))
    return {
        "conversation_id": given.conversation_id,
        "rating": given.rating,
        "comment": given.comment,
    }


# -- follow-up appointments (app.domain.followups) -------------------------------------------------


def _staffer(p: Principal) -> Staffer:
    return Staffer(_id(p), p.role, p.booth_id)


async def _follow_up_changed(r: Resources, follow_up: follow_ups.FollowUp) -> dict[str, Any]:
    """After a follow-up changed: the consoles that list it are pushed at once."""
    for advisor_id in await follow_ups.advisors_concerned(r.db, follow_up):
        await r.live.console_changed(advisor_id)
    return {
        "follow_up_id": follow_up.id,
        "status": follow_up.status,
        "starts_at": follow_up.starts_at,
        "minutes": follow_up.minutes,
        "sequence": follow_up.sequence,
    }


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
async def follow_up_book(r: Resources, p: Principal, data: dict[str, Any]) -> Any:
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
    return await _follow_up_changed(r, booked)


@action(
    "follow_up.reschedule",
    ("advisor", "moderator"),
    Field("follow_up_id", int),
    Field("starts", str, max_length=32),
    Field("minutes", int, required=False),
)
async def follow_up_reschedule(r: Resources, p: Principal, data: dict[str, Any]) -> Any:
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
    return await _follow_up_changed(r, moved)


@action("follow_up.cancel", ("advisor", "moderator"), Field("follow_up_id", int))
async def follow_up_cancel(r: Resources, p: Principal, data: dict[str, Any]) -> Any:
    cancelled = await follow_ups.cancel(
        r.db, _staffer(p), follow_up_id=data["follow_up_id"], now=r.now()
    )
    return await _follow_up_changed(r, cancelled)


@action("follow_up.cancel_mine", ("candidate",), Field("follow_up_id", int))
async def follow_up_cancel_mine(r: Resources, p: Principal, data: dict[str, Any]) -> Any:
    cancelled = await follow_ups.cancel_mine(
        r.db, candidate_id=_id(p), follow_up_id=data["follow_up_id"], now=r.now()
    )
    return await _follow_up_changed(r, cancelled)


@action(
    "follow_up.ask_reschedule",
    ("candidate",),
    Field("follow_up_id", int),
    Field("message", str, max_length=follow_ups.MESSAGE_MAX),
)
async def follow_up_ask_reschedule(r: Resources, p: Principal, data: dict[str, Any]) -> Any:
    asked = await follow_ups.ask_reschedule(
        r.db,
        candidate_id=_id(p),
        follow_up_id=data["follow_up_id"],
        message=data["message"],
        now=r.now(),
    )
    return await _follow_up_changed(r, asked)


@action(
    "availability.add",
    ("advisor",),
    Field("starts", str, max_length=32),
    Field("ends", str, max_length=32),
)
async def availability_add(r: Resources, p: Principal, data: dict[str, Any]) -> Any:
    event = await load_event(r.db)
    period = await follow_ups.add_period(
        r.db, event, staff_id=_id(p), starts=data["starts"], ends=data["ends"], now=r.now()
    )
    return {"period_id": period.id, "starts_at": period.starts_at, "ends_at": period.ends_at}


@action("availability.remove", ("advisor",), Field("period_id", int))
async def availability_remove(r: Resources, p: Principal, data: dict[str, Any]) -> Any:
    await follow_ups.remove_period(r.db, staff_id=_id(p), period_id=data["period_id"])
    return {"period_id": data["period_id"]}


# -- the moderator steps in: open and close, move, end, block ------------------------------


async def _tell_outcome(r: Resources, outcome: moderation.Outcome) -> dict[str, Any]:
    """After a moderator's step committed: everyone concerned hears it at once."""
    if outcome.deadlines:
        await r.live.deadlines_moved()
    if outcome.hall:
        await r.live.hall_changed()
    if outcome.booth_ids:
        await r.live.booths_changed(outcome.booth_ids)
    for candidate_id in sorted(outcome.candidate_ids):
        await r.live.candidate_changed(candidate_id)
    for candidate_id in sorted(outcome.revoked_candidate_ids):
        await announce_revoked(r.hub, f"candidate:{candidate_id}", None, "blocked")
    return {
        "requests_ended": outcome.requests_ended,
        "conversations_ended": outcome.conversations_ended,
    }


@action("event.open", ("moderator",))
async def event_open(r: Resources, p: Principal, data: dict[str, Any]) -> Any:
    outcome = await moderation.set_event_open(r.db, staff_id=_id(p), is_open=True, now=r.now())
    return await _tell_outcome(r, outcome)


@action("event.close", ("moderator",))
async def event_close(r: Resources, p: Principal, data: dict[str, Any]) -> Any:
    outcome = await moderation.set_event_open(r.db, staff_id=_id(p), is_open=False, now=r.now())
    return await _tell_outcome(r, outcome)


@action("booth.open", ("moderator",), Field("booth_id", int))
async def booth_open(r: Resources, p: Principal, data: dict[str, Any]) -> Any:
    outcome = await moderation.set_booth_closed(
        r.db, staff_id=_id(p), booth_id=data["booth_id"], closed=False, now=r.now()
    )
    return await _tell_outcome(r, outcome)


@action(
    "booth.close",
    ("moderator",),
    Field("booth_id", int),
    Field("waiting", int, required=False, minimum=0),
)
async def booth_close(r: Resources, p: Principal, data: dict[str, Any]) -> Any:
    # ``waiting``: how many waiting candidates the moderator was shown and confirmed ending.
    outcome = await moderation.set_booth_closed(
        r.db,
        staff_id=_id(p),
        booth_id=data["booth_id"],
        closed=True,
        now=r.now(),
        at_most=data.get("waiting"),
    )
    return await _tell_outcome(r, outcome)


@action(
    "request.move",
    ("moderator",),
    Field("request_id", int),
    Field("booth_id", int),
    Field("advisor_id", int, required=False),
)
async def request_move(r: Resources, p: Principal, data: dict[str, Any]) -> Any:
    outcome = await moderation.move_request(
        r.db,
        staff_id=_id(p),
        request_id=data["request_id"],
        booth_id=data["booth_id"],
        advisor_id=data["advisor_id"],
        now=r.now(),
    )
    return await _tell_outcome(r, outcome)


@action("conversation.stop", ("moderator",), Field("conversation_id", int))
async def conversation_stop(r: Resources, p: Principal, data: dict[str, Any]) -> Any:
    outcome = await moderation.stop_conversation(
        r.db,
        staff_id=_id(p),
        conversation_id=data["conversation_id"],
        now=r.now(),
        wrap_up_seconds=r.settings.wrap_up_seconds,
    )
    return await _tell_outcome(r, outcome)


@action("candidate.block", ("moderator",), Field("candidate_id", int))
async def candidate_block(r: Resources, p: Principal, data: dict[str, Any]) -> Any:
    outcome = await moderation.block_candidate(
        r.db,
        staff_id=_id(p),
        candidate_id=data["candidate_id"],
        now=r.now(),
        wrap_up_seconds=r.settings.wrap_up_seconds,
    )
    return await _tell_outcome(r, outcome)


@action("candidate.unblock", ("moderator",), Field("candidate_id", int))
async def candidate_unblock(r: Resources, p: Principal, data: dict[str, Any]) -> Any:
    outcome = await moderation.unblock_candidate(
        r.db, staff_id=_id(p), candidate_id=data["candidate_id"], now=r.now()
    )
    return await _tell_outcome(r, outcome)


# -- announcements (the moderator speaks to the hall or to the advisors) ---------------------


@action(
    "announcement.create",
    ("moderator",),
    Field("text", str, max_length=announcements.TEXT_MAX),
    Field("audience", str, choices=announcements.AUDIENCES),
)
async def announcement_create(r: Resources, p: Principal, data: dict[str, Any]) -> Any:
    announcement, created = await announcements.create(
        r.db, staff_id=_id(p), audience=data["audience"], text=data["text"], now=r.now()
    )
    if created:
        await r.live.announcements_changed()
    return {"announcement_id": announcement.id, "created": created}


@action("announcement.end", ("moderator",), Field("announcement_id", int))
async def announcement_end(r: Resources, p: Principal, data: dict[str, Any]) -> Any:
    announcement = await announcements.end(
        r.db, staff_id=_id(p), announcement_id=data["announcement_id"], now=r.now()
    )
    await r.live.announcements_changed()
    return {"announcement_id": announcement.id}


# -- the end of the ten minutes: extending a conversation ------------------------------------


@action("conversation.extend", ("advisor",), Field("conversation_id", int))
async def conversation_extend(r: Resources, p: Principal, data: dict[str, Any]) -> Any:
    event = await load_event(r.db)
    done = await extension.extend(
        r.db, event, advisor_id=_id(p), conversation_id=data["conversation_id"], now=r.now()
    )
    # Both timers take the new end at once; the deadlines task tells the warning again.
    await r.live.conversation_signal(
        "conversation.extended",
        done.candidate_id,
        done.advisor_id,
        {
            "id": done.conversation_id,
            "ends_at": done.ends_at,
            "added_seconds": done.added_seconds,
            "extended_seconds": done.extended_seconds,
        },
    )
    await r.live.deadlines_moved()
    await r.live.candidate_changed(done.candidate_id)
    await r.live.booths_changed([done.booth_id])
    return {
        "conversation_id": done.conversation_id,
        "ends_at": done.ends_at,
        "added_seconds": done.added_seconds,
        "extended_seconds": done.extended_seconds,
    }


@action("conversation.allow_extension", ("moderator",), Field("conversation_id", int))
async def conversation_allow_extension(r: Resources, p: Principal, data: dict[str, Any]) -> Any:
    allowed = await extension.allow(
        r.db, staff_id=_id(p), conversation_id=data["conversation_id"], now=r.now()
    )
    await r.live.booths_changed([allowed.booth_id])
    return {"conversation_id": allowed.conversation_id}


# -- the call on the hall's own page (app.domain.calls) ---------------------------------


@action(
    "call.signal",
    ("candidate", "advisor"),
    Field("token", str, max_length=TOKEN_MAX),
    Field("kind", str, choices=calls.SIGNAL_KINDS),
    Field("peer", str, max_length=calls.PEER_MAX),
    Field("to", str, required=False, max_length=calls.PEER_MAX),
    Field("sdp", str, required=False, max_length=calls.SDP_MAX),
    Field("candidate", str, required=False, max_length=calls.CANDIDATE_MAX),
    Field("sdp_mid", str, required=False, max_length=calls.SDP_MID_MAX),
    Field("audio", bool, required=False),
    Field("video", bool, required=False),
    Field("audio_only", bool, required=False),
)
async def call_signal(r: Resources, p: Principal, data: dict[str, Any]) -> Any:
    call = await calls.running(r.db, data["token"], role=p.role, person_id=p.id)
    message = calls.signal(data["kind"], data)
    # To the other participant only; their call page picks it up, their other pages not.
    await r.hub.publish(
        call.topic_of(call.other_role(p.role)),
        "call.signal",
        {"token": call.token, "from": p.role, **message},
    )
    return {"kind": message["kind"]}


@action(
    "call.fallback",
    ("candidate", "advisor"),
    Field("token", str, max_length=TOKEN_MAX),
    Field("choice", str, choices=calls.FALLBACKS),
)
async def call_fallback(r: Resources, p: Principal, data: dict[str, Any]) -> Any:
    call = await calls.running(r.db, data["token"], role=p.role, person_id=p.id)
    url = calls.fallback_url(call, data["choice"])
    told = {"token": call.token, "choice": data["choice"], "url": url, "from": p.role}
    await r.hub.publish(call.topic_of(call.other_role(p.role)), "call.fallback", told)
    return {"choice": data["choice"], "url": url}


@action(
    "call.phone_me",
    ("candidate",),
    Field("token", str, max_length=TOKEN_MAX),
    Field("phone", str, max_length=PHONE_MAX),
    Field("agree", bool),
)
async def call_phone_me(r: Resources, p: Principal, data: dict[str, Any]) -> Any:
    call = await calls.ask_phone(
        r.db,
        data["token"],
        candidate_id=_id(p),
        phone=data["phone"],
        agree=data["agree"],
        now=r.now(),
    )
    told = {
        "token": call.token,
        "choice": "phone",
        "phone": call.callback_phone,
        "name": call.candidate_name,
        "from": "candidate",
    }
    await r.hub.publish(call.topic_of("advisor"), "call.fallback", told)
    return {"choice": "phone", "phone": call.callback_phone}
