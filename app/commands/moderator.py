"""Commands a moderator gives during the event: open and close the event and single booths,
move a waiting request, end a stuck conversation, block and unblock a candidate, allow an
extension, and make and end announcements. The steps in ``app.domain.moderation`` return
their ``Outcome`` themselves."""

from __future__ import annotations

from typing import Any

from app.commands.envelope import Field
from app.commands.registry import action, person_id
from app.domain import announcements, extension, moderation
from app.domain.outcome import Outcome
from app.domain.principals import Principal
from app.live.resources import Resources


@action("event.open", ("moderator",))
async def event_open(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    return await moderation.set_event_open(r.db, staff_id=person_id(p), is_open=True, now=r.now())


@action("event.close", ("moderator",))
async def event_close(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    return await moderation.set_event_open(r.db, staff_id=person_id(p), is_open=False, now=r.now())


@action("booth.open", ("moderator",), Field("booth_id", int))
async def booth_open(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    return await moderation.set_booth_closed(
        r.db, staff_id=person_id(p), booth_id=data["booth_id"], closed=False, now=r.now()
    )


@action(
    "booth.close",
    ("moderator",),
    Field("booth_id", int),
    Field("waiting", int, required=False, minimum=0),
)
async def booth_close(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    # ``waiting``: how many waiting candidates the moderator was shown and confirmed ending.
    return await moderation.set_booth_closed(
        r.db,
        staff_id=person_id(p),
        booth_id=data["booth_id"],
        closed=True,
        now=r.now(),
        at_most=data.get("waiting"),
    )


@action(
    "request.move",
    ("moderator",),
    Field("request_id", int),
    Field("booth_id", int),
    Field("advisor_id", int, required=False),
)
async def request_move(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    return await moderation.move_request(
        r.db,
        staff_id=person_id(p),
        request_id=data["request_id"],
        booth_id=data["booth_id"],
        advisor_id=data["advisor_id"],
        now=r.now(),
    )


@action("conversation.stop", ("moderator",), Field("conversation_id", int))
async def conversation_stop(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    return await moderation.stop_conversation(
        r.db,
        staff_id=person_id(p),
        conversation_id=data["conversation_id"],
        now=r.now(),
        wrap_up_seconds=r.settings.wrap_up_seconds,
    )


@action("candidate.block", ("moderator",), Field("candidate_id", int))
async def candidate_block(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    return await moderation.block_candidate(
        r.db,
        staff_id=person_id(p),
        candidate_id=data["candidate_id"],
        now=r.now(),
        wrap_up_seconds=r.settings.wrap_up_seconds,
    )


@action("candidate.unblock", ("moderator",), Field("candidate_id", int))
async def candidate_unblock(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    return await moderation.unblock_candidate(
        r.db, staff_id=person_id(p), candidate_id=data["candidate_id"], now=r.now()
    )


@action("conversation.allow_extension", ("moderator",), Field("conversation_id", int))
async def conversation_allow_extension(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    allowed = await extension.allow(
        r.db, staff_id=person_id(p), conversation_id=data["conversation_id"], now=r.now()
    )
    return Outcome(reply={"conversation_id": allowed.conversation_id}, booth_ids={allowed.booth_id})


# -- announcements (the moderator speaks to the hall or to the advisors) ---------------------


@action(
    "announcement.create",
    ("moderator",),
    Field("text", str, max_length=announcements.TEXT_MAX),
    Field("audience", str, choices=announcements.AUDIENCES),
)
async def announcement_create(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    announcement, created = await announcements.create(
        r.db, staff_id=person_id(p), audience=data["audience"], text=data["text"], now=r.now()
    )
    return Outcome(
        reply={"announcement_id": announcement.id, "created": created}, announcements=created
    )


@action("announcement.end", ("moderator",), Field("announcement_id", int))
async def announcement_end(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    announcement = await announcements.end(
        r.db, staff_id=person_id(p), announcement_id=data["announcement_id"], now=r.now()
    )
    return Outcome(reply={"announcement_id": announcement.id}, announcements=True)
