"""The moderator steps in, as domain rules on a real SQLite file: open and close the event
and booths, move a waiting request, end a stuck conversation, block and unblock a
candidate. Every step writes its audit entry in the same transaction; every refusal changes
nothing and writes nothing."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from app.core.errors import DomainError, ValidationError
from app.domain import audit, candidates, conversations, moderation, queue, sessions
from app.domain.event import Event, load_event
from app.live import snapshots
from app.storage.db import Database, IntegrityError
from tests.servicekit import (
    count,
    make_advisor,
    make_booth,
    make_candidate,
    make_request,
    table_rows,
)

WRAP_UP = 30
TABLES = ("event", "booths", "requests", "conversations", "candidates", "staff", "sessions")


async def everything(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables a step may change, the audit log included."""
    return await table_rows(db, (*TABLES, "audit_log"))


async def refused(db: Database, code: str, step: Any) -> DomainError:
    """The step is refused with this code and nothing in the database changed."""
    before = await everything(db)
    with pytest.raises(DomainError) as caught:
        await step
    assert caught.value.code == code, caught.value.code
    assert await everything(db) == before
    return caught.value


async def last_audit(db: Database) -> audit.Entry:
    entries = await audit.entries(db, limit=1)
    assert entries, "no audit entry"
    return entries[0]


async def a_moderator(db: Database) -> int:
    from app.domain import accounts

    async with db.transaction() as tx:
        return await accounts.create_staff(
            tx, email="mod@voorbeeld.nl", name="Mo Derator", role="moderator", password="x" * 12
        )


@pytest.fixture
async def hall(db: Database, event: Event) -> dict[str, int]:
    """Two employer booths in care (A, B), a school in construction (C); advisors at A and B."""
    ids = {
        "mod": await a_moderator(db),
        "a": await make_booth(db, "a", name="Zorg A", kind="employer", sector="zorg"),
        "b": await make_booth(db, "b", name="Zorg B", kind="employer", sector="zorg"),
        "c": await make_booth(db, "c", name="Bouw C", kind="school", sector="bouw"),
    }
    ids["a1"] = await make_advisor(db, ids["a"], "a1@voorbeeld.nl")
    ids["b1"] = await make_advisor(db, ids["b"], "b1@voorbeeld.nl")
    ids["b2"] = await make_advisor(db, ids["b"], "b2@voorbeeld.nl")
    ids["c1"] = await make_advisor(db, ids["c"], "c1@voorbeeld.nl")
    return ids


async def status_of(db: Database, request_id: int) -> tuple[str, str]:
    row = await db.fetchone(
        "SELECT status, closed_reason FROM requests WHERE id = ?", (request_id,)
    )
    assert row is not None
    return row["status"], row["closed_reason"]


# -- the event ---------------------------------------------------------------------------------


async def test_closing_the_event_ends_waiting_requests_kindly_and_refuses_new_ones(
    db: Database, event: Event, hall: dict[str, int]
) -> None:
    now = time.time()
    sanne = await make_candidate(db, "Sanne de Vries")
    piet = await make_candidate(db, "Piet Jansen")
    waiting = await make_request(db, event, sanne, hall["a"])
    talking = await make_request(db, event, piet, hall["b"])
    conversation, _ = await conversations.accept(
        db, event, advisor_id=hall["b1"], request_id=talking.id, now=now
    )

    out = await moderation.set_event_open(db, staff_id=hall["mod"], is_open=False, now=now + 1)

    assert out.hall and out.requests_ended == 1 and out.candidate_ids == {sanne}
    assert await status_of(db, waiting.id) == ("cancelled", "event_closed")
    # The running conversation goes on.
    running = await conversations.get_conversation(db, conversation.id)
    assert running is not None and running.ended_at is None
    entry = await last_audit(db)
    assert (entry.action, entry.subject, entry.staff_id) == ("event.close", "event", hall["mod"])
    assert entry.parsed_detail == audit.Detail("requests_ended", {"count": 1})
    assert entry.at == now + 1
    # The hall shows the event closed; nobody is open now.
    closed_event = await load_event(db)
    views = await snapshots.booth_views(db, closed_event, now + 2)
    assert all(v["event_closed"] and not v["open_now"] for v in views)
    # The candidate's own view tells why.
    me = await snapshots.candidate_state(db, closed_event, sanne, now + 2)
    assert me["request"]["closed_reason"] == "event_closed"
    # New requests are refused, at a booth or with an advisor.
    other = await make_candidate(db, "Kees")
    for advisor in (None, hall["a1"]):
        await refused(
            db,
            "event.closed",
            make_request(db, closed_event, other, hall["a"], advisor_id=advisor),
        )
    # Closing again is no change; nothing is written.
    await refused(
        db,
        "moderation.no_change",
        moderation.set_event_open(db, staff_id=hall["mod"], is_open=False, now=now + 3),
    )
    # Open again: requests are taken.
    await moderation.set_event_open(db, staff_id=hall["mod"], is_open=True, now=now + 4)
    assert (await last_audit(db)).action == "event.open"
    reopened = await load_event(db)
    assert reopened.is_open
    assert (await make_request(db, reopened, other, hall["a"])).status == "waiting"
    assert await count(db, "audit_log") == 2


# -- booths ------------------------------------------------------------------------------------


async def test_closing_a_booth_ends_its_queue_suggests_others_and_refuses_new_requests(
    db: Database, event: Event, hall: dict[str, int]
) -> None:
    now = time.time()
    sanne = await make_candidate(db, "Sanne")
    piet = await make_candidate(db, "Piet")
    at_a = await make_request(db, event, sanne, hall["a"])
    at_b = await make_request(db, event, piet, hall["b"])

    out = await moderation.set_booth_closed(
        db, staff_id=hall["mod"], booth_id=hall["a"], closed=True, now=now
    )

    assert out.booth_ids == {hall["a"]} and out.candidate_ids == {sanne}
    assert await status_of(db, at_a.id) == ("cancelled", "booth_closed")
    assert await status_of(db, at_b.id) == ("waiting", "")
    entry = await last_audit(db)
    assert (entry.action, entry.subject) == ("booth.close", f"booth:{hall['a']}")
    # The hall shows it closed at once; the others stay open.
    views = {v["id"]: v for v in await snapshots.booth_views(db, event, now)}
    assert views[hall["a"]]["closed"] and not views[hall["a"]]["open_now"]
    assert views[hall["b"]]["open_now"] and not views[hall["b"]]["closed"]
    # The candidate is told kindly, with other open booths: same kind or sector first.
    me = await snapshots.candidate_state(db, event, sanne, now)
    assert me["request"]["closed_reason"] == "booth_closed"
    suggested = [s["id"] for s in me["request"]["suggestions"]]
    assert suggested == [hall["b"], hall["c"]]
    # Nobody asks there now, not even for one advisor.
    kees = await make_candidate(db, "Kees")
    for advisor in (None, hall["a1"]):
        await refused(
            db,
            "booth.closed_by_moderator",
            make_request(db, event, kees, hall["a"], advisor_id=advisor),
        )
    await refused(
        db,
        "moderation.no_change",
        moderation.set_booth_closed(
            db, staff_id=hall["mod"], booth_id=hall["a"], closed=True, now=now
        ),
    )
    await moderation.set_booth_closed(
        db, staff_id=hall["mod"], booth_id=hall["a"], closed=False, now=now + 1
    )
    assert (await last_audit(db)).action == "booth.open"
    assert (await make_request(db, event, kees, hall["a"])).status == "waiting"


async def refused_more_waiting(db: Database, step: Any) -> moderation.MoreWaiting:
    """Closing is refused because more wait than were confirmed; nothing changed."""
    before = await everything(db)
    with pytest.raises(moderation.MoreWaiting) as caught:
        await step
    assert await everything(db) == before
    return caught.value


async def test_closing_a_booth_ends_no_more_requests_than_the_moderator_confirmed(
    db: Database, event: Event, hall: dict[str, int]
) -> None:
    now = time.time()
    first, second, third = [await make_candidate(db, n) for n in ("Sanne", "Piet", "Kees")]
    await make_request(db, event, first, hall["a"])

    def close(at_most: int) -> Any:
        return moderation.set_booth_closed(
            db, staff_id=hall["mod"], booth_id=hall["a"], closed=True, now=now, at_most=at_most
        )

    # Nobody waited when the page was drawn; one does now: asked again, with the number.
    more = await refused_more_waiting(db, close(0))
    assert (more.booth_id, more.waiting, more.confirmed) == (hall["a"], 1, 0)
    # Two more joined after the moderator saw one.
    await make_request(db, event, second, hall["a"])
    leaving = await make_request(db, event, third, hall["a"])
    more = await refused_more_waiting(db, close(1))
    assert (more.waiting, more.confirmed) == (3, 1)
    # Fewer than confirmed is fine: the one who left is simply not ended.
    await queue.cancel_request(db, candidate_id=third, request_id=leaving.id, now=now)
    out = await close(3)
    assert out.requests_ended == 2 and out.candidate_ids == {first, second}
    entry = await last_audit(db)
    assert entry.parsed_detail == audit.Detail("requests_ended", {"count": 2})
    # Opening it again brings nobody back.
    await moderation.set_booth_closed(
        db, staff_id=hall["mod"], booth_id=hall["a"], closed=False, now=now + 1
    )
    assert await count(db, "requests", "booth_id = ? AND status = 'waiting'", (hall["a"],)) == 0


async def test_a_request_racing_a_confirmed_closing_is_never_ended_unconfirmed(
    db: Database, event: Event, hall: dict[str, int]
) -> None:
    """However the joins and the closing interleave, the closing ends at most the number
    confirmed; when it is refused, the booth stays open and everyone still waits."""
    now = time.time()
    people = [await make_candidate(db, f"Kandidaat {i}", f"k{i}@voorbeeld.nl") for i in range(6)]
    await make_request(db, event, people[0], hall["a"], now=now)

    async def ask(candidate_id: int) -> str:
        try:
            await make_request(db, event, candidate_id, hall["a"], now=now)
        except DomainError as error:
            return error.code
        return "made"

    async def close() -> str:
        try:
            await moderation.set_booth_closed(
                db, staff_id=hall["mod"], booth_id=hall["a"], closed=True, now=now, at_most=1
            )
        except moderation.MoreWaiting:
            return "asked again"
        return "closed"

    outcomes = await asyncio.gather(
        *(ask(c) for c in people[1:3]), close(), *(ask(c) for c in people[3:])
    )
    closing = outcomes[2]
    ended = await count(db, "requests", "closed_reason = 'booth_closed'")
    waiting = await count(db, "requests", "booth_id = ? AND status = 'waiting'", (hall["a"],))
    if closing == "closed":
        assert ended <= 1 and waiting == 0
    else:
        assert closing == "asked again" and ended == 0 and waiting == 1 + outcomes.count("made")


async def test_unknown_and_removed_booths_cannot_be_closed(
    db: Database, hall: dict[str, int]
) -> None:
    async with db.transaction() as tx:
        await tx.execute("UPDATE booths SET removed_at = ? WHERE id = ?", (time.time(), hall["c"]))
    for booth_id in (hall["c"], 9999):
        await refused(
            db,
            "booth.not_found",
            moderation.set_booth_closed(
                db, staff_id=hall["mod"], booth_id=booth_id, closed=True, now=time.time()
            ),
        )


async def test_a_suggestion_is_never_a_closed_booth_and_none_when_nothing_is_open(
    db: Database, event: Event, hall: dict[str, int]
) -> None:
    now = time.time()
    sanne = await make_candidate(db, "Sanne")
    await make_request(db, event, sanne, hall["a"])
    for booth in ("b", "c"):
        await moderation.set_booth_closed(
            db, staff_id=hall["mod"], booth_id=hall[booth], closed=True, now=now
        )
    await moderation.set_booth_closed(
        db, staff_id=hall["mod"], booth_id=hall["a"], closed=True, now=now
    )
    me = await snapshots.candidate_state(db, event, sanne, now)
    assert me["request"]["suggestions"] == []


# -- moving a request --------------------------------------------------------------------------


async def test_a_moved_request_keeps_its_place_in_line_by_time(
    db: Database, event: Event, hall: dict[str, int]
) -> None:
    now = time.time()
    early = await make_candidate(db, "Eerste")
    late = await make_candidate(db, "Laatste")
    first = await make_request(db, event, early, hall["a"], now=now - 300)
    second = await make_request(db, event, late, hall["b"], now=now - 60)

    out = await moderation.move_request(
        db, staff_id=hall["mod"], request_id=first.id, booth_id=hall["b"], advisor_id=None, now=now
    )

    assert out.booth_ids == {hall["a"], hall["b"]} and out.candidate_ids == {early}
    moved = await queue.get_request(db, first.id)
    assert moved is not None
    assert (moved.booth_id, moved.created_at, moved.moved_at) == (hall["b"], now - 300, now)
    # It waited longest, so it is first in its new line.
    line = await queue.waiting_at_booth(db, hall["b"])
    assert [(e.request.id, e.position) for e in line] == [(first.id, 1), (second.id, 2)]
    me = await snapshots.candidate_state(db, event, early, now)
    assert me["request"]["booth_id"] == hall["b"] and me["request"]["position"] == 1
    assert me["request"]["moved_at"] == now
    entry = await last_audit(db)
    assert (entry.action, entry.subject) == ("request.move", f"request:{first.id}")
    assert entry.parsed_detail == audit.Detail(
        "request_moved",
        {"from_booth": hall["a"], "from_advisor": None, "to_booth": hall["b"], "to_advisor": None},
    )

    # To one advisor of that booth: only that advisor takes it.
    await moderation.move_request(
        db,
        staff_id=hall["mod"],
        request_id=first.id,
        booth_id=hall["b"],
        advisor_id=hall["b2"],
        now=now + 1,
    )
    with_b2 = await queue.get_request(db, first.id)
    assert with_b2 is not None and with_b2.advisor_id == hall["b2"]
    taken, _ = await conversations.accept(
        db, event, advisor_id=hall["b1"], request_id=None, now=now + 2
    )
    assert taken.request_id == second.id  # b1 takes the next one that is not for b2


async def test_moves_that_cannot_be_are_refused_and_change_nothing(
    db: Database, event: Event, hall: dict[str, int]
) -> None:
    now = time.time()
    sanne = await make_candidate(db, "Sanne")
    request = await make_request(db, event, sanne, hall["a"])
    piet = await make_candidate(db, "Piet")
    done = await make_request(db, event, piet, hall["a"])
    await conversations.accept(db, event, advisor_id=hall["a1"], request_id=done.id, now=now)
    async with db.transaction() as tx:
        await tx.execute("UPDATE staff SET active = 0 WHERE id = ?", (hall["c1"],))
        await tx.execute("UPDATE staff SET status = 'offline' WHERE id = ?", (hall["b2"],))
    await moderation.set_booth_closed(
        db, staff_id=hall["mod"], booth_id=hall["c"], closed=True, now=now
    )

    def move(request_id: int, booth_id: int, advisor_id: int | None = None) -> Any:
        return moderation.move_request(
            db,
            staff_id=hall["mod"],
            request_id=request_id,
            booth_id=booth_id,
            advisor_id=advisor_id,
            now=now,
        )

    await refused(db, "request.not_found", move(9999, hall["b"]))
    await refused(db, "request.not_waiting", move(done.id, hall["b"]))
    await refused(db, "booth.not_found", move(request.id, 9999))
    await refused(db, "booth.closed_by_moderator", move(request.id, hall["c"]))
    await refused(db, "advisor.not_found", move(request.id, hall["b"], hall["a1"]))  # other booth
    await refused(db, "advisor.not_found", move(request.id, hall["b"], 9999))
    await refused(db, "advisor.not_present", move(request.id, hall["b"], hall["b2"]))
    await refused(db, "moderation.no_change", move(request.id, hall["a"]))
    async with db.transaction() as tx:
        await tx.execute("UPDATE booths SET closed = 0 WHERE id = ?", (hall["c"],))
    await refused(db, "advisor.not_found", move(request.id, hall["c"], hall["c1"]))  # inactive


# -- ending a conversation ---------------------------------------------------------------------


async def test_a_stuck_conversation_ends_and_its_advisor_wraps_up(
    db: Database, event: Event, hall: dict[str, int]
) -> None:
    now = time.time()
    sanne = await make_candidate(db, "Sanne")
    request = await make_request(db, event, sanne, hall["a"])
    conversation, _ = await conversations.accept(
        db, event, advisor_id=hall["a1"], request_id=request.id, now=now
    )

    out = await moderation.stop_conversation(
        db,
        staff_id=hall["mod"],
        conversation_id=conversation.id,
        now=now + 900,
        wrap_up_seconds=WRAP_UP,
    )

    assert out.deadlines and out.booth_ids == {hall["a"]} and out.candidate_ids == {sanne}
    ended = await conversations.get_conversation(db, conversation.id)
    assert ended is not None and ended.ended_at == now + 900
    advisor = await db.fetchone(
        "SELECT status, wrap_up_until FROM staff WHERE id = ?", (hall["a1"],)
    )
    assert advisor is not None
    assert (advisor["status"], advisor["wrap_up_until"]) == ("wrapping_up", now + 900 + WRAP_UP)
    entry = await last_audit(db)
    assert (entry.action, entry.subject) == ("conversation.stop", f"conversation:{conversation.id}")
    # Both see it ended.
    me = await snapshots.candidate_state(db, event, sanne, now + 901)
    assert me["conversation"]["ended_at"] == now + 900
    console = await snapshots.console_state(db, event, hall["a1"], now + 901)
    assert console["conversation"] is None

    for conversation_id, code in (
        (conversation.id, "conversation.ended"),
        (9999, "conversation.not_found"),
    ):
        await refused(
            db,
            code,
            moderation.stop_conversation(
                db,
                staff_id=hall["mod"],
                conversation_id=conversation_id,
                now=now + 901,
                wrap_up_seconds=WRAP_UP,
            ),
        )


# -- blocking ----------------------------------------------------------------------------------


async def test_blocking_ends_everything_of_the_candidate_and_refuses_them_until_unblocked(
    db: Database, event: Event, hall: dict[str, int]
) -> None:
    now = time.time()
    # The same person signed in twice (two browsers): one waits, the other talks.
    waiting_self = await make_candidate(db, "Bram Boos", "bram@voorbeeld.nl")
    talking_self = await make_candidate(db, "Bram Boos", "Bram@Voorbeeld.nl")
    bystander = await make_candidate(db, "Anna", "anna@voorbeeld.nl")
    waiting = await make_request(db, event, waiting_self, hall["a"])
    talking = await make_request(db, event, talking_self, hall["b"])
    other = await make_request(db, event, bystander, hall["a"])
    conversation, _ = await conversations.accept(
        db, event, advisor_id=hall["b1"], request_id=talking.id, now=now
    )
    for candidate_id in (waiting_self, talking_self, bystander):
        await sessions.create(db, candidate_id=candidate_id, now=now)

    out = await moderation.block_candidate(
        db, staff_id=hall["mod"], candidate_id=waiting_self, now=now + 5, wrap_up_seconds=WRAP_UP
    )

    assert out.revoked_candidate_ids == {waiting_self, talking_self}
    assert out.requests_ended == 1 and out.conversations_ended == 1
    assert await status_of(db, waiting.id) == ("cancelled", "blocked")
    assert await status_of(db, other.id) == ("waiting", "")
    ended = await conversations.get_conversation(db, conversation.id)
    assert ended is not None and ended.ended_at == now + 5
    assert await count(db, "sessions", "candidate_id IN (?, ?)", (waiting_self, talking_self)) == 0
    assert await count(db, "sessions", "candidate_id = ?", (bystander,)) == 1
    assert (
        await count(db, "candidates", "blocked_at = ? AND blocked_by = ?", (now + 5, hall["mod"]))
        == 2
    )
    entry = await last_audit(db)
    assert (entry.action, entry.subject) == ("candidate.block", f"candidate:{waiting_self}")
    assert entry.parsed_detail == audit.Detail(
        "candidate_blocked", {"requests": 1, "conversations": 1, "sessions": 2}
    )
    assert "Bram" not in entry.detail and "bram@" not in entry.detail

    # No new request, by the rule and by the database underneath.
    await refused(db, "candidate.blocked", make_request(db, event, waiting_self, hall["b"]))
    with pytest.raises(IntegrityError):
        async with db.transaction() as tx:
            await tx.insert(
                "INSERT INTO requests (booth_id, candidate_id, client_key, created_at, expires_at) "
                "VALUES (?, ?, 'x', ?, ?)",
                (hall["a"], talking_self, now, now + 60),
            )
    # No new sign-in with that e-mail address, in any case.
    with pytest.raises(ValidationError) as caught:
        await candidates.sign_in(
            db, name="Bram", email=" BRAM@voorbeeld.nl ", phone="", consent=True, now=now
        )
    assert caught.value.errors["email"].code == "candidate.blocked_email"
    await refused(
        db,
        "moderation.no_change",
        moderation.block_candidate(
            db, staff_id=hall["mod"], candidate_id=talking_self, now=now, wrap_up_seconds=WRAP_UP
        ),
    )

    await moderation.unblock_candidate(
        db, staff_id=hall["mod"], candidate_id=talking_self, now=now + 10
    )
    assert (await last_audit(db)).action == "candidate.unblock"
    assert await count(db, "candidates", "blocked_at IS NOT NULL") == 0
    again = await candidates.sign_in(
        db, name="Bram", email="bram@voorbeeld.nl", phone="", consent=True, now=now + 11
    )
    assert (await make_request(db, event, again.id, hall["a"])).status == "waiting"
    await refused(
        db,
        "moderation.no_change",
        moderation.unblock_candidate(db, staff_id=hall["mod"], candidate_id=again.id, now=now),
    )
    await refused(
        db,
        "candidate.not_found",
        moderation.block_candidate(
            db, staff_id=hall["mod"], candidate_id=9999, now=now, wrap_up_seconds=WRAP_UP
        ),
    )


# -- the audit log and the step-in view --------------------------------------------------------


async def test_the_audit_log_is_newest_first_and_pages_back(
    db: Database, hall: dict[str, int]
) -> None:
    now = time.time()
    for i in range(5):
        await moderation.set_booth_closed(
            db, staff_id=hall["mod"], booth_id=hall["a"], closed=i % 2 == 0, now=now + i
        )
    newest = await audit.entries(db, limit=3)
    assert [e.action for e in newest] == ["booth.close", "booth.open", "booth.close"]
    assert [e.at for e in newest] == [now + 4, now + 3, now + 2]
    assert all(e.staff_name == "Mo Derator" for e in newest)
    older = await audit.entries(db, limit=3, before_id=newest[-1].id)
    assert [e.at for e in older] == [now + 1, now]


async def test_the_step_in_view_shows_first_names_places_and_overtime(
    db: Database, event: Event, hall: dict[str, int]
) -> None:
    now = time.time()
    sanne = await make_candidate(db, "Sanne de Vries")
    piet = await make_candidate(db, "Piet Jansen")
    kees = await make_candidate(db, "Kees Klaassen")
    first = await make_request(db, event, sanne, hall["a"], now=now - 120)
    second = await make_request(db, event, piet, hall["a"], now=now - 60)
    talking = await make_request(db, event, kees, hall["b"], now=now - 1000)
    await conversations.accept(
        db, event, advisor_id=hall["b1"], request_id=talking.id, now=now - 900
    )
    await moderation.block_candidate(
        db,
        staff_id=hall["mod"],
        candidate_id=await make_candidate(db, "Boos Iemand"),
        now=now,
        wrap_up_seconds=WRAP_UP,
    )

    view = await moderation.step_in_view(db, event, now)

    booths = {b["id"]: b for b in view["booths"]}
    waiting = booths[hall["a"]]["waiting"]
    assert [(w["id"], w["first_name"], w["position"]) for w in waiting] == [
        (first.id, "Sanne", 1),
        (second.id, "Piet", 2),
    ]
    (running,) = booths[hall["b"]]["running"]
    assert running["first_name"] == "Kees" and running["overtime_seconds"] == 300
    assert [b["first_name"] for b in view["blocked"]] == ["Boos"]
    assert view["event_open"]
    assert "Vries" not in repr(view) and "voorbeeld.nl" not in repr(view)


# -- races -------------------------------------------------------------------------------------


async def test_requests_racing_a_booth_closing_never_leave_anyone_waiting_there(
    db: Database, event: Event, hall: dict[str, int]
) -> None:
    now = time.time()
    people = [await make_candidate(db, f"Kandidaat {i}", f"k{i}@voorbeeld.nl") for i in range(8)]

    async def ask(candidate_id: int) -> str:
        try:
            await make_request(db, event, candidate_id, hall["a"], now=now)
        except DomainError as error:
            return error.code
        return "made"

    close = moderation.set_booth_closed(
        db, staff_id=hall["mod"], booth_id=hall["a"], closed=True, now=now
    )
    outcomes = await asyncio.gather(
        *(ask(c) for c in people[:4]), close, *(ask(c) for c in people[4:])
    )
    answers = [o for o in outcomes if isinstance(o, str)]
    assert set(answers) <= {"made", "booth.closed_by_moderator"}
    assert await count(db, "requests", "booth_id = ? AND status = 'waiting'", (hall["a"],)) == 0
    made = answers.count("made")
    ended = await count(db, "requests", "closed_reason = 'booth_closed'")
    assert ended == made  # everyone who got in before the close was told it closed


async def test_a_move_racing_an_accept_lets_exactly_one_win(
    db: Database, event: Event, hall: dict[str, int]
) -> None:
    now = time.time()
    for round_ in range(6):
        sanne = await make_candidate(db, f"Sanne {round_}", f"s{round_}@voorbeeld.nl")
        request = await make_request(db, event, sanne, hall["a"], now=now)

        async def attempt(step: Any) -> str:
            try:
                await step
            except DomainError as error:
                return error.code
            return "ok"

        moved, accepted = await asyncio.gather(
            attempt(
                moderation.move_request(
                    db,
                    staff_id=hall["mod"],
                    request_id=request.id,
                    booth_id=hall["b"],
                    advisor_id=None,
                    now=now,
                )
            ),
            attempt(
                conversations.accept(
                    db, event, advisor_id=hall["a1"], request_id=request.id, now=now
                )
            ),
        )
        assert sorted([moved, accepted]) in (
            ["ok", "request.not_found"],  # moved first: booth A's advisor no longer sees it
            ["ok", "request.not_waiting"],  # accepted first: nothing to move
        ), (moved, accepted)
        final = await queue.get_request(db, request.id)
        assert final is not None
        assert (final.status == "accepted") == (accepted == "ok")
        # Ready for the next round: the advisor is free again.
        running = await conversations.running_for_advisor(db, hall["a1"])
        if running is not None:
            await conversations.end(
                db, advisor_id=hall["a1"], conversation_id=running.id, now=now, wrap_up_seconds=0
            )
        async with db.transaction() as tx:
            await tx.execute("UPDATE staff SET status = 'available' WHERE id = ?", (hall["a1"],))
