"""Commands an advisor gives at their console: their status, taking in or declining the next
request, ending, extending and transferring a conversation, and its notes (which moderators
may read too)."""

from __future__ import annotations

from typing import Any

from app.commands.envelope import Field
from app.commands.registry import action, person_id
from app.domain import advisors, conversations, extension, notes, queue
from app.domain.event import load_event
from app.domain.outcome import Extended, Outcome
from app.domain.principals import Principal
from app.domain.transfer import NOTE_MAX as TRANSFER_NOTE_MAX
from app.domain.transfer import transfer as transfer_candidate
from app.live.resources import Resources


@action(
    "advisor.status",
    ("advisor",),
    Field("status", str, choices=advisors.CHOOSABLE),
)
async def advisor_status(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    staff = await advisors.set_status(r.db, person_id(p), data["status"], r.now())
    assert staff.booth_id is not None
    return Outcome(reply={"status": staff.status}, booth_ids={staff.booth_id})


@action("request.accept", ("advisor",), Field("request_id", int, required=False))
async def request_accept(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    event = await load_event(r.db)
    conversation, request = await conversations.accept(
        r.db, event, advisor_id=person_id(p), request_id=data["request_id"], now=r.now()
    )
    return Outcome(
        reply={"conversation_id": conversation.id, "request_id": request.id},
        deadlines=True,
        started={(request.candidate_id, person_id(p))},
        booth_ids={request.booth_id},
    )


@action(
    "request.decline",
    ("advisor",),
    Field("request_id", int),
    Field("message", str, required=False, max_length=queue.DECLINE_MESSAGE_MAX),
)
async def request_decline(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    assert p.booth_id is not None
    request = await queue.decline_request(
        r.db,
        advisor_id=person_id(p),
        booth_id=p.booth_id,
        request_id=data["request_id"],
        message=data["message"] or "",
        now=r.now(),
    )
    return Outcome(
        reply={"request_id": request.id, "status": request.status},
        booth_ids={request.booth_id},
        candidate_ids={request.candidate_id},
    )


@action("conversation.end", ("advisor",), Field("conversation_id", int))
async def conversation_end(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    conversation = await conversations.end(
        r.db,
        advisor_id=person_id(p),
        conversation_id=data["conversation_id"],
        now=r.now(),
        wrap_up_seconds=r.settings.wrap_up_seconds,
    )
    return Outcome(
        reply={"conversation_id": conversation.id},
        deadlines=True,
        booth_ids={conversation.booth_id},
        candidate_ids={conversation.candidate_id},
    )


@action(
    "conversation.transfer",
    ("advisor",),
    Field("conversation_id", int),
    Field("booth_id", int),
    Field("advisor_id", int, required=False),
    Field("note", str, required=False, max_length=TRANSFER_NOTE_MAX),
)
async def conversation_transfer(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    event = await load_event(r.db)
    done = await transfer_candidate(
        r.db,
        event,
        advisor_id=person_id(p),
        conversation_id=data["conversation_id"],
        booth_id=data["booth_id"],
        to_advisor_id=data["advisor_id"],
        note=data["note"] or "",
        now=r.now(),
        ttl_seconds=r.settings.request_ttl_seconds,
        wrap_up_seconds=r.settings.wrap_up_seconds,
    )
    return Outcome(
        reply={"conversation_id": done.conversation_id, "request_id": done.request.id},
        deadlines=True,
        booth_ids={done.from_booth_id, done.request.booth_id},
        candidate_ids={done.request.candidate_id},
    )


# -- notes (advisors write them, moderators may read them) -------------------------------------


@action("conversation.notes", ("advisor", "moderator"), Field("conversation_id", int))
async def conversation_notes(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    found = await notes.notes_for(r.db, data["conversation_id"], role=p.role, booth_id=p.booth_id)
    return Outcome(
        reply={
            "conversation_id": found.conversation_id,
            "notes": found.notes,
            "notes_at": found.notes_at,
            "notes_by": found.notes_by_name,
        }
    )


@action(
    "conversation.note",
    ("advisor",),
    Field("conversation_id", int),
    Field("notes", str, max_length=notes.NOTES_MAX),
)
async def conversation_note(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    assert p.booth_id is not None
    saved = await notes.save_notes(
        r.db,
        advisor_id=person_id(p),
        booth_id=p.booth_id,
        conversation_id=data["conversation_id"],
        text=data["notes"],
        now=r.now(),
    )
    return Outcome(reply={"conversation_id": saved.conversation_id, "notes_at": saved.notes_at})


# -- the end of the ten minutes: extending a conversation ------------------------------------


@action("conversation.extend", ("advisor",), Field("conversation_id", int))
async def conversation_extend(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    event = await load_event(r.db)
    done = await extension.extend(
        r.db,
        event,
        advisor_id=person_id(p),
        conversation_id=data["conversation_id"],
        now=r.now(),
    )
    return Outcome(
        reply={
            "conversation_id": done.conversation_id,
            "ends_at": done.ends_at,
            "added_seconds": done.added_seconds,
            "extended_seconds": done.extended_seconds,
        },
        deadlines=True,
        extended={
            Extended(
                conversation_id=done.conversation_id,
                candidate_id=done.candidate_id,
                advisor_id=done.advisor_id,
                ends_at=done.ends_at,
                added_seconds=done.added_seconds,
                extended_seconds=done.extended_seconds,
            )
        },
        booth_ids={done.booth_id},
        candidate_ids={done.candidate_id},
    )
