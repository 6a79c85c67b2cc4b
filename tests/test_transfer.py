"""An advisor hands the candidate to another booth, as domain rules on a real SQLite file:
the conversation ends and a new request waits at the other booth with the original time, in
one transaction; every refusal changes nothing."""

from __future__ import annotations

import time
from typing import Any

import pytest

from app.core.errors import DomainError, ValidationError
from app.domain import conversations, moderation, transfer
from app.domain.event import Event, load_event
from app.live import snapshots
from app.storage.db import Database
from tests.servicekit import make_advisor, make_booth, make_candidate, make_request, table_rows

WRAP_UP = 30
TTL = 1800
TABLES = ("event", "booths", "requests", "conversations", "candidates", "staff")


async def everything(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    return await table_rows(db, TABLES)


async def refused(db: Database, code: str, step: Any) -> DomainError:
    """The step is refused with this code and nothing in the database changed."""
    before = await everything(db)
    with pytest.raises(DomainError) as caught:
        await step
    assert caught.value.code == code, caught.value.code
    assert await everything(db) == before
    return caught.value


@pytest.fixture
async def hall(db: Database, event: Event) -> dict[str, int]:
    ids = {
        "a": await make_booth(db, "a", name="Zorg A"),
        "b": await make_booth(db, "b", name="Bouw B", sector="bouw"),
        "c": await make_booth(db, "c", name="School C", kind="school", open_now=False),
    }
    ids["a1"] = await make_advisor(db, ids["a"], "a1@voorbeeld.nl")
    ids["a2"] = await make_advisor(db, ids["a"], "a2@voorbeeld.nl")
    ids["b1"] = await make_advisor(db, ids["b"], "b1@voorbeeld.nl", status="in_conversation")
    ids["b2"] = await make_advisor(db, ids["b"], "b2@voorbeeld.nl", status="offline")
    return ids


async def talking(
    db: Database, event: Event, booth_id: int, advisor_id: int, name: str, at: float
) -> tuple[int, int, int]:
    """A candidate who asked at ``at`` and is now in a conversation with the advisor."""
    candidate = await make_candidate(db, name)
    request = await make_request(db, event, candidate, booth_id, question="Over BBL", now=at)
    conversation, _ = await conversations.accept(
        db, event, advisor_id=advisor_id, request_id=request.id, now=at + 60
    )
    return candidate, request.id, conversation.id


def call(db: Database, event: Event, advisor: int, conversation: int, booth: int, **kw: Any) -> Any:
    return transfer.transfer(
        db,
        event,
        advisor_id=advisor,
        conversation_id=conversation,
        booth_id=booth,
        to_advisor_id=kw.get("to_advisor_id"),
        note=kw.get("note", ""),
        now=kw.get("now", time.time()),
        ttl_seconds=TTL,
        wrap_up_seconds=WRAP_UP,
    )


async def test_a_transfer_ends_the_conversation_and_keeps_the_original_time_at_the_other_booth(
    db: Database, event: Event, hall: dict[str, int]
) -> None:
    start = time.time() - 900
    sanne, first_request, conversation_id = await talking(
        db, event, hall["a"], hall["a1"], "Sanne de Vries", start
    )
    # Two candidates already wait at B: one came before Sanne, one after.
    early = await make_candidate(db, "Eva Eerder")
    late = await make_candidate(db, "Lars Later")
    early_request = await make_request(db, event, early, hall["b"], now=start - 100)
    late_request = await make_request(db, event, late, hall["b"], now=start + 100)
    now = time.time()

    done = await call(
        db, event, hall["a1"], conversation_id, hall["b"], note="  Zoekt bouw, BBL niveau 2  "
    )

    assert done.conversation_id == conversation_id and done.from_booth_id == hall["a"]
    new = done.request
    assert (new.booth_id, new.candidate_id, new.status) == (hall["b"], sanne, "waiting")
    assert new.created_at == start and new.id != first_request
    assert new.question == "Over BBL" and new.advisor_id is None
    assert new.expires_at >= now + TTL - 1
    row = await db.fetchone(
        "SELECT transferred_from, transfer_note FROM requests WHERE id = ?", (new.id,)
    )
    assert (row["transferred_from"], row["transfer_note"]) == (
        conversation_id,
        "Zoekt bouw, BBL niveau 2",
    )
    ended = await conversations.get_conversation(db, conversation_id)
    assert ended is not None and ended.ended_at is not None
    status = await db.fetchone(
        "SELECT status, wrap_up_until FROM staff WHERE id = ?", (hall["a1"],)
    )
    assert status["status"] == "wrapping_up" and status["wrap_up_until"] > ended.ended_at

    # First come, first served by time: between who came before and who came after.
    me = await snapshots.candidate_state(db, event, sanne, now + 1)
    assert me["request"]["booth_id"] == hall["b"] and me["request"]["position"] == 2
    assert me["conversation"] is None
    assert "transfer_note" not in str(me) and "Zoekt bouw" not in str(me)
    console = await snapshots.console_state(db, event, hall["b1"], now + 1)
    assert [q["request_id"] for q in console["queue"]] == [
        early_request.id,
        new.id,
        late_request.id,
    ]
    entry = console["queue"][1]
    assert entry["transferred_from"] == "Zorg A"
    assert entry["transfer_note"] == "Zoekt bouw, BBL niveau 2"
    assert (
        console["queue"][0]["transferred_from"] == "" and console["queue"][0]["transfer_note"] == ""
    )
    # The advisor of B can take Sanne like any other request.
    taken, _ = await conversations.accept(
        db, event, advisor_id=hall["b1"], request_id=new.id, now=now + 2
    )
    assert (taken.booth_id, taken.candidate_id) == (hall["b"], sanne)


async def test_to_one_advisor_only_that_advisor_sees_it(
    db: Database, event: Event, hall: dict[str, int]
) -> None:
    b3 = await make_advisor(db, hall["b"], "b3@voorbeeld.nl")
    _, _, conversation_id = await talking(db, event, hall["a"], hall["a1"], "Piet", time.time())
    done = await call(db, event, hall["a1"], conversation_id, hall["b"], to_advisor_id=b3)
    assert done.request.advisor_id == b3
    mine = await snapshots.console_state(db, event, b3, time.time())
    other = await snapshots.console_state(db, event, hall["b1"], time.time())
    assert [q["request_id"] for q in mine["queue"]] == [done.request.id]
    assert mine["queue"][0]["for_me"] and other["queue"] == []
    # b3 takes the candidate: a new conversation at B.
    conversation, request = await conversations.accept(
        db, event, advisor_id=b3, request_id=done.request.id, now=time.time()
    )
    assert conversation.booth_id == hall["b"] and request.id == done.request.id


async def test_refusals_change_nothing(db: Database, event: Event, hall: dict[str, int]) -> None:
    _, _, conversation_id = await talking(db, event, hall["a"], hall["a1"], "Sanne", time.time())
    a1, conv = hall["a1"], conversation_id
    # Not the advisor's own conversation: another advisor, even of the same booth.
    await refused(db, "conversation.not_found", call(db, event, hall["a2"], conv, hall["b"]))
    await refused(db, "conversation.not_found", call(db, event, a1, 999999, hall["b"]))
    # The same booth.
    await refused(db, "transfer.same_booth", call(db, event, a1, conv, hall["a"]))
    # Unknown booth; a booth that takes no requests now (closed by schedule, nobody there).
    await refused(db, "booth.not_found", call(db, event, a1, conv, 999999))
    await refused(db, "booth.closed", call(db, event, a1, conv, hall["c"]))
    # An advisor of another booth, one who is offline, one who is deactivated.
    await refused(
        db, "advisor.not_found", call(db, event, a1, conv, hall["b"], to_advisor_id=hall["a2"])
    )
    await refused(
        db, "advisor.not_present", call(db, event, a1, conv, hall["b"], to_advisor_id=hall["b2"])
    )
    async with db.transaction() as tx:
        await tx.execute("UPDATE staff SET active = 0 WHERE id = ?", (hall["b2"],))
    await refused(
        db, "advisor.not_found", call(db, event, a1, conv, hall["b"], to_advisor_id=hall["b2"])
    )
    # A note too long.
    error = await refused(db, "input.invalid", call(db, event, a1, conv, hall["b"], note="x" * 501))
    assert isinstance(error, ValidationError) and error.errors["note"].code == "input.too_long"
    # An advisor who was deactivated cannot transfer.
    async with db.transaction() as tx:
        await tx.execute("UPDATE staff SET active = 0 WHERE id = ?", (a1,))
    await refused(db, "auth.forbidden", call(db, event, a1, conv, hall["b"]))
    async with db.transaction() as tx:
        await tx.execute("UPDATE staff SET active = 1 WHERE id = ?", (a1,))
    # Still running: the refusals left it alone, and it can be transferred once.
    await call(db, event, a1, conv, hall["b"])
    await refused(db, "conversation.ended", call(db, event, a1, conv, hall["b"]))


async def test_a_closed_or_removed_booth_or_closed_event_is_refused(
    db: Database, event: Event, hall: dict[str, int]
) -> None:
    _, _, conv = await talking(db, event, hall["a"], hall["a1"], "Sanne", time.time())
    mod = hall["a2"]  # the audit entry only needs a staff id
    await moderation.set_booth_closed(db, staff_id=mod, booth_id=hall["b"], closed=True, now=1)
    await refused(db, "booth.closed_by_moderator", call(db, event, hall["a1"], conv, hall["b"]))
    await moderation.set_booth_closed(db, staff_id=mod, booth_id=hall["b"], closed=False, now=2)
    async with db.transaction() as tx:
        await tx.execute("UPDATE booths SET removed_at = 1 WHERE id = ?", (hall["b"],))
    await refused(db, "booth.not_found", call(db, event, hall["a1"], conv, hall["b"]))
    async with db.transaction() as tx:
        await tx.execute("UPDATE booths SET removed_at = NULL WHERE id = ?", (hall["b"],))
    await moderation.set_event_open(db, staff_id=mod, is_open=False, now=3)
    closed = await load_event(db)
    await refused(db, "event.closed", call(db, closed, hall["a1"], conv, hall["b"]))


async def test_a_blocked_candidate_is_not_transferred(
    db: Database, event: Event, hall: dict[str, int]
) -> None:
    sanne, _, conv = await talking(db, event, hall["a"], hall["a1"], "Sanne", time.time())
    async with db.transaction() as tx:
        # Blocked by hand, so the conversation stays running (a moderator's block ends it).
        await tx.execute("UPDATE candidates SET blocked_at = 1 WHERE id = ?", (sanne,))
    await refused(db, "candidate.blocked", call(db, event, hall["a1"], conv, hall["b"]))


async def test_the_targets_are_the_other_open_booths_and_their_present_advisors(
    db: Database, event: Event, hall: dict[str, int]
) -> None:
    await moderation.set_booth_closed(
        db, staff_id=hall["a1"], booth_id=hall["c"], closed=True, now=1
    )
    targets = await transfer.transfer_targets(db, hall["a"])
    assert [t["id"] for t in targets] == [hall["b"]]
    assert [a["id"] for a in targets[0]["advisors"]] == [hall["b1"]]  # b2 is offline


async def test_the_note_is_never_in_the_candidates_export_and_is_erased_with_them(
    db: Database, event: Event, hall: dict[str, int]
) -> None:
    from app.domain import privacy

    sanne, _, conv = await talking(db, event, hall["a"], hall["a1"], "Sanne", time.time())
    done = await call(db, event, hall["a1"], conv, hall["b"], note="Twijfelt tussen zorg en bouw")
    exported = await privacy.export(db, sanne, time.time())
    assert exported is not None and "Twijfelt" not in str(exported)
    assert done.request.id in [r["id"] for r in exported["requests"]]
    await privacy.erase(db, sanne, now=time.time(), wrap_up_seconds=WRAP_UP)
    note = await db.fetchvalue(
        "SELECT transfer_note FROM requests WHERE id = ?", (done.request.id,)
    )
    assert note == ""
