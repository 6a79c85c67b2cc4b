"""The moderator steps in: opens and closes the event and single booths, moves a waiting
request, ends a stuck conversation, blocks (and unblocks) a candidate.

Every step is one transaction that checks its rule, makes the change and writes its audit
entry (``app.domain.audit``) together: a refused step changes nothing and records nothing. What
changed is returned as a ``Step``, an ``Outcome`` (``app.domain.outcome``) that also counts
the waiting requests and running conversations it ended (its reply), so the people concerned
are told after the commit.

Candidates whose waiting request ends this way are told why by ``closed_reason``:
'event_closed', 'booth_closed' or 'blocked'. A moved request keeps its creation time, and
with it its place in line; ``moved_at`` tells the candidate it was moved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.core import names
from app.core.errors import DomainError
from app.domain import advisors, audit, sessions
from app.domain.event import Event
from app.domain.outcome import BLOCKED as REVOKED_BLOCKED
from app.domain.outcome import Outcome
from app.domain.queue import REQUEST_COLUMNS, advisor_status_at, request_from_row
from app.storage.db import Database, Transaction

EVENT_CLOSED = "event_closed"
BOOTH_CLOSED = "booth_closed"
BLOCKED = "blocked"


@dataclass
class Step(Outcome):
    """What one step changed, for telling the people concerned after the commit, with how
    many waiting requests and running conversations it ended."""

    requests_ended: int = 0
    conversations_ended: int = 0

    @property
    def revoked_candidate_ids(self) -> set[int]:
        """Candidates whose sessions ended (blocked)."""
        return set(self.revoked_candidates)

    def done(self) -> Step:
        """The step as told to the moderator who took it: the counts are the reply."""
        self.reply = {
            "requests_ended": self.requests_ended,
            "conversations_ended": self.conversations_ended,
        }
        return self


async def _end_waiting(
    tx: Transaction, where: str, params: tuple[Any, ...], reason: str, now: float, out: Step
) -> None:
    rows = await tx.fetchall(
        f"UPDATE requests SET status = 'cancelled', closed_at = ?, closed_reason = ? "
        f"WHERE status = 'waiting' AND {where} RETURNING {REQUEST_COLUMNS}",
        (now, reason, *params),
    )
    for row in rows:
        request = request_from_row(row)
        out.booth_ids.add(request.booth_id)
        out.candidate_ids.add(request.candidate_id)
    out.requests_ended += len(rows)


def _requests_ended(out: Step) -> audit.Detail:
    return audit.Detail("requests_ended", {"count": out.requests_ended})


class MoreWaiting(DomainError):
    """More requests wait at the booth than the moderator was shown and confirmed ending.
    Nothing changed; ``waiting`` is how many wait now, for asking again."""

    def __init__(self, booth_id: int, waiting: int, confirmed: int) -> None:
        super().__init__("moderation.more_waiting", waiting=waiting)
        self.booth_id = booth_id
        self.waiting = waiting
        self.confirmed = confirmed


async def _end_conversation(
    tx: Transaction, conversation_id: int, now: float, wrap_up_seconds: int, out: Step
) -> bool:
    """End a running conversation the way its advisor would: the advisor wraps up."""
    row = await tx.fetchone(
        "UPDATE conversations SET ended_at = ? WHERE id = ? AND ended_at IS NULL "
        "RETURNING booth_id, advisor_id, candidate_id",
        (now, conversation_id),
    )
    if row is None:
        return False
    await advisors.start_wrap_up(tx, row["advisor_id"], now, wrap_up_seconds)
    out.booth_ids.add(row["booth_id"])
    out.candidate_ids.add(row["candidate_id"])
    out.deadlines = True
    out.conversations_ended += 1
    return True


# -- the event and the booths ----------------------------------------------------------------


async def set_event_open(db: Database, *, staff_id: int, is_open: bool, now: float) -> Step:
    """Open or close the whole event. Closing ends every waiting request kindly; running
    conversations go on."""
    out = Step(hall=True)
    async with db.transaction() as tx:
        changed = await tx.execute(
            "UPDATE event SET is_open = ? WHERE id = 1 AND is_open != ?",
            (int(is_open), int(is_open)),
        )
        if changed == 0:
            raise DomainError("moderation.no_change")
        if not is_open:
            await _end_waiting(tx, "TRUE", (), EVENT_CLOSED, now, out)
        await audit.record(
            tx,
            staff_id=staff_id,
            action="event.open" if is_open else "event.close",
            subject="event",
            detail=None if is_open else _requests_ended(out),
            at=now,
        )
    return out.done()


async def _waiting_at(db: Database | Transaction, booth_id: int) -> int:
    row = await db.fetchone(
        "SELECT COUNT(*) AS n FROM requests WHERE booth_id = ? AND status = 'waiting'",
        (booth_id,),
    )
    return int(row["n"]) if row is not None else 0


async def _live_booth(tx: Transaction, booth_id: int) -> Any:
    row = await tx.fetchone(
        "SELECT id, closed FROM booths WHERE id = ? AND removed_at IS NULL", (booth_id,)
    )
    if row is None:
        raise DomainError("booth.not_found", field="booth_id")
    return row


async def set_booth_closed(
    db: Database,
    *,
    staff_id: int,
    booth_id: int,
    closed: bool,
    now: float,
    at_most: int | None = None,
) -> Step:
    """Close a booth (whatever its schedule says) or open it again. Closing ends its waiting
    requests kindly; its running conversations go on. Opening it again does not bring those
    requests back.

    ``at_most`` is how many waiting requests the moderator was shown when they confirmed
    closing. When more wait by now (candidates joined since the page was drawn), nothing
    changes and ``MoreWaiting`` says how many, so the moderator is asked again with the new
    number rather than ending more than they agreed to. Fewer is fine: those who left or were
    taken in the meantime are no longer ended. The count and the closing are one
    transaction, so nobody can join in between."""
    out = Step(booth_ids={booth_id})
    async with db.transaction() as tx:
        booth = await _live_booth(tx, booth_id)
        if bool(booth["closed"]) == closed:
            raise DomainError("moderation.no_change")
        if closed and at_most is not None:
            waiting = await _waiting_at(tx, booth_id)
            if waiting > at_most:
                raise MoreWaiting(booth_id, waiting, at_most)
        await tx.execute("UPDATE booths SET closed = ? WHERE id = ?", (int(closed), booth_id))
        if closed:
            await _end_waiting(tx, "booth_id = ?", (booth_id,), BOOTH_CLOSED, now, out)
        await audit.record(
            tx,
            staff_id=staff_id,
            action="booth.close" if closed else "booth.open",
            subject=f"booth:{booth_id}",
            detail=_requests_ended(out) if closed else None,
            at=now,
        )
    return out.done()


# -- one request, one conversation -----------------------------------------------------------


async def move_request(
    db: Database,
    *,
    staff_id: int,
    request_id: int,
    booth_id: int,
    advisor_id: int | None,
    now: float,
) -> Step:
    """Move a waiting request to another booth, or to one advisor (of that booth). It keeps
    its creation time, so its place in line is where its waiting time puts it."""
    out = Step()
    async with db.transaction() as tx:
        row = await tx.fetchone(
            f"SELECT {REQUEST_COLUMNS} FROM requests WHERE id = ?", (request_id,)
        )
        if row is None:
            raise DomainError("request.not_found", field="request_id")
        request = request_from_row(row)
        if request.status != "waiting":
            raise DomainError("request.not_waiting")
        booth = await _live_booth(tx, booth_id)
        if booth["closed"]:
            raise DomainError("booth.closed_by_moderator", field="booth_id")
        if (
            advisor_id is not None
            and await advisor_status_at(tx, booth_id, advisor_id) == "offline"
        ):
            raise DomainError("advisor.not_present", field="advisor_id")
        if (request.booth_id, request.advisor_id) == (booth_id, advisor_id):
            raise DomainError("moderation.no_change")
        await tx.execute(
            "UPDATE requests SET booth_id = ?, advisor_id = ?, moved_at = ?, "
            # A readiness prompt was for the old place (app.domain.readiness): asked anew there.
            "ready_asked_at = NULL, ready_until = NULL, ready_at = NULL, ready_extended = 0 "
            "WHERE id = ?",
            (booth_id, advisor_id, now, request_id),
        )
        await audit.record(
            tx,
            staff_id=staff_id,
            action="request.move",
            subject=f"request:{request_id}",
            detail=audit.Detail(
                "request_moved",
                {
                    "from_booth": request.booth_id,
                    "from_advisor": request.advisor_id,
                    "to_booth": booth_id,
                    "to_advisor": advisor_id,
                },
            ),
            at=now,
        )
    out.booth_ids |= {request.booth_id, booth_id}
    out.candidate_ids.add(request.candidate_id)
    return out.done()


async def stop_conversation(
    db: Database, *, staff_id: int, conversation_id: int, now: float, wrap_up_seconds: int
) -> Step:
    """End a stuck conversation as if its advisor had: the advisor wraps up and is free."""
    out = Step()
    async with db.transaction() as tx:
        if not await _end_conversation(tx, conversation_id, now, wrap_up_seconds, out):
            exists = await tx.fetchone(
                "SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)
            )
            raise DomainError("conversation.ended" if exists else "conversation.not_found")
        (booth_id,) = out.booth_ids
        await audit.record(
            tx,
            staff_id=staff_id,
            action="conversation.stop",
            subject=f"conversation:{conversation_id}",
            detail=audit.Detail("at_booth", {"booth": booth_id}),
            at=now,
        )
    return out.done()


# -- candidates ------------------------------------------------------------------------------


async def _same_person(tx: Transaction, candidate_id: int) -> tuple[Any, list[int]]:
    """The candidate, and every candidate record with the same e-mail address: a person
    who signed in twice (two browsers) is blocked and unblocked as one."""
    row = await tx.fetchone(
        "SELECT id, email, blocked_at FROM candidates WHERE id = ? AND erased_at IS NULL",
        (candidate_id,),
    )
    if row is None:
        raise DomainError("candidate.not_found", field="candidate_id")
    ids = [candidate_id]
    if row["email"]:
        others = await tx.fetchall(
            "SELECT id FROM candidates WHERE lower(email) = lower(?) AND id != ? "
            "AND erased_at IS NULL",
            (row["email"], candidate_id),
        )
        ids += [r["id"] for r in others]
    return row, ids


async def block_candidate(
    db: Database, *, staff_id: int, candidate_id: int, now: float, wrap_up_seconds: int
) -> Step:
    """Block a candidate: their waiting request and running conversation end, their
    sessions end, and they cannot ask for a conversation or sign in with that e-mail address
    again until unblocked."""
    out = Step()
    async with db.transaction() as tx:
        row, ids = await _same_person(tx, candidate_id)
        if row["blocked_at"] is not None:
            raise DomainError("moderation.no_change")
        marks = ", ".join("?" for _ in ids)
        await tx.execute(
            f"UPDATE candidates SET blocked_at = ?, blocked_by = ? "
            f"WHERE id IN ({marks}) AND blocked_at IS NULL",
            (now, staff_id, *ids),
        )
        await _end_waiting(tx, f"candidate_id IN ({marks})", tuple(ids), BLOCKED, now, out)
        running = await tx.fetchall(
            f"SELECT id FROM conversations WHERE candidate_id IN ({marks}) AND ended_at IS NULL",
            tuple(ids),
        )
        for conversation in running:
            await _end_conversation(tx, conversation["id"], now, wrap_up_seconds, out)
        ended_sessions = 0
        for one in ids:
            ended_sessions += await sessions.end_all_of_candidate(tx, one)
        out.candidate_ids |= set(ids)
        out.revoked_candidates |= dict.fromkeys(ids, REVOKED_BLOCKED)
        await audit.record(
            tx,
            staff_id=staff_id,
            action="candidate.block",
            subject=f"candidate:{candidate_id}",
            detail=audit.Detail(
                "candidate_blocked",
                {
                    "requests": out.requests_ended,
                    "conversations": out.conversations_ended,
                    "sessions": ended_sessions,
                },
            ),
            at=now,
        )
    return out.done()


async def unblock_candidate(db: Database, *, staff_id: int, candidate_id: int, now: float) -> Step:
    """Lift a block: the candidate may sign in and ask for conversations again."""
    async with db.transaction() as tx:
        row, ids = await _same_person(tx, candidate_id)
        if row["blocked_at"] is None:
            raise DomainError("moderation.no_change")
        marks = ", ".join("?" for _ in ids)
        await tx.execute(
            f"UPDATE candidates SET blocked_at = NULL, blocked_by = NULL WHERE id IN ({marks})",
            tuple(ids),
        )
        await audit.record(
            tx,
            staff_id=staff_id,
            action="candidate.unblock",
            subject=f"candidate:{candidate_id}",
            at=now,
        )
    return Step().done()


# -- what the step-in page shows -------------------------------------------------------------


def first_name(name: str) -> str:
    """Only the first name: enough to tell people in a line apart."""
    parts = name.split()
    return parts[0] if parts else ""


async def step_in_view(db: Database, event: Event, now: float) -> dict[str, Any]:
    """Every booth with its waiting requests and running conversations, the places a
    request can be moved to, and the blocked candidates."""
    booth_rows = await db.fetchall(
        "SELECT id, name, kind, sector, closed FROM booths WHERE removed_at IS NULL "
        "ORDER BY position, name"
    )
    advisor_rows = await db.fetchall(
        "SELECT id, name, booth_id, status FROM staff WHERE role = 'advisor' AND active = 1 "
        "AND booth_id IS NOT NULL"
    )
    advisor_rows = names.sorted_by_name(advisor_rows)
    waiting_rows = await db.fetchall(
        "SELECT r.id, r.booth_id, r.advisor_id, r.candidate_id, r.created_at, r.moved_at, "
        "c.name AS candidate_name FROM requests r JOIN candidates c ON c.id = r.candidate_id "
        "WHERE r.status = 'waiting' ORDER BY r.line_at, r.id"
    )
    running_rows = await db.fetchall(
        "SELECT c.id, c.booth_id, c.advisor_id, c.candidate_id, c.started_at, c.ends_at, "
        "c.extension_allowed_by, "
        "s.name AS advisor_name, k.name AS candidate_name FROM conversations c "
        "JOIN staff s ON s.id = c.advisor_id JOIN candidates k ON k.id = c.candidate_id "
        "WHERE c.ended_at IS NULL ORDER BY c.started_at"
    )
    advisor_names = {a["id"]: a["name"] for a in advisor_rows}
    booths: list[dict[str, Any]] = []
    by_id: dict[int, dict[str, Any]] = {}
    for b in booth_rows:
        view = {
            "id": b["id"],
            "name": b["name"],
            "kind": b["kind"],
            "sector": b["sector"],
            "closed": bool(b["closed"]),
            "advisors": [dict(a) for a in advisor_rows if a["booth_id"] == b["id"]],
            "waiting": [],
            "running": [],
        }
        booths.append(view)
        by_id[b["id"]] = view
    for w in waiting_rows:
        booth = by_id.get(w["booth_id"])
        if booth is None:
            continue
        # The place in line the way the queue counts it: those before who compete for the
        # same advisor(s).
        ahead = sum(
            1
            for o in booth["waiting"]
            if w["advisor_id"] is None or o["advisor_id"] in (None, w["advisor_id"])
        )
        booth["waiting"].append(
            {
                "id": w["id"],
                "candidate_id": w["candidate_id"],
                "first_name": first_name(w["candidate_name"]),
                "advisor_id": w["advisor_id"],
                "advisor_name": advisor_names.get(w["advisor_id"] or 0, ""),
                "created_at": w["created_at"],
                "moved_at": w["moved_at"],
                "position": ahead + 1,
            }
        )
    for c in running_rows:
        booth = by_id.get(c["booth_id"])
        if booth is None:
            continue
        booth["running"].append(
            {
                "id": c["id"],
                "candidate_id": c["candidate_id"],
                "first_name": first_name(c["candidate_name"]),
                "advisor_name": c["advisor_name"],
                "started_at": c["started_at"],
                "ends_at": c["ends_at"],
                "overtime_seconds": max(0, int(now - c["ends_at"])),
                "extension_allowed": c["extension_allowed_by"] is not None,
            }
        )
    blocked = await db.fetchall(
        "SELECT c.id, c.name, c.blocked_at, COALESCE(s.name, '') AS blocked_by_name "
        "FROM candidates c LEFT JOIN staff s ON s.id = c.blocked_by "
        "WHERE c.blocked_at IS NOT NULL AND c.erased_at IS NULL ORDER BY c.blocked_at DESC"
    )
    return {
        "event_open": event.is_open,
        "booths": booths,
        "targets": [b for b in booths if not b["closed"]],
        "blocked": [
            {
                "id": b["id"],
                "first_name": first_name(b["name"]),
                "blocked_at": b["blocked_at"],
                "blocked_by": b["blocked_by_name"],
            }
            for b in blocked
        ],
    }
