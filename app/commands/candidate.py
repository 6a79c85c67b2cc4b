"""Commands a candidate gives: ask for a conversation and cancel it, say they are ready (or
ask for more time), join the call, and rate the conversation afterwards."""

from __future__ import annotations

from typing import Any

from app.commands.envelope import Field
from app.commands.registry import action, person_id
from app.domain import feedback, queue, readiness, throttles
from app.domain.event import load_event
from app.domain.outcome import Outcome
from app.domain.principals import Principal
from app.live.resources import Resources


async def request_rate(r: Resources, p: Principal, data: dict[str, Any]) -> None:
    """At most ``requests_per_minute`` new requests per candidate; the same form sent again
    (the key of a request already made) is never refused."""
    await throttles.check_request_rate(
        r.db,
        candidate_id=person_id(p),
        client_key=data.get("client_key"),
        now=r.now(),
        limit=r.settings.requests_per_minute,
    )


@action(
    "request.create",
    ("candidate",),
    Field("booth_id", int),
    Field("advisor_id", int, required=False),
    Field("question", str, required=False, max_length=queue.QUESTION_MAX),
    Field("client_key", str, max_length=queue.CLIENT_KEY_MAX),
    throttle=request_rate,
)
async def request_create(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    event = await load_event(r.db)
    request, created = await queue.create_request(
        r.db,
        event,
        candidate_id=person_id(p),
        booth_id=data["booth_id"],
        advisor_id=data["advisor_id"],
        question=data["question"] or "",
        client_key=data["client_key"],
        now=r.now(),
        ttl_seconds=r.settings.request_ttl_seconds,
    )
    out = Outcome(reply={"request_id": request.id, "created": created})
    if created:
        out.deadlines = True
        out.booth_ids.add(request.booth_id)
    else:
        # The same command again: its first try may have been committed while its answer and
        # push were lost (the node died, the socket closed). The asker gets their state now,
        # or a client that resynchronised before that commit would never hear of it.
        out.candidate_ids.add(request.candidate_id)
    return out


@action("request.cancel", ("candidate",), Field("request_id", int))
async def request_cancel(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    request = await queue.cancel_request(
        r.db, candidate_id=person_id(p), request_id=data["request_id"], now=r.now()
    )
    return Outcome(
        reply={"request_id": request.id, "status": request.status},
        booth_ids={request.booth_id},
        candidate_ids={request.candidate_id},
    )


# -- readiness: "Ben je er klaar voor?" and joining the call (app.domain.readiness) ----------------


@action("request.ready", ("candidate",), Field("request_id", int))
async def request_ready(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    request = await readiness.confirm(
        r.db, candidate_id=person_id(p), request_id=data["request_id"], now=r.now()
    )
    return Outcome(
        reply={"request_id": request.id, "ready_at": request.ready_at},
        booth_ids={request.booth_id},
    )


@action("request.more_time", ("candidate",), Field("request_id", int))
async def request_more_time(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    request = await readiness.extend(
        r.db, candidate_id=person_id(p), request_id=data["request_id"], now=r.now()
    )
    return Outcome(
        reply={"request_id": request.id, "ready_until": request.ready_until},
        deadlines=True,
        candidate_ids={request.candidate_id},
    )


@action("conversation.join", ("candidate",), Field("conversation_id", int))
async def conversation_join(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    joined = await readiness.join(
        r.db, candidate_id=person_id(p), conversation_id=data["conversation_id"], now=r.now()
    )
    return Outcome(
        reply={
            "conversation_id": joined.conversation_id,
            "video_url": joined.video_url,
            "joined_at": joined.joined_at,
        },
        candidate_ids={joined.candidate_id},
        advisor_ids={joined.advisor_id},
    )


@action(
    "conversation.rate",
    ("candidate",),
    Field("conversation_id", int),
    Field("rating", int),
    Field("comment", str, required=False, max_length=feedback.COMMENT_MAX),
)
async def conversation_rate(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    given = await feedback.rate(
        r.db,
        candidate_id=person_id(p),
        conversation_id=data["conversation_id"],
        rating=data["rating"],
        comment=data["comment"] or "",
        now=r.now(),
    )
    return Outcome(
        reply={
            "conversation_id": given.conversation_id,
            "rating": given.rating,
            "comment": given.comment,
        },
        candidate_ids={person_id(p)},
    )
