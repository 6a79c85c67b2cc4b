from __future__ import annotations

import asyncio
import time

import pytest

from app.core.errors import DomainError, ValidationError
from app.domain import conversations, queue
from tests.servicekit import (
    count,
    make_advisor,
    make_booth,
    make_candidate,
    make_request,
)


def _request(request_id: int, advisor_id: int | None = None) -> queue.Request:
    return queue.Request(
        id=request_id,
        booth_id=1,
        advisor_id=advisor_id,
        candidate_id=100 + request_id,
        question="",
        status="waiting",
        created_at=float(request_id),
        expires_at=10_000.0,
        closed_at=None,
        decline_message="",
    )


async def test_queue_is_first_come_first_served_by_time_then_id(db, event):
    booth = await make_booth(db, "zorgpunt")
    await make_advisor(db, booth, "anna@zorgpunt.nl")
    late = await make_candidate(db, "Lotte")
    first = await make_candidate(db, "Mehmet")
    tie = await make_candidate(db, "Noor")
    t = time.time()
    r_late = await make_request(db, event, late, booth, now=t + 5)
    r_first = await make_request(db, event, first, booth, now=t + 1)
    r_tie = await make_request(db, event, tie, booth, now=t + 1)

    entries = await queue.waiting_at_booth(db, booth)

    assert [e.request.id for e in entries] == [r_first.id, r_tie.id, r_late.id]
    assert [e.position for e in entries] == [1, 2, 3]
    assert [e.candidate_name for e in entries] == ["Mehmet", "Noor", "Lotte"]


async def test_one_waiting_request_per_candidate(db, event):
    booth = await make_booth(db, "zorgpunt")
    other_booth = await make_booth(db, "bouwplaats")
    candidate = await make_candidate(db)
    first = await make_request(db, event, candidate, booth, client_key="a")

    with pytest.raises(DomainError) as caught:
        await make_request(db, event, candidate, other_booth, client_key="b")

    assert caught.value.code == "request.already_open"
    assert await count(db, "requests") == 1
    assert (await queue.open_request_of(db, candidate)).id == first.id


async def test_same_client_key_returns_the_same_request(db, event):
    booth = await make_booth(db, "zorgpunt")
    candidate = await make_candidate(db)
    t = time.time()
    kwargs = dict(
        candidate_id=candidate,
        booth_id=booth,
        advisor_id=None,
        question="Kan ik BBL doen?",
        client_key="double-click",
        ttl_seconds=600,
    )

    first, created_first = await queue.create_request(db, event, now=t, **kwargs)
    again, created_again = await queue.create_request(db, event, now=t + 1, **kwargs)

    assert created_first is True
    assert created_again is False
    assert again == first
    assert again.created_at == t
    assert await count(db, "requests") == 1


async def test_concurrent_submits_create_exactly_one_request(db, event):
    booth = await make_booth(db, "zorgpunt")
    candidate = await make_candidate(db)
    t = time.time()

    results = await asyncio.gather(
        *(
            queue.create_request(
                db,
                event,
                candidate_id=candidate,
                booth_id=booth,
                advisor_id=None,
                question="",
                client_key=f"tab-{i}",
                now=t,
                ttl_seconds=600,
            )
            for i in range(20)
        ),
        return_exceptions=True,
    )

    made = [r for r in results if isinstance(r, tuple)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(made) == 1
    assert made[0][1] is True
    assert len(refused) == 19
    assert all(isinstance(e, DomainError) for e in refused)
    assert {e.code for e in refused} == {"request.already_open"}
    assert await count(db, "requests") == 1
    assert await count(db, "requests", "status = 'waiting'") == 1


async def test_question_over_500_characters_is_refused_and_nothing_stored(db, event):
    booth = await make_booth(db, "zorgpunt")
    candidate = await make_candidate(db)

    with pytest.raises(ValidationError) as caught:
        await make_request(db, event, candidate, booth, question="x" * 501)

    assert set(caught.value.errors) == {"question"}
    assert caught.value.errors["question"].code == "input.too_long"
    assert await count(db, "requests") == 0

    exactly_max = await make_request(db, event, candidate, booth, question="y" * 500)
    assert exactly_max.question == "y" * 500
    assert await count(db, "requests") == 1


async def test_unknown_booth_is_refused(db, event):
    candidate = await make_candidate(db)

    with pytest.raises(DomainError) as caught:
        await make_request(db, event, candidate, 9999)

    assert caught.value.code == "booth.not_found"
    assert await count(db, "requests") == 0


async def test_closed_booth_is_refused(db, event):
    closed = await make_booth(db, "dicht", open_now=False)
    await make_advisor(db, closed, "weg@dicht.nl", status="offline")
    candidate = await make_candidate(db)

    with pytest.raises(DomainError) as caught:
        await make_request(db, event, candidate, closed)

    assert caught.value.code == "booth.closed"
    assert await count(db, "requests") == 0


async def test_closed_booth_with_an_advisor_present_takes_requests(db, event):
    booth = await make_booth(db, "buiten-rooster", open_now=False)
    await make_advisor(db, booth, "er@wel.nl", status="available")
    candidate = await make_candidate(db)

    request = await make_request(db, event, candidate, booth)

    assert request.status == "waiting"
    assert await count(db, "requests") == 1


async def test_cancel_by_another_candidate_is_refused(db, event):
    booth = await make_booth(db, "zorgpunt")
    owner = await make_candidate(db, "Sanne")
    stranger = await make_candidate(db, "Kees")
    request = await make_request(db, event, owner, booth)

    with pytest.raises(DomainError) as caught:
        await queue.cancel_request(
            db, candidate_id=stranger, request_id=request.id, now=time.time()
        )

    assert caught.value.code == "request.not_found"
    assert (await queue.get_request(db, request.id)).status == "waiting"


async def test_cancel_twice_gives_not_waiting(db, event):
    booth = await make_booth(db, "zorgpunt")
    candidate = await make_candidate(db)
    request = await make_request(db, event, candidate, booth)
    t = time.time()

    cancelled = await queue.cancel_request(db, candidate_id=candidate, request_id=request.id, now=t)
    assert cancelled.status == "cancelled"
    assert cancelled.closed_at == t

    with pytest.raises(DomainError) as caught:
        await queue.cancel_request(db, candidate_id=candidate, request_id=request.id, now=t + 1)
    assert caught.value.code == "request.not_waiting"
    assert (await queue.get_request(db, request.id)).closed_at == t
    # After cancelling, the candidate may ask elsewhere.
    assert await queue.open_request_of(db, candidate) is None
    again = await make_request(db, event, candidate, booth, client_key="second")
    assert again.id != request.id


async def test_expire_due_expires_only_due_requests(db, event):
    booth = await make_booth(db, "zorgpunt")
    early = await make_candidate(db, "Sanne")
    later = await make_candidate(db, "Kees")
    t = time.time()
    r_early = await make_request(db, event, early, booth, now=t, ttl_seconds=60)
    r_later = await make_request(db, event, later, booth, now=t, ttl_seconds=120)

    assert await queue.expire_due(db, t + 59) == []
    expired = await queue.expire_due(db, t + 60)

    assert [r.id for r in expired] == [r_early.id]
    assert expired[0].status == "expired"
    assert (await queue.get_request(db, r_early.id)).status == "expired"
    assert (await queue.get_request(db, r_later.id)).status == "waiting"
    assert await queue.next_expiry(db) == t + 120
    assert await queue.expire_due(db, t + 61) == []


def test_position_counts_only_requests_competing_for_the_same_advisor():
    general_1 = _request(1)
    for_bob = _request(2, advisor_id=7)
    for_ann = _request(3, advisor_id=8)
    general_2 = _request(4)
    waiting = [general_1, for_bob, for_ann, general_2]

    assert queue.position_in(general_1, waiting) == 1
    assert queue.position_in(for_bob, waiting) == 2
    # Ann's request only waits behind general requests and her own.
    assert queue.position_in(for_ann, waiting) == 2
    assert queue.position_in(general_2, waiting) == 4


def test_estimate_wait_seconds():
    assert queue.estimate_wait_seconds(3, [0.0, 0.0], 600) == 600
    assert queue.estimate_wait_seconds(1, [0.0, 0.0], 600) == 0
    assert queue.estimate_wait_seconds(2, [0.0], 600) == 600
    assert queue.estimate_wait_seconds(1, [300.0, 90.0], 600) == 90
    assert queue.estimate_wait_seconds(3, [300.0, 90.0], 600) == 690
    assert queue.estimate_wait_seconds(1, [], 600) is None
    assert queue.round_wait_minutes(None) is None
    assert queue.round_wait_minutes(61) == 2
    assert queue.round_wait_minutes(0) == 0


async def test_request_for_one_advisor_is_only_taken_by_that_advisor(db, event):
    booth = await make_booth(db, "zorgpunt")
    ann = await make_advisor(db, booth, "ann@zorgpunt.nl")
    bob = await make_advisor(db, booth, "bob@zorgpunt.nl")
    sanne = await make_candidate(db, "Sanne")
    kees = await make_candidate(db, "Kees")
    t = time.time()
    for_bob = await make_request(db, event, sanne, booth, advisor_id=bob, now=t)
    general = await make_request(db, event, kees, booth, now=t + 1)
    waiting = [e.request for e in await queue.waiting_at_booth(db, booth)]

    assert queue.next_for_advisor(ann, waiting).id == general.id
    assert queue.next_for_advisor(bob, waiting).id == for_bob.id
    assert queue.next_for_advisor(ann, [for_bob]) is None

    with pytest.raises(DomainError) as caught:
        await conversations.accept(db, event, advisor_id=ann, request_id=for_bob.id, now=t + 2)
    assert caught.value.code == "request.not_waiting"
    assert (await queue.get_request(db, for_bob.id)).status == "waiting"

    conversation, taken = await conversations.accept(
        db, event, advisor_id=bob, request_id=for_bob.id, now=t + 3
    )
    assert taken.id == for_bob.id
    assert conversation.advisor_id == bob


async def test_request_for_an_advisor_of_another_booth_is_refused(db, event):
    booth = await make_booth(db, "zorgpunt")
    elsewhere = await make_booth(db, "bouwplaats")
    stranger = await make_advisor(db, elsewhere, "piet@bouwplaats.nl")
    candidate = await make_candidate(db)

    with pytest.raises(DomainError) as caught:
        await make_request(db, event, candidate, booth, advisor_id=stranger)

    assert caught.value.code == "advisor.not_found"
    assert await count(db, "requests") == 0
