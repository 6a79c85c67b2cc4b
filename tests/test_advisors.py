from __future__ import annotations

import time

import pytest

from app.core.errors import DomainError
from app.domain import accounts, advisors, conversations
from tests.servicekit import (
    make_advisor,
    make_booth,
    make_candidate,
    make_request,
)


@pytest.fixture
async def booth(db, event):
    return await make_booth(db, "zorgpunt")


@pytest.mark.parametrize("status", ["available", "paused", "offline"])
async def test_set_status_to_a_choosable_status(db, booth, status):
    start = "offline" if status != "offline" else "available"
    advisor = await make_advisor(db, booth, "anna@zorgpunt.nl", status=start)

    staff = await advisors.set_status(db, advisor, status, now=1234.0)

    assert staff.status == status
    assert staff.status_since == 1234.0
    assert (await accounts.get_staff(db, advisor)).status == status


async def test_setting_the_same_status_keeps_its_since(db, booth):
    advisor = await make_advisor(db, booth, "anna@zorgpunt.nl", status="offline")
    await advisors.set_status(db, advisor, "paused", now=100.0)

    staff = await advisors.set_status(db, advisor, "paused", now=200.0)

    assert staff.status == "paused"
    assert staff.status_since == 100.0


@pytest.mark.parametrize("status", ["in_conversation", "wrapping_up", "busy", ""])
async def test_statuses_that_follow_a_call_cannot_be_chosen(db, booth, status):
    advisor = await make_advisor(db, booth, "anna@zorgpunt.nl", status="available")

    with pytest.raises(DomainError) as caught:
        await advisors.set_status(db, advisor, status, now=time.time())

    assert caught.value.code == "advisor.bad_status"
    assert (await accounts.get_staff(db, advisor)).status == "available"


async def test_cannot_pause_during_a_conversation(db, event, booth):
    advisor = await make_advisor(db, booth, "anna@zorgpunt.nl")
    request = await make_request(db, event, await make_candidate(db), booth)
    t = time.time()
    await conversations.accept(db, event, advisor_id=advisor, request_id=request.id, now=t)

    for status in ("paused", "offline", "available"):
        with pytest.raises(DomainError) as caught:
            await advisors.set_status(db, advisor, status, now=t + 1)
        assert caught.value.code == "advisor.busy"

    staff = await accounts.get_staff(db, advisor)
    assert staff.status == "in_conversation"
    assert staff.status_since == t


async def test_wrap_up_ends_only_after_its_time(db, event, booth):
    anna = await make_advisor(db, booth, "anna@zorgpunt.nl")
    bob = await make_advisor(db, booth, "bob@zorgpunt.nl")
    t = time.time()
    for advisor, name, wrap in ((anna, "Sanne", 60), (bob, "Kees", 180)):
        request = await make_request(db, event, await make_candidate(db, name), booth)
        conversation, _ = await conversations.accept(
            db, event, advisor_id=advisor, request_id=request.id, now=t
        )
        await conversations.end(
            db,
            advisor_id=advisor,
            conversation_id=conversation.id,
            now=t + 10,
            wrap_up_seconds=wrap,
        )
    assert await advisors.next_wrap_up_end(db) == t + 70

    assert await advisors.finish_wrap_ups_due(db, t + 69) == []
    assert (await accounts.get_staff(db, anna)).status == "wrapping_up"

    done = await advisors.finish_wrap_ups_due(db, t + 70)
    assert [s.id for s in done] == [anna]
    assert done[0].status == "available"
    assert done[0].status_since == t + 70
    assert (await accounts.get_staff(db, bob)).status == "wrapping_up"
    assert await advisors.next_wrap_up_end(db) == t + 190

    assert await advisors.finish_wrap_ups_due(db, t + 71) == []
    assert [s.id for s in await advisors.finish_wrap_ups_due(db, t + 500)] == [bob]
    assert await advisors.next_wrap_up_end(db) is None


async def test_choosing_a_status_during_wrap_up_ends_it(db, event, booth):
    advisor = await make_advisor(db, booth, "anna@zorgpunt.nl")
    request = await make_request(db, event, await make_candidate(db), booth)
    t = time.time()
    conversation, _ = await conversations.accept(
        db, event, advisor_id=advisor, request_id=request.id, now=t
    )
    await conversations.end(
        db, advisor_id=advisor, conversation_id=conversation.id, now=t + 10, wrap_up_seconds=300
    )

    staff = await advisors.set_status(db, advisor, "paused", now=t + 20)

    assert staff.status == "paused"
    assert await advisors.finish_wrap_ups_due(db, t + 1000) == []
    assert (await accounts.get_staff(db, advisor)).status == "paused"
