"""Readiness and no-shows as domain rules on a real SQLite file, with explicit times: who is
asked "Ben je er klaar voor?", confirming and asking for more time, a missed prompt moving
the candidate back (twice: a no-show), and a candidate who does not join after acceptance."""

from __future__ import annotations

import time
from typing import Any

import pytest

from app.core.errors import DomainError, ValidationError
from app.domain import conversations, estimate, queue, readiness, reports, transfer
from app.domain.event import Event
from app.live import snapshots
from app.storage.db import Database
from tests.servicekit import make_advisor, make_booth, make_candidate, make_request

T0 = time.time() - 3600


@pytest.fixture
async def booth(db: Database) -> dict[str, int]:
    ids = {"a": await make_booth(db, "a", name="Zorg A"), "b": await make_booth(db, "b")}
    ids["a1"] = await make_advisor(db, ids["a"], "a1@voorbeeld.nl", status="paused")
    ids["a2"] = await make_advisor(db, ids["a"], "a2@voorbeeld.nl", status="paused")
    return ids


async def set_status(db: Database, advisor_id: int, status: str) -> None:
    async with db.transaction() as tx:
        await tx.execute("UPDATE staff SET status = ? WHERE id = ?", (status, advisor_id))


async def line(db: Database, event: Event, names: list[str], booth_id: int) -> list[int]:
    """Candidates queued one minute apart from T0; their request ids in order."""
    ids = []
    for i, name in enumerate(names):
        candidate = await make_candidate(db, name)
        request = await make_request(db, event, candidate, booth_id, now=T0 + 60 * i)
        ids.append(request.id)
    return ids


async def req(db: Database, request_id: int) -> queue.Request:
    found = await queue.get_request(db, request_id)
    assert found is not None
    return found


async def asked(db: Database) -> set[int]:
    rows = await db.fetchall(
        "SELECT id FROM requests WHERE status = 'waiting' AND ready_asked_at IS NOT NULL"
    )
    return {r["id"] for r in rows}


async def order(db: Database, booth_id: int) -> list[int]:
    return [e.request.id for e in await queue.waiting_at_booth(db, booth_id)]


async def everything(db: Database) -> list[tuple[Any, ...]]:
    rows = await db.fetchall("SELECT * FROM requests ORDER BY id")
    return [tuple(r) for r in rows] + [
        tuple(r) for r in await db.fetchall("SELECT * FROM conversations ORDER BY id")
    ]


async def test_nobody_is_asked_while_no_advisor_is_free(
    db: Database, event: Event, booth: dict[str, int]
) -> None:
    await line(db, event, ["Ada", "Bas"], booth["a"])
    revision = await db.revision()
    changes = await readiness.run_due(db, T0 + 300)
    assert not changes and await asked(db) == set()
    # A round with nobody to ask writes nothing: clients compare states by the revision.
    assert await db.revision() == revision


async def test_one_candidate_is_asked_per_free_advisor_in_line_order(
    db: Database, event: Event, booth: dict[str, int]
) -> None:
    ada, bas, cas = await line(db, event, ["Ada", "Bas", "Cas"], booth["a"])
    await set_status(db, booth["a1"], "available")
    now = T0 + 300
    changes = await readiness.ask_due(db, now)
    assert changes.asked == {ada: (await req(db, ada)).candidate_id}
    assert changes.booth_ids == {booth["a"]}
    first = await req(db, ada)
    assert first.ready_asked_at == now and first.ready_until == now + 60
    # Asking again changes nothing: Ada still holds the one free advisor.
    assert not await readiness.ask_due(db, now + 5)
    assert await asked(db) == {ada}
    # A second advisor wraps up: the next one is asked too.
    await set_status(db, booth["a2"], "wrapping_up")
    await readiness.ask_due(db, now + 10)
    assert await asked(db) == {ada, bas}
    assert (await req(db, cas)).ready_asked_at is None


async def test_a_request_for_one_advisor_waits_for_that_advisor(
    db: Database, event: Event, booth: dict[str, int]
) -> None:
    ada = await make_candidate(db, "Ada")
    for_a2 = await make_request(db, event, ada, booth["a"], advisor_id=booth["a2"], now=T0)
    bas, cas = await line(db, event, ["Bas", "Cas"], booth["a"])
    await set_status(db, booth["a1"], "available")
    await readiness.ask_due(db, T0 + 300)
    # a1 is free, a2 is not: Ada (for a2) is not asked; Bas is, for a1.
    assert await asked(db) == {bas}
    await set_status(db, booth["a2"], "available")
    await readiness.ask_due(db, T0 + 301)
    assert await asked(db) == {bas, for_a2.id}
    assert (await req(db, cas)).ready_asked_at is None


async def test_an_advisor_in_a_conversation_counts_from_its_warning_time(
    db: Database, event: Event, booth: dict[str, int]
) -> None:
    talker = await make_candidate(db, "Tim")
    first = await make_request(db, event, talker, booth["a"], now=T0)
    await set_status(db, booth["a1"], "available")
    talk, _ = await conversations.accept(
        db, event, advisor_id=booth["a1"], request_id=first.id, now=T0
    )
    (ada,) = await line(db, event, ["Ada"], booth["a"])
    warning_at = talk.ends_at - event.warning_seconds
    assert await readiness.next_deadline(db, T0 + 10) == pytest.approx(
        min(warning_at, T0 + 120)  # the join limit of Tim's conversation comes first
    )
    await readiness.join(db, candidate_id=talker, conversation_id=talk.id, now=T0 + 20)
    assert await readiness.next_deadline(db, T0 + 20) == pytest.approx(warning_at)
    assert not await readiness.ask_due(db, warning_at - 1)
    await readiness.ask_due(db, warning_at)
    assert await asked(db) == {ada}
    assert await readiness.next_deadline(db, warning_at) == pytest.approx(warning_at + 60)


async def test_confirming_and_one_extension(
    db: Database, event: Event, booth: dict[str, int]
) -> None:
    ada, bas = await line(db, event, ["Ada", "Bas"], booth["a"])
    ada_candidate = (await req(db, ada)).candidate_id
    bas_candidate = (await req(db, bas)).candidate_id
    # Not asked yet: refused, nothing changes.
    before = await everything(db)
    with pytest.raises(DomainError) as caught:
        await readiness.confirm(db, candidate_id=ada_candidate, request_id=ada, now=T0 + 200)
    assert caught.value.code == "ready.not_asked" and await everything(db) == before

    await set_status(db, booth["a1"], "available")
    await readiness.ask_due(db, T0 + 300)
    # Someone else's request: not found for them.
    with pytest.raises(DomainError) as caught:
        await readiness.confirm(db, candidate_id=bas_candidate, request_id=ada, now=T0 + 301)
    assert caught.value.code == "request.not_found"

    longer = await readiness.extend(db, candidate_id=ada_candidate, request_id=ada, now=T0 + 330)
    assert longer.ready_until == T0 + 300 + 120 and longer.ready_extended == 1
    before = await everything(db)
    with pytest.raises(DomainError) as caught:
        await readiness.extend(db, candidate_id=ada_candidate, request_id=ada, now=T0 + 340)
    assert caught.value.code == "ready.already_extended" and await everything(db) == before
    # Past the first limit but within the extended one: no miss.
    assert not await readiness.miss_due(db, T0 + 390)

    ready = await readiness.confirm(db, candidate_id=ada_candidate, request_id=ada, now=T0 + 400)
    assert ready.ready_at == T0 + 400
    again = await readiness.confirm(db, candidate_id=ada_candidate, request_id=ada, now=T0 + 410)
    assert again.ready_at == T0 + 400
    # Confirmed: no limit any more, and the advisor's console says so.
    assert not await readiness.miss_due(db, T0 + 1000)
    console = await snapshots.console_state(db, event, booth["a1"], T0 + 1000)
    assert [(q["request_id"], q["ready"]) for q in console["queue"]] == [(ada, True), (bas, False)]


async def test_missing_once_moves_back_three_places_twice_is_a_no_show(
    db: Database, event: Event, booth: dict[str, int]
) -> None:
    ids = await line(db, event, ["Ada", "Bas", "Cas", "Dirk", "Eva"], booth["a"])
    ada, bas, cas, dirk, eva = ids
    ada_candidate = (await req(db, ada)).candidate_id
    await set_status(db, booth["a1"], "available")
    await readiness.ask_due(db, T0 + 300)
    assert not await readiness.miss_due(db, T0 + 359)

    changes = await readiness.miss_due(db, T0 + 360)
    assert changes.candidate_ids == {ada_candidate}
    moved = await req(db, ada)
    assert moved.status == "waiting" and moved.ready_misses == 1
    assert moved.ready_asked_at is None and moved.ready_until is None
    assert moved.created_at == T0  # the original time stays
    assert await order(db, booth["a"]) == [bas, cas, dirk, ada, eva]
    entries = {e.request.id: e.position for e in await queue.waiting_at_booth(db, booth["a"])}
    assert entries[ada] == 4

    # Bas is next now and is asked; he confirms and is accepted.
    await readiness.ask_due(db, T0 + 361)
    assert await asked(db) == {bas}
    # Cas and Dirk are taken by the advisor one after the other; then Ada is asked again.
    for request_id in (bas, cas, dirk):
        await conversations.accept(
            db, event, advisor_id=booth["a1"], request_id=request_id, now=T0 + 400
        )
        async with db.transaction() as tx:
            await tx.execute(
                "UPDATE conversations SET ended_at = ? WHERE request_id = ?", (T0 + 401, request_id)
            )
        await set_status(db, booth["a1"], "available")
    await readiness.ask_due(db, T0 + 500)
    assert await asked(db) == {ada}
    await readiness.miss_due(db, T0 + 560)
    gone = await req(db, ada)
    assert (gone.status, gone.closed_reason, gone.closed_at) == ("expired", "no_show", T0 + 560)
    me = await snapshots.candidate_state(db, event, ada_candidate, T0 + 561)
    assert me["request"]["closed_reason"] == "no_show"
    # They may ask again.
    again = await make_request(db, event, ada_candidate, booth["a"], now=T0 + 600)
    assert again.status == "waiting" and again.ready_misses == 0


async def test_moving_back_at_the_end_of_a_short_line(
    db: Database, event: Event, booth: dict[str, int]
) -> None:
    ada, bas = await line(db, event, ["Ada", "Bas"], booth["a"])
    await set_status(db, booth["a1"], "available")
    await readiness.ask_due(db, T0 + 300)
    await readiness.miss_due(db, T0 + 360)
    assert await order(db, booth["a"]) == [bas, ada]
    # Bas is asked now; Ada waits behind him.
    await readiness.ask_due(db, T0 + 361)
    assert await asked(db) == {bas}


async def test_a_candidate_who_does_not_join_is_a_no_show_and_frees_the_advisor(
    db: Database, event: Event, booth: dict[str, int]
) -> None:
    ada, bas = await line(db, event, ["Ada", "Bas"], booth["a"])
    await set_status(db, booth["a1"], "available")
    await set_status(db, booth["a2"], "available")
    talk_a, _ = await conversations.accept(
        db, event, advisor_id=booth["a1"], request_id=ada, now=T0 + 100
    )
    talk_b, _ = await conversations.accept(
        db, event, advisor_id=booth["a2"], request_id=bas, now=T0 + 100
    )
    assert talk_a.id != talk_b.id
    bas_candidate = (await req(db, bas)).candidate_id
    joined = await readiness.join(
        db, candidate_id=bas_candidate, conversation_id=talk_b.id, now=T0 + 150
    )
    assert joined.video_url == talk_b.video_url and joined.joined_at == T0 + 150
    # Someone else's conversation: refused.
    with pytest.raises(DomainError) as caught:
        await readiness.join(db, candidate_id=bas_candidate, conversation_id=talk_a.id, now=T0)
    assert caught.value.code == "conversation.not_found"

    assert not await readiness.join_due(db, T0 + 219)
    changes = await readiness.join_due(db, T0 + 220)
    assert changes.booth_ids == {booth["a"]}
    ended = await db.fetchone(
        "SELECT ended_at, no_show_at FROM conversations WHERE id = ?", (talk_a.id,)
    )
    assert (ended["ended_at"], ended["no_show_at"]) == (T0 + 220, T0 + 220)
    advisor = await db.fetchone(
        "SELECT status, wrap_up_until FROM staff WHERE id = ?", (booth["a1"],)
    )
    assert (advisor["status"], advisor["wrap_up_until"]) == ("available", None)
    running = await db.fetchone("SELECT ended_at FROM conversations WHERE id = ?", (talk_b.id,))
    assert running["ended_at"] is None
    with pytest.raises(DomainError) as caught:
        await readiness.join(
            db, candidate_id=(await req(db, ada)).candidate_id, conversation_id=talk_a.id, now=0
        )
    assert caught.value.code == "conversation.ended"

    # The no-show is no held conversation: not in the measured length nor in the report.
    lengths = await estimate.measured_lengths(db, event.conversation_seconds)
    assert lengths.event_count == 0
    await conversations.end(
        db, advisor_id=booth["a2"], conversation_id=talk_b.id, now=T0 + 500, wrap_up_seconds=30
    )
    lengths = await estimate.measured_lengths(db, event.conversation_seconds)
    assert (lengths.event_count, lengths.event_mean) == (1, 400.0)
    figures = await reports.report(db, event)
    assert figures.totals.conversations == 1


async def test_a_transferred_request_keeps_its_original_place(
    db: Database, event: Event, booth: dict[str, int]
) -> None:
    await set_status(db, booth["a1"], "available")
    sanne = await make_candidate(db, "Sanne")
    first = await make_request(db, event, sanne, booth["a"], now=T0)
    talk, _ = await conversations.accept(
        db, event, advisor_id=booth["a1"], request_id=first.id, now=T0 + 60
    )
    later = await make_candidate(db, "Later")
    late = await make_request(db, event, later, booth["b"], now=T0 + 30)
    done = await transfer.transfer(
        db,
        event,
        advisor_id=booth["a1"],
        conversation_id=talk.id,
        booth_id=booth["b"],
        to_advisor_id=None,
        note="",
        now=T0 + 120,
        ttl_seconds=1800,
        wrap_up_seconds=30,
    )
    assert done.request.line_at == done.request.created_at == T0
    assert await order(db, booth["b"]) == [done.request.id, late.id]


async def test_settings_are_checked_and_saved(db: Database, event: Event) -> None:
    assert await readiness.load_settings(db) == readiness.Settings(60, 3, 120)
    with pytest.raises(ValidationError) as caught:
        readiness.check_settings(
            {"ready_seconds": "19", "ready_step_back": "11", "join_seconds": "abc"}
        )
    assert set(caught.value.errors) == {"ready_seconds", "ready_step_back", "join_seconds"}
    assert caught.value.errors["ready_seconds"].params == {"min": 20, "max": 600}
    settings = readiness.check_settings(
        {"ready_seconds": " 30 ", "ready_step_back": "1", "join_seconds": "900"}
    )
    async with db.transaction() as tx:
        await readiness.save_settings(tx, settings)
    assert await readiness.load_settings(db) == readiness.Settings(30, 1, 900)


async def test_a_candidate_who_is_away_is_not_asked_the_next_one_is(
    db: Database, event: Event, booth: dict[str, int]
) -> None:
    ada, bas = await line(db, event, ["Ada", "Bas"], booth["a"])
    async with db.transaction() as tx:
        await tx.execute("UPDATE requests SET away_since = ? WHERE id = ?", (T0 + 100, ada))
    await set_status(db, booth["a1"], "available")
    await readiness.ask_due(db, T0 + 300)
    # Ada keeps her place (the grace period decides about her); Bas is asked.
    assert await asked(db) == {bas}
    assert await order(db, booth["a"]) == [ada, bas]
    async with db.transaction() as tx:
        await tx.execute("UPDATE requests SET away_since = NULL WHERE id = ?", (ada,))
    await set_status(db, booth["a2"], "available")
    await readiness.ask_due(db, T0 + 301)
    assert await asked(db) == {ada, bas}
