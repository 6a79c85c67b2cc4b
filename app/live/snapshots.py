"""What each audience sees: the hall, a candidate's own state, an advisor's console, the
moderator's overview. Plain JSON-ready dicts, built from committed state, used both for the
first server-rendered paint and for what is pushed over the WebSocket.

They are read often (the hall and the consoles again after every change at a booth), so each
is built from a few set-based reads, whatever the number of booths, advisors or candidates:
every booth with its schedule in one read, every advisor with the start of their running
conversation in one, the queue lengths and measured conversation lengths in one; the views
per booth and per candidate are then worked out here from those rows.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from typing import Any

from app.core import names
from app.domain import booths, conversations, dashboard, estimate, feedback, queue
from app.domain.advisors import PRESENT
from app.domain.event import Event
from app.domain.extension import Settings as ExtensionSettings
from app.domain.extension import console_view_of as extension_view
from app.domain.followups import console_list as follow_up_list
from app.domain.transfer import transfer_targets
from app.storage.db import Database, Row

# The order of names (app.core.names), kept per name: advisors' names seldom change.
_name_key = functools.lru_cache(maxsize=4096)(names.sort_key)
# The columns of a conversation, read alongside other tables (prefixed "c.").
_CONVERSATION = ", ".join(f"c.{f.name}" for f in fields(conversations.Conversation))
# The columns of a request, read alongside other tables (prefixed "r.").
_REQUEST = ", ".join(f"r.{name}" for name in queue.REQUEST_COLUMNS.split(", "))


@dataclass
class _AdvisorRow:
    id: int
    name: str
    booth_id: int
    status: str
    status_since: float
    wrap_up_until: float | None
    # When the conversation they are in started; None when they are in none.
    conversation_started_at: float | None


async def _advisors(db: Database, booth_id: int | None) -> list[_AdvisorRow]:
    """The active advisors (of one booth, or all) in name order, with their running
    conversation's start: one read. An advisor has at most one running conversation (a
    unique index)."""
    sql = (
        "SELECT s.id, s.name, s.booth_id, s.status, s.status_since, s.wrap_up_until, "
        "c.started_at AS conversation_started_at FROM staff s "
        "LEFT JOIN conversations c ON c.advisor_id = s.id AND c.ended_at IS NULL "
        "WHERE s.role = 'advisor' AND s.active = 1"
    )
    params: tuple[Any, ...] = ()
    if booth_id is not None:
        sql += " AND s.booth_id = ?"
        params = (booth_id,)
    advisors = [_AdvisorRow(**dict(r)) for r in await db.fetchall(sql, params)]
    # A Dutch reader's order, as ORDER BY name COLLATE DUTCH_NAME, id would give, but sorted
    # here: the collation works out both names' keys at every comparison (most of the hall's
    # time), here each name's key is worked out once and kept.
    return sorted(advisors, key=lambda a: (_name_key(a.name), a.id))


def _states(advisors: list[_AdvisorRow]) -> list[estimate.AdvisorState]:
    return [
        estimate.AdvisorState(a.status, a.conversation_started_at, a.wrap_up_until)
        for a in advisors
    ]


async def booth_views(
    db: Database, event: Event, now: float, booth_id: int | None = None
) -> list[dict[str, Any]]:
    """The hall's view of every booth (or of the one booth): three reads however many."""
    local_now = event.local(now)
    hall_booths = await booths.with_slots(db, local_now.date(), booth_id)
    if not hall_booths:
        return []
    by_booth: dict[int, list[_AdvisorRow]] = {}
    for advisor in await _advisors(db, booth_id):
        by_booth.setdefault(advisor.booth_id, []).append(advisor)
    figures = await estimate.booth_figures(db, event.conversation_seconds)

    views = []
    for booth, slots in hall_booths:
        staff = by_booth.get(booth.id, [])
        waiting = figures.waiting.get(booth.id, 0)
        opening = booths.opening(slots, local_now)
        present = any(a.status in PRESENT for a in staff)
        open_now = booths.takes_requests(
            opening, present=present, closed=booth.closed, event_open=event.is_open
        )
        wait = estimate.estimate(
            waiting + 1, _states(staff), now, figures.lengths.for_booth(booth.id)
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


@dataclass(frozen=True)
class _Waiting:
    """A waiting request in its booth's line, with what the views add to it."""

    entry: queue.QueueEntry
    booth_name: str
    # Transferred here: the booth it came from and the note (app.domain.transfer); else "".
    transferred_from: str
    transfer_note: str


async def _line(db: Database, booth_id: int) -> list[_Waiting]:
    """A booth's waiting requests in line order, with their places and where transferred
    ones came from: one read."""
    rows = await db.fetchall(
        f"SELECT {_REQUEST}, k.name AS candidate_name, COALESCE(b.name, '') AS booth_name, "
        "ob.name AS origin_booth, r.transfer_note AS origin_note FROM requests r "
        "JOIN candidates k ON k.id = r.candidate_id "
        "LEFT JOIN booths b ON b.id = r.booth_id "
        "LEFT JOIN conversations oc ON oc.id = r.transferred_from "
        "LEFT JOIN booths ob ON ob.id = oc.booth_id "
        "WHERE r.booth_id = ? AND r.status = 'waiting' ORDER BY r.line_at, r.id",
        (booth_id,),
    )
    line = []
    for row in rows:
        data = dict(row)
        name, booth_name = data.pop("candidate_name"), data.pop("booth_name")
        origin, note = data.pop("origin_booth"), data.pop("origin_note")
        # Only a transfer whose conversation and booth are known shows where it came from.
        if origin is None:
            origin, note = "", ""
        line.append((queue.request_from_row(data), name, booth_name, origin, note))
    waiting = [request for request, *_ in line]
    return [
        _Waiting(
            queue.QueueEntry(request, name, queue.position_in(request, waiting)),
            booth_name,
            origin,
            note,
        )
        for request, name, booth_name, origin, note in line
    ]


async def waiting_request_views(
    db: Database, event: Event, booth_id: int, now: float
) -> dict[int, dict[str, Any]]:
    """The view of each waiting request at one booth, keyed by candidate id: three reads."""
    line = await _line(db, booth_id)
    if not line:
        return {}
    advisors = await _advisors(db, booth_id)
    lengths = await estimate.measured_lengths(db, event.conversation_seconds)
    length = lengths.for_booth(booth_id)
    advisor_names = {a.id: a.name for a in advisors}
    views = {}
    for waiting in line:
        request = waiting.entry.request
        relevant = [a for a in advisors if request.advisor_id in (None, a.id)]
        wait = estimate.estimate(waiting.entry.position, _states(relevant), now, length)
        views[request.candidate_id] = _request_view(
            request,
            position=waiting.entry.position,
            wait=wait,
            booth_name=waiting.booth_name,
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
    like = None if closed is None else (closed.kind, closed.sector)
    return await _suggestions(db, event, booth_id, like, now, limit)


async def _suggestions(
    db: Database,
    event: Event,
    booth_id: int,
    like: tuple[str, str] | None,
    now: float,
    limit: int = 3,
) -> list[dict[str, Any]]:
    """``suggestions_for``, given the closed booth's kind and sector (None: not known)."""
    if not event.is_open:
        return []
    open_views = [
        v
        for v in await booth_views(db, event, now)
        if v["id"] != booth_id and not v["closed"] and (v["open_now"] or v["present"])
    ]
    if like is not None:
        kind, sector = like
        open_views.sort(key=lambda v: v["kind"] != kind and v["sector"] != sector)
    return [
        {
            "id": v["id"],
            "name": v["name"],
            "wait_minutes": v["wait_minutes"],
            "wait_range": v["wait_range"],
        }
        for v in open_views[:limit]
    ]


@dataclass(frozen=True)
class _Latest:
    """A candidate's latest request, with what their view shows of its booth and advisor."""

    request: queue.Request
    booth_name: str
    advisor_name: str
    # The booth's kind and sector, to suggest booths like it; None when it is not known.
    like: tuple[str, str] | None


async def _latest_request(db: Database, candidate_id: int) -> _Latest | None:
    """A candidate's latest request with the names of its booth and advisor ("" when not
    known): one read."""
    row = await db.fetchone(
        f"SELECT {_REQUEST}, b.name AS booth_name, b.kind AS booth_kind, "
        "b.sector AS booth_sector, s.name AS advisor_name FROM requests r "
        "LEFT JOIN booths b ON b.id = r.booth_id LEFT JOIN staff s ON s.id = r.advisor_id "
        "WHERE r.candidate_id = ? ORDER BY r.id DESC LIMIT 1",
        (candidate_id,),
    )
    if row is None:
        return None
    data = dict(row)
    known = data["booth_name"] is not None
    return _Latest(
        queue.request_from_row({name: data[name] for name in queue.REQUEST_COLUMNS.split(", ")}),
        data["booth_name"] or "",
        data["advisor_name"] or "",
        (data["booth_kind"], data["booth_sector"]) if known else None,
    )


def _conversation_of(row: Row) -> conversations.Conversation:
    return conversations.Conversation(
        **{f.name: row[f.name] for f in fields(conversations.Conversation)}
    )


def _joining(row: Row) -> dict[str, Any]:
    """The wire fields of joining the call (as ``app.domain.readiness.join_view``)."""
    return {
        "joined_at": row["joined_at"],
        "join_until": row["join_until"],
        "no_show": row["no_show_at"] is not None,
    }


async def candidate_state(
    db: Database, event: Event, candidate_id: int, now: float
) -> dict[str, Any]:
    """A candidate's own request and conversation; nobody else's data is in it."""
    latest = await _latest_request(db, candidate_id)
    # The running conversation, and the latest request's (which may have ended): the running
    # one is shown, else the latest request's when it was accepted.
    talks = await db.fetchall(
        f"SELECT {_CONVERSATION}, c.joined_at, c.join_until, c.no_show_at, "
        "COALESCE(b.name, '') AS booth_name, COALESCE(s.name, '') AS advisor_name "
        "FROM conversations c LEFT JOIN booths b ON b.id = c.booth_id "
        "LEFT JOIN staff s ON s.id = c.advisor_id "
        "WHERE (c.candidate_id = ? AND c.ended_at IS NULL) OR c.request_id = ?",
        (candidate_id, None if latest is None else latest.request.id),
    )
    talk = next(
        (t for t in talks if t["ended_at"] is None and t["candidate_id"] == candidate_id), None
    )
    request_view = None
    if latest is not None and latest.request.status == "waiting":
        views = await waiting_request_views(db, event, latest.request.booth_id, now)
        request_view = views.get(candidate_id)
    elif latest is not None:
        request_view = _request_view(
            latest.request,
            position=None,
            wait=None,
            booth_name=latest.booth_name,
            advisor_name=latest.advisor_name,
        )
        if latest.request.closed_reason == "booth_closed":
            request_view["suggestions"] = await _suggestions(
                db, event, latest.request.booth_id, latest.like, now
            )
    if talk is None and latest is not None and latest.request.status == "accepted":
        talk = next((t for t in talks if t["request_id"] == latest.request.id), None)
    conversation_view_ = None
    if talk is not None:
        conversation_view_ = conversation_view(
            _conversation_of(talk),
            event,
            booth_name=talk["booth_name"],
            advisor_name=talk["advisor_name"],
        )
        conversation_view_.update(_joining(talk))
    return {
        "request": request_view,
        "conversation": conversation_view_,
        # The last ended conversation, to rate or with the rating given.
        "feedback": await feedback.for_candidate(db, candidate_id),
    }


async def console_state(db: Database, event: Event, advisor_id: int, now: float) -> dict[str, Any]:
    """An advisor's console: own status, the booth's queue, the running conversation."""
    # The advisor, their booth, their running conversation with its candidate, and the
    # event's extension settings: one read.
    row = await db.fetchone(
        # The staff columns are renamed: the conversation's own (id, booth_id) come as they are.
        "SELECT s.id AS staff_id, s.name AS staff_name, s.status AS staff_status, "
        "s.status_since AS staff_status_since, s.booth_id AS staff_booth_id, "
        "b.name AS staff_booth_name, "
        f"{_CONVERSATION}, c.notes, c.joined_at, c.join_until, c.no_show_at, "
        "c.extended_seconds, c.extension_allowed_by, k.name AS candidate_name, "
        "CASE WHEN k.id IS NULL THEN '' ELSE r.question END AS question, "
        "e.extension_minutes, e.extension_max_minutes, e.extension_when_waiting "
        "FROM staff s JOIN booths b ON b.id = s.booth_id "
        "LEFT JOIN conversations c ON c.advisor_id = s.id AND c.ended_at IS NULL "
        "LEFT JOIN requests r ON r.id = c.request_id "
        "LEFT JOIN candidates k ON k.id = r.candidate_id "
        "LEFT JOIN event e ON e.id = 1 WHERE s.id = ?",
        (advisor_id,),
    )
    if row is None:
        return {"advisor": None, "queue": [], "conversation": None, "follow_ups": []}
    booth_id = row["staff_booth_id"]
    line = await _line(db, booth_id)
    visible = [w for w in line if w.entry.request.advisor_id in (None, advisor_id)]
    conversation_data = None
    if row["id"] is not None:
        conversation = _conversation_of(row)
        conversation_data = conversation_view(
            conversation,
            event,
            candidate_name=row["candidate_name"] or "",
            question=row["question"] or "",
        )
        # Notes are the booth's own: in the advisor's console, never in the candidate's view.
        conversation_data["notes"] = row["notes"]
        # The booths (and advisors) the candidate can be handed to (app.domain.transfer).
        conversation_data["transfer_targets"] = await transfer_targets(db, booth_id)
        # Whether the candidate joined the call yet (app.domain.readiness).
        conversation_data.update(_joining(row))
        # The choices at the warning: extend (app.domain.extension) or book a follow-up.
        settings = (
            ExtensionSettings()
            if row["extension_minutes"] is None
            else ExtensionSettings(
                int(row["extension_minutes"]),
                int(row["extension_max_minutes"]),
                bool(row["extension_when_waiting"]),
            )
        )
        conversation_data["extension"] = extension_view(
            settings,
            conversation.id,
            extended_seconds=int(row["extended_seconds"]),
            allowed_by=row["extension_allowed_by"],
            # Those waiting at the booth whom this advisor could take.
            waiting=len(visible),
        )
    return {
        "advisor": {
            "id": row["staff_id"],
            "name": row["staff_name"],
            "status": row["staff_status"],
            "status_since": row["staff_status_since"],
            "booth_id": booth_id,
            "booth_name": row["staff_booth_name"],
        },
        "queue": [
            {
                "request_id": w.entry.request.id,
                "candidate_name": w.entry.candidate_name,
                "question": w.entry.request.question,
                "created_at": w.entry.request.created_at,
                "for_me": w.entry.request.advisor_id == advisor_id,
                "position": w.entry.position,
                # Asked "Ben je er klaar voor?" and confirmed ("klaar"): app.domain.readiness.
                "ready_asked": w.entry.request.ready_asked_at is not None,
                "ready": w.entry.request.ready_at is not None,
                # Where a transferred request came from, and the note: for the booth's staff.
                "transferred_from": w.transferred_from,
                "transfer_note": w.transfer_note,
            }
            for w in visible
        ],
        "conversation": conversation_data,
        # The booth's follow-ups not over yet: this advisor's and the unassigned ones.
        "follow_ups": await follow_up_list(db, event, advisor_id, booth_id, now),
    }


async def overview(db: Database, event: Event, now: float) -> dict[str, Any]:
    """The moderator's dashboard state (see ``app.domain.dashboard``)."""
    return await dashboard.state(db, event, now)
