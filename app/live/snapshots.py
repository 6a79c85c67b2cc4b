"""What each audience sees: the hall, a candidate's own state, an advisor's console, the
moderator's overview. Plain JSON-ready dicts, built from committed state, used both for the
first server-rendered paint and for what is pushed over the WebSocket.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from app.domain import booths, conversations, dashboard, estimate, feedback, queue, readiness
from app.domain.advisors import PRESENT
from app.domain.event import Event
from app.domain.extension import console_view as extension_view
from app.domain.followups import console_list as follow_up_list
from app.domain.transfer import origins_at_booth, transfer_targets
from app.storage.db import Database


@dataclass
class _AdvisorRow:
    id: int
    name: str
    booth_id: int
    status: str
    status_since: float
    wrap_up_until: float | None


async def _advisors(db: Database, booth_id: int | None) -> list[_AdvisorRow]:
    sql = (
        "SELECT id, name, booth_id, status, status_since, wrap_up_until FROM staff "
        "WHERE role = 'advisor' AND active = 1"
    )
    params: tuple[Any, ...] = ()
    if booth_id is not None:
        sql += " AND booth_id = ?"
        params = (booth_id,)
    rows = await db.fetchall(sql + " ORDER BY name COLLATE DUTCH_NAME", params)
    return [_AdvisorRow(**dict(r)) for r in rows]


async def _running_starts(db: Database) -> dict[int, float]:
    sql = "SELECT advisor_id, started_at FROM conversations WHERE ended_at IS NULL"
    rows = await db.fetchall(sql)
    return {r["advisor_id"]: r["started_at"] for r in rows}


def _states(advisors: list[_AdvisorRow], starts: dict[int, float]) -> list[estimate.AdvisorState]:
    return [estimate.AdvisorState(a.status, starts.get(a.id), a.wrap_up_until) for a in advisors]


async def booth_views(
    db: Database, event: Event, now: float, booth_id: int | None = None
) -> list[dict[str, Any]]:
    if booth_id is None:
        all_booths = await booths.list_booths(db)
    else:
        one = await booths.get_booth(db, booth_id)
        all_booths = [] if one is None else [one]
    advisors = await _advisors(db, booth_id)
    by_booth: dict[int, list[_AdvisorRow]] = defaultdict(list)
    for advisor in advisors:
        by_booth[advisor.booth_id].append(advisor)
    counts: dict[int, int] = {
        row[0]: row[1]
        for row in await db.fetchall(
            "SELECT booth_id, COUNT(*) FROM requests WHERE status = 'waiting' GROUP BY booth_id"
        )
    }
    running_starts = await _running_starts(db)
    lengths = await estimate.measured_lengths(db, event.conversation_seconds)
    local_now = event.local(now)
    slots_by_booth: dict[int, list[booths.Slot]] = defaultdict(list)
    for slot in await booths.slots_from(db, local_now.date(), booth_id):
        slots_by_booth[slot.booth_id].append(slot)

    views = []
    for booth in all_booths:
        staff = by_booth.get(booth.id, [])
        waiting = int(counts.get(booth.id, 0))
        opening = booths.opening(slots_by_booth.get(booth.id, []), local_now)
        present = any(a.status in PRESENT for a in staff)
        open_now = booths.takes_requests(
            opening, present=present, closed=booth.closed, event_open=event.is_open
        )
        wait = estimate.estimate(
            waiting + 1, _states(staff, running_starts), now, lengths.for_booth(booth.id)
        )
        views.append(
            {
                "id": booth.id,
                "slug": booth.slug,
                "name": booth.name,
                "kind": booth.kind,
                "sector": booth.sector,
                "offers": list(booth.offers),
                "description": booth.description,
                # Open now means taking requests now (booths.takes_requests): by the
                # schedule, or an advisor there before or after it; never when the moderator
                # closed the booth or the whole event. The opening hours are only shown when
                # it is not: a card that says "opens at nine" next to someone to zoom in with
                # would contradict itself.
                "open_now": open_now,
                "closed": booth.closed,
                "event_closed": not event.is_open,
                # Only a booth open by its schedule closes at a known time.
                "closes": opening.closes if open_now else None,
                "opens_day": opening.next_day.isoformat() if opening.next_day else None,
                "opens_time": opening.next_time,
                "present": present,
                "advisors": [
                    {"id": a.id, "name": a.name, "status": a.status, "since": a.status_since}
                    for a in staff
                ],
                "free": sum(1 for a in staff if a.status == "available"),
                "queue_length": waiting,
                **estimate.shown(wait),
            }
        )
    return views


async def hall(db: Database, event: Event, now: float) -> dict[str, Any]:
    return {
        "event": {"name": event.name, "timezone": event.timezone},
        "booths": await booth_views(db, event, now),
    }


def conversation_view(
    conversation: conversations.Conversation, event: Event, **names: str
) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "booth_id": conversation.booth_id,
        "video_url": conversation.video_url,
        # The call is on the hall's own page: both land there on accept (app.domain.calls).
        "builtin_call": conversation.call_token is not None,
        "started_at": conversation.started_at,
        "ends_at": conversation.ends_at,
        "warning_seconds": event.warning_seconds,
        "ended_at": conversation.ended_at,
        **names,
    }


async def _names(db: Database, booth_id: int, advisor_id: int | None) -> dict[str, str]:
    booth = await db.fetchvalue("SELECT name FROM booths WHERE id = ?", (booth_id,))
    names = {"booth_name": booth or ""}
    if advisor_id is not None:
        names["advisor_name"] = (
            await db.fetchvalue("SELECT name FROM staff WHERE id = ?", (advisor_id,)) or ""
        )
    return names


async def waiting_request_views(
    db: Database, event: Event, booth_id: int, now: float
) -> dict[int, dict[str, Any]]:
    """The view of each waiting request at one booth, keyed by candidate id."""
    entries = await queue.waiting_at_booth(db, booth_id)
    if not entries:
        return {}
    advisors = await _advisors(db, booth_id)
    running_starts = await _running_starts(db)
    lengths = await estimate.measured_lengths(db, event.conversation_seconds)
    length = lengths.for_booth(booth_id)
    names = await _names(db, booth_id, None)
    advisor_names = {a.id: a.name for a in advisors}
    views = {}
    for entry in entries:
        request = entry.request
        relevant = [a for a in advisors if request.advisor_id in (None, a.id)]
        wait = estimate.estimate(entry.position, _states(relevant, running_starts), now, length)
        views[request.candidate_id] = _request_view(
            request,
            position=entry.position,
            wait=wait,
            booth_name=names["booth_name"],
            advisor_name=advisor_names.get(request.advisor_id or 0, ""),
        )
    return views


def _request_view(
    request: queue.Request,
    *,
    position: int | None,
    wait: estimate.Wait | None,
    booth_name: str,
    advisor_name: str,
) -> dict[str, Any]:
    return {
        "id": request.id,
        "booth_id": request.booth_id,
        "booth_name": booth_name,
        "advisor_id": request.advisor_id,
        "advisor_name": advisor_name,
        "question": request.question,
        "status": request.status,
        "created_at": request.created_at,
        "closed_at": request.closed_at,
        "decline_message": request.decline_message,
        "closed_reason": request.closed_reason,
        "moved_at": request.moved_at,
        "position": position,
        # "Ben je er klaar voor?" (app.domain.readiness): asked when, until when, confirmed when.
        "ready_asked_at": request.ready_asked_at,
        "ready_until": request.ready_until,
        "ready_at": request.ready_at,
        "ready_extended": bool(request.ready_extended),
        **estimate.shown(wait),
    }


async def suggestions_for(
    db: Database, event: Event, booth_id: int, now: float, limit: int = 3
) -> list[dict[str, Any]]:
    """Other booths that take requests now, for a candidate whose booth was closed: those of
    the same kind or sector first."""
    if not event.is_open:
        return []
    closed = await booths.get_booth(db, booth_id, removed_too=True)
    open_views = [
        v
        for v in await booth_views(db, event, now)
        if v["id"] != booth_id and not v["closed"] and (v["open_now"] or v["present"])
    ]
    if closed is not None:
        open_views.sort(key=lambda v: v["kind"] != closed.kind and v["sector"] != closed.sector)
    return [
        {
            "id": v["id"],
            "name": v["name"],
            "wait_minutes": v["wait_minutes"],
            "wait_range": v["wait_range"],
        }
        for v in open_views[:limit]
    ]


async def candidate_state(
    db: Database, event: Event, candidate_id: int, now: float
) -> dict[str, Any]:
    """A candidate's own request and conversation; nobody else's data is in it."""
    conversation = await conversations.running_for_candidate(db, candidate_id)
    request_view = None
    conversation_view_ = None
    latest = await queue.latest_request_of(db, candidate_id)
    if latest is not None and latest.status == "waiting":
        request_view = (await waiting_request_views(db, event, latest.booth_id, now)).get(
            candidate_id
        )
    elif latest is not None:
        names = await _names(db, latest.booth_id, latest.advisor_id)
        request_view = _request_view(
            latest,
            position=None,
            wait=None,
            booth_name=names["booth_name"],
            advisor_name=names.get("advisor_name", ""),
        )
        if latest.closed_reason == "booth_closed":
            request_view["suggestions"] = await suggestions_for(db, event, latest.booth_id, now)
    if conversation is None and latest is not None and latest.status == "accepted":
        row = await db.fetchone("SELECT id FROM conversations WHERE request_id = ?", (latest.id,))
        if row is not None:
            conversation = await conversations.get_conversation(db, row["id"])
    if conversation is not None:
        names = await _names(db, conversation.booth_id, conversation.advisor_id)
        conversation_view_ = conversation_view(conversation, event, **names)
        conversation_view_.update(await readiness.join_view(db, conversation.id))
    return {
        "request": request_view,
        "conversation": conversation_view_,
        # The last ended conversation, to rate or with the rating given.
        "feedback": await feedback.for_candidate(db, candidate_id),
    }


async def console_state(db: Database, event: Event, advisor_id: int, now: float) -> dict[str, Any]:
    """An advisor's console: own status, the booth's queue, the running conversation."""
    row = await db.fetchone(
        "SELECT s.id, s.name, s.status, s.status_since, s.booth_id, b.name AS booth_name "
        "FROM staff s JOIN booths b ON b.id = s.booth_id WHERE s.id = ?",
        (advisor_id,),
    )
    if row is None:
        return {"advisor": None, "queue": [], "conversation": None, "follow_ups": []}
    entries = await queue.waiting_at_booth(db, row["booth_id"])
    visible = [e for e in entries if e.request.advisor_id in (None, advisor_id)]
    conversation = await conversations.running_for_advisor(db, advisor_id)
    conversation_data = None
    if conversation is not None:
        candidate = await db.fetchone(
            "SELECT c.name, r.question FROM candidates c JOIN requests r "
            "ON r.candidate_id = c.id WHERE r.id = ?",
            (conversation.request_id,),
        )
        conversation_data = conversation_view(
            conversation,
            event,
            candidate_name=candidate["name"] if candidate else "",
            question=candidate["question"] if candidate else "",
        )
        # Notes are the booth's own: in the advisor's console, never in the candidate's view.
        conversation_data["notes"] = await db.fetchvalue(
            "SELECT notes FROM conversations WHERE id = ?", (conversation.id,)
        )
        # The booths (and advisors) the candidate can be handed to (app.domain.transfer).
        conversation_data["transfer_targets"] = await transfer_targets(db, row["booth_id"])
        # Whether the candidate joined the call yet (app.domain.readiness).
        conversation_data.update(await readiness.join_view(db, conversation.id))
        # The choices at the warning: extend (app.domain.extension) or book a follow-up.
        conversation_data["extension"] = await extension_view(
            db, event, conversation.id, row["booth_id"], advisor_id
        )
    # Where a transferred request came from, and the note: for the booth's staff only.
    origins = await origins_at_booth(db, row["booth_id"])
    return {
        "advisor": dict(row),
        "queue": [
            {
                "request_id": e.request.id,
                "candidate_name": e.candidate_name,
                "question": e.request.question,
                "created_at": e.request.created_at,
                "for_me": e.request.advisor_id == advisor_id,
                "position": e.position,
                # Asked "Ben je er klaar voor?" and confirmed ("klaar"): app.domain.readiness.
                "ready_asked": e.request.ready_asked_at is not None,
                "ready": e.request.ready_at is not None,
                "transferred_from": origins.get(e.request.id, {}).get("transferred_from", ""),
                "transfer_note": origins.get(e.request.id, {}).get("transfer_note", ""),
            }
            for e in visible
        ],
        "conversation": conversation_data,
        # The booth's follow-ups not over yet: this advisor's and the unassigned ones.
        "follow_ups": await follow_up_list(db, event, advisor_id, row["booth_id"], now),
    }


async def overview(db: Database, event: Event, now: float) -> dict[str, Any]:
    """The moderator's dashboard state (see ``app.domain.dashboard``)."""
    return await dashboard.state(db, event, now)
