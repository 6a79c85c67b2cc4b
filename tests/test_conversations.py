from __future__ import annotations

import asyncio
import time

import pytest

from app.core.errors import DomainError
from app.domain import accounts, conversations, queue
from tests.servicekit import (
    count,
    make_advisor,
    make_booth,
    make_candidate,
    make_event,
    make_request,
    open_db,
)

WRAP_UP = 120


async def test_accept_starts_a_conversation_with_the_server_end_time(db, event):
    booth = await make_booth(db, "zorgpunt")
    advisor = await make_advisor(db, booth, "anna@zorgpunt.nl")
    candidate = await make_candidate(db)
    request = await make_request(db, event, candidate, booth, question="BBL in de zorg?")
    t = time.time()

    conversation, accepted = await conversations.accept(
        db, event, advisor_id=advisor, request_id=request.id, now=t
    )

    assert conversation.started_at == t
    assert conversation.ends_at == t + 600
    assert conversation.request_id == request.id
    assert conversation.candidate_id == candidate
    assert conversation.advisor_id == advisor
    assert conversation.ended_at is None
    assert accepted.status == "accepted"
    stored = await queue.get_request(db, request.id)
    assert stored.status == "accepted"
    assert stored.closed_at == t
    staff = await accounts.get_staff(db, advisor)
    assert staff.status == "in_conversation"
    assert staff.status_since == t
    assert await conversations.running_for_candidate(db, candidate) == conversation


async def test_accept_respects_the_event_conversation_length(tmp_path):
    db = await open_db(tmp_path / "short.db")
    try:
        event = await make_event(db, conversation_seconds=300)
        booth = await make_booth(db, "kort")
        advisor = await make_advisor(db, booth, "kort@kort.nl")
        request = await make_request(db, event, await make_candidate(db), booth)
        conversation, _ = await conversations.accept(
            db, event, advisor_id=advisor, request_id=request.id, now=1000.0
        )
        assert conversation.ends_at == 1300.0
    finally:
        await db.close()


async def test_simultaneous_accepts_by_ten_advisors_give_one_conversation(db, event):
    booth = await make_booth(db, "zorgpunt")
    advisors = [await make_advisor(db, booth, f"adviseur{i}@zorgpunt.nl") for i in range(10)]
    candidate = await make_candidate(db)
    winners = []

    for round_ in range(50):
        t = time.time()
        request = await make_request(db, event, candidate, booth, client_key=f"round-{round_}")

        results = await asyncio.gather(
            *(
                conversations.accept(db, event, advisor_id=a, request_id=request.id, now=t)
                for a in advisors
            ),
            return_exceptions=True,
        )

        won = [r for r in results if isinstance(r, tuple)]
        lost = [r for r in results if isinstance(r, BaseException)]
        assert len(won) == 1, f"round {round_}: {len(won)} conversations"
        assert len(lost) == 9
        assert all(isinstance(e, DomainError) for e in lost), lost
        assert {e.code for e in lost} <= {"request.not_waiting", "advisor.busy"}
        assert await count(db, "conversations", "request_id = ?", (request.id,)) == 1
        conversation = won[0][0]
        assert (await queue.get_request(db, request.id)).status == "accepted"
        in_conversation = await db.fetchall("SELECT id FROM staff WHERE status = 'in_conversation'")
        assert [r["id"] for r in in_conversation] == [conversation.advisor_id]
        winners.append(conversation.advisor_id)
        await conversations.end(
            db,
            advisor_id=conversation.advisor_id,
            conversation_id=conversation.id,
            now=t + 1,
            wrap_up_seconds=0,
        )

    assert await count(db, "conversations") == 50
    assert await count(db, "requests", "status = 'accepted'") == 50


async def test_advisor_cannot_accept_a_second_conversation(db, event):
    booth = await make_booth(db, "zorgpunt")
    advisor = await make_advisor(db, booth, "anna@zorgpunt.nl")
    first = await make_request(db, event, await make_candidate(db, "Sanne"), booth)
    second = await make_request(db, event, await make_candidate(db, "Kees"), booth)
    t = time.time()
    await conversations.accept(db, event, advisor_id=advisor, request_id=first.id, now=t)

    with pytest.raises(DomainError) as caught:
        await conversations.accept(db, event, advisor_id=advisor, request_id=second.id, now=t + 1)
    assert caught.value.code == "advisor.busy"
    with pytest.raises(DomainError) as caught_next:
        await conversations.accept(db, event, advisor_id=advisor, request_id=None, now=t + 1)
    assert caught_next.value.code == "advisor.busy"

    assert (await queue.get_request(db, second.id)).status == "waiting"
    assert await count(db, "conversations") == 1


async def test_accept_next_takes_the_oldest_eligible_request(db, event):
    booth = await make_booth(db, "zorgpunt")
    anna = await make_advisor(db, booth, "anna@zorgpunt.nl")
    bob = await make_advisor(db, booth, "bob@zorgpunt.nl")
    t = time.time()
    for_bob = await make_request(
        db, event, await make_candidate(db, "Sanne"), booth, advisor_id=bob, now=t
    )
    newer = await make_request(db, event, await make_candidate(db, "Kees"), booth, now=t + 2)
    older = await make_request(db, event, await make_candidate(db, "Noor"), booth, now=t + 1)

    conversation, taken = await conversations.accept(
        db, event, advisor_id=anna, request_id=None, now=t + 3
    )

    assert taken.id == older.id
    assert conversation.request_id == older.id
    assert (await queue.get_request(db, for_bob.id)).status == "waiting"
    assert (await queue.get_request(db, newer.id)).status == "waiting"

    _, bobs = await conversations.accept(db, event, advisor_id=bob, request_id=None, now=t + 4)
    assert bobs.id == for_bob.id


async def test_accept_next_with_an_empty_queue(db, event):
    booth = await make_booth(db, "zorgpunt")
    advisor = await make_advisor(db, booth, "anna@zorgpunt.nl")

    with pytest.raises(DomainError) as caught:
        await conversations.accept(db, event, advisor_id=advisor, request_id=None, now=time.time())

    assert caught.value.code == "request.queue_empty"
    assert (await accounts.get_staff(db, advisor)).status == "available"


async def test_decline_stores_the_message_and_closes_the_request(db, event):
    booth = await make_booth(db, "zorgpunt")
    advisor = await make_advisor(db, booth, "anna@zorgpunt.nl")
    candidate = await make_candidate(db)
    request = await make_request(db, event, candidate, booth)
    t = time.time()
    message = "Sorry, dit past beter bij het Leerwerkloket. Probeer die stand!"

    declined = await queue.decline_request(
        db,
        advisor_id=advisor,
        booth_id=booth,
        request_id=request.id,
        message=f"  {message} ",
        now=t,
    )

    assert declined.status == "declined"
    assert declined.decline_message == message
    stored = await queue.get_request(db, request.id)
    assert stored.status == "declined"
    assert stored.decline_message == message
    assert stored.closed_at == t
    assert await queue.open_request_of(db, candidate) is None
    assert await queue.waiting_at_booth(db, booth) == []
    with pytest.raises(DomainError) as caught:
        await conversations.accept(db, event, advisor_id=advisor, request_id=request.id, now=t)
    assert caught.value.code == "request.not_waiting"
    assert await count(db, "conversations") == 0


async def test_end_starts_wrap_up_and_cannot_happen_twice(db, event):
    booth = await make_booth(db, "zorgpunt")
    advisor = await make_advisor(db, booth, "anna@zorgpunt.nl")
    other = await make_advisor(db, booth, "bob@zorgpunt.nl")
    request = await make_request(db, event, await make_candidate(db), booth)
    t = time.time()
    conversation, _ = await conversations.accept(
        db, event, advisor_id=advisor, request_id=request.id, now=t
    )

    with pytest.raises(DomainError) as not_mine:
        await conversations.end(
            db,
            advisor_id=other,
            conversation_id=conversation.id,
            now=t + 1,
            wrap_up_seconds=WRAP_UP,
        )
    assert not_mine.value.code == "conversation.not_found"

    ended = await conversations.end(
        db,
        advisor_id=advisor,
        conversation_id=conversation.id,
        now=t + 500,
        wrap_up_seconds=WRAP_UP,
    )

    assert ended.ended_at == t + 500
    assert (await conversations.get_conversation(db, conversation.id)).ended_at == t + 500
    staff = await accounts.get_staff(db, advisor)
    assert staff.status == "wrapping_up"
    wrap_up_until = await db.fetchvalue("SELECT wrap_up_until FROM staff WHERE id = ?", (advisor,))
    assert wrap_up_until == t + 500 + WRAP_UP
    assert await conversations.running_for_advisor(db, advisor) is None

    with pytest.raises(DomainError) as caught:
        await conversations.end(
            db,
            advisor_id=advisor,
            conversation_id=conversation.id,
            now=t + 501,
            wrap_up_seconds=WRAP_UP,
        )
    assert caught.value.code == "conversation.ended"
    assert (await conversations.get_conversation(db, conversation.id)).ended_at == t + 500


async def test_warning_and_time_up_fire_once_at_the_right_time(db, event):
    booth = await make_booth(db, "zorgpunt")
    advisor = await make_advisor(db, booth, "anna@zorgpunt.nl")
    request = await make_request(db, event, await make_candidate(db), booth)
    t = time.time()
    conversation, _ = await conversations.accept(
        db, event, advisor_id=advisor, request_id=request.id, now=t
    )
    ends = conversation.ends_at
    assert await conversations.next_timer(db, event) == ends - 120

    assert await conversations.warn_due(db, event, ends - 121) == []
    warned = await conversations.warn_due(db, event, ends - 120)
    assert [c.id for c in warned] == [conversation.id]
    assert warned[0].warned_at == ends - 120
    assert await conversations.warn_due(db, event, ends - 100) == []
    assert await conversations.next_timer(db, event) == ends

    assert await conversations.time_up_due(db, ends - 1) == []
    up = await conversations.time_up_due(db, ends)
    assert [c.id for c in up] == [conversation.id]
    assert up[0].time_up_at == ends
    assert await conversations.time_up_due(db, ends + 30) == []
    assert await conversations.next_timer(db, event) is None

    # Time up cuts nobody off: the conversation runs on in overtime.
    still = await conversations.get_conversation(db, conversation.id)
    assert still.ended_at is None
    assert (await accounts.get_staff(db, advisor)).status == "in_conversation"


async def test_an_ended_conversation_is_never_warned(db, event):
    booth = await make_booth(db, "zorgpunt")
    advisor = await make_advisor(db, booth, "anna@zorgpunt.nl")
    request = await make_request(db, event, await make_candidate(db), booth)
    t = time.time()
    conversation, _ = await conversations.accept(
        db, event, advisor_id=advisor, request_id=request.id, now=t
    )
    await conversations.end(
        db,
        advisor_id=advisor,
        conversation_id=conversation.id,
        now=t + 60,
        wrap_up_seconds=WRAP_UP,
    )

    assert await conversations.warn_due(db, event, t + 10_000) == []
    assert await conversations.time_up_due(db, t + 10_000) == []
    assert await conversations.next_timer(db, event) is None


async def _accept_one(db, event, booth, advisor, name):
    request = await make_request(db, event, await make_candidate(db, name), booth)
    conversation, _ = await conversations.accept(
        db, event, advisor_id=advisor, request_id=request.id, now=time.time()
    )
    return conversation


async def test_jitsi_links_are_fresh_and_unguessable(db, event):
    booth = await make_booth(db, "zorgpunt")
    anna = await make_advisor(db, booth, "anna@zorgpunt.nl")
    bob = await make_advisor(db, booth, "bob@zorgpunt.nl")

    first = await _accept_one(db, event, booth, anna, "Sanne")
    second = await _accept_one(db, event, booth, bob, "Kees")

    prefix = "https://meet.jit.si/"
    assert first.video_url.startswith(prefix)
    assert second.video_url.startswith(prefix)
    assert first.video_url != second.video_url
    for url in (first.video_url, second.video_url):
        room = url[len(prefix) :]
        assert "/" not in room
        assert len(room) >= 24
    # Sanity: a third link for the same advisor is new again.
    await conversations.end(
        db, advisor_id=anna, conversation_id=first.id, now=time.time(), wrap_up_seconds=0
    )
    third = await _accept_one(db, event, booth, anna, "Noor")
    assert third.video_url not in (first.video_url, second.video_url)


async def test_jitsi_base_url_comes_from_the_event(tmp_path):
    db = await open_db(tmp_path / "own-jitsi.db")
    try:
        event = await make_event(db, video_base_url="https://video.leerwerkloket.nl/")
        booth = await make_booth(db, "zorgpunt")
        advisor = await make_advisor(db, booth, "anna@zorgpunt.nl")
        conversation = await _accept_one(db, event, booth, advisor, "Sanne")
        assert conversation.video_url.startswith("https://video.leerwerkloket.nl/inzoomen-")
        assert "//inzoomen" not in conversation.video_url
    finally:
        await db.close()


async def test_personal_provider_uses_the_advisor_link_and_falls_back(tmp_path):
    db = await open_db(tmp_path / "personal.db")
    try:
        event = await make_event(db, video_provider="personal")
        booth = await make_booth(db, "zorgpunt")
        with_link = await make_advisor(db, booth, "anna@zorgpunt.nl")
        without_link = await make_advisor(db, booth, "bob@zorgpunt.nl")
        personal = "https://teams.example.nl/l/meetup-join/anna-123"
        async with db.transaction() as tx:
            await tx.execute(
                "UPDATE staff SET personal_link = ? WHERE id = ?", (personal, with_link)
            )

        own = await _accept_one(db, event, booth, with_link, "Sanne")
        fallback = await _accept_one(db, event, booth, without_link, "Kees")

        assert own.video_url == personal
        assert fallback.video_url.startswith("https://meet.jit.si/inzoomen-")
        assert fallback.video_url != personal
    finally:
        await db.close()


async def test_accepts_through_separate_connections_give_one_conversation(tmp_path):
    """Each advisor's accept goes through its own connection to the same file, as separate
    worker processes would: the database's write lock, not the process, keeps it to one."""
    path = tmp_path / "shared.db"
    setup = await open_db(path)
    event = await make_event(setup)
    booth = await make_booth(setup, "zorgpunt")
    advisors = [await make_advisor(setup, booth, f"a{i}@zorgpunt.nl") for i in range(5)]
    candidate = await make_candidate(setup)
    workers = [await open_db(path) for _ in advisors]
    try:
        for round_ in range(20):
            t = time.time()
            request = await make_request(setup, event, candidate, booth, client_key=f"r{round_}")
            results = await asyncio.gather(
                *(
                    conversations.accept(db, event, advisor_id=a, request_id=request.id, now=t)
                    for db, a in zip(workers, advisors, strict=True)
                ),
                return_exceptions=True,
            )
            won = [r for r in results if isinstance(r, tuple)]
            assert len(won) == 1, f"round {round_}: {len(won)} conversations"
            assert all(
                isinstance(r, DomainError) and r.code == "request.not_waiting"
                for r in results
                if not isinstance(r, tuple)
            ), results
            conversation = won[0][0]
            await conversations.end(
                setup,
                advisor_id=conversation.advisor_id,
                conversation_id=conversation.id,
                now=t + 1,
                wrap_up_seconds=0,
            )
        assert await count(setup, "conversations") == 20
    finally:
        for db in workers:
            await db.close()
        await setup.close()
