from __future__ import annotations

import json
import time

from app.domain import conversations
from app.live import snapshots
from tests.servicekit import (
    make_advisor,
    make_booth,
    make_candidate,
    make_request,
)


async def test_booth_views_show_statuses_queue_and_wait(db, event):
    booth = await make_booth(db, "zorgpunt", name="Zorgpunt Utrecht")
    empty = await make_booth(db, "leeg", name="Lege stand")
    anna = await make_advisor(db, booth, "anna@zorgpunt.nl", status="available", name="Anna")
    await make_advisor(db, booth, "bob@zorgpunt.nl", status="paused", name="Bob")
    await make_advisor(db, booth, "carla@zorgpunt.nl", status="offline", name="Carla")
    await make_advisor(db, empty, "dirk@leeg.nl", status="offline", name="Dirk")
    t = time.time()
    first = await make_request(db, event, await make_candidate(db, "Sanne"), booth, now=t)
    await make_request(db, event, await make_candidate(db, "Kees"), booth, now=t + 1)

    views = {v["id"]: v for v in await snapshots.booth_views(db, event, t + 2)}

    view = views[booth]
    assert view["name"] == "Zorgpunt Utrecht"
    assert view["open_now"] is True
    assert {a["name"]: a["status"] for a in view["advisors"]} == {
        "Anna": "available",
        "Bob": "paused",
        "Carla": "offline",
    }
    assert view["present"] is True
    assert view["free"] == 1
    assert view["queue_length"] == 2
    # One advisor free now; the next person is third in line: 2 × 10 minutes.
    assert view["wait_minutes"] == 20

    assert views[empty]["present"] is False
    assert views[empty]["queue_length"] == 0
    assert views[empty]["wait_minutes"] is None

    await conversations.accept(db, event, advisor_id=anna, request_id=first.id, now=t + 2)
    view = (await snapshots.booth_views(db, event, t + 2, booth_id=booth))[0]
    assert {a["name"]: a["status"] for a in view["advisors"]}["Anna"] == "in_conversation"
    assert view["free"] == 0
    assert view["queue_length"] == 1
    # Anna is free in 10 minutes, then Kees; the next person after that waits 20.
    assert view["wait_minutes"] == 20


async def test_booth_view_wait_with_two_free_advisors(db, event):
    booth = await make_booth(db, "zorgpunt")
    await make_advisor(db, booth, "anna@zorgpunt.nl")
    await make_advisor(db, booth, "bob@zorgpunt.nl")
    t = time.time()

    view = (await snapshots.booth_views(db, event, t, booth_id=booth))[0]
    assert view["wait_minutes"] == 0

    await make_request(db, event, await make_candidate(db, "Sanne"), booth, now=t)
    await make_request(db, event, await make_candidate(db, "Kees"), booth, now=t)
    view = (await snapshots.booth_views(db, event, t, booth_id=booth))[0]
    assert view["queue_length"] == 2
    assert view["wait_minutes"] == 10


async def test_candidate_state_never_shows_another_candidate(db, event):
    booth = await make_booth(db, "zorgpunt", name="Zorgpunt Utrecht")
    anna = await make_advisor(db, booth, "anna@zorgpunt.nl", name="Anna")
    bram = await make_candidate(db, "Bramwell Vledderhuis", email="bram.vl@voorbeeld.nl")
    zwaan = await make_candidate(db, "Zwaantje Oosterhuis", email="zwaan.o@voorbeeld.nl")
    t = time.time()
    bram_request = await make_request(
        db, event, bram, booth, question="Geheime vraag over mijn uitkering", now=t
    )
    await make_request(db, event, zwaan, booth, question="Kan ik omscholen?", now=t + 1)
    conversation, _ = await conversations.accept(
        db, event, advisor_id=anna, request_id=bram_request.id, now=t + 2
    )

    zwaan_state = await snapshots.candidate_state(db, event, zwaan, t + 3)
    bram_state = await snapshots.candidate_state(db, event, bram, t + 3)

    zwaan_json = json.dumps(zwaan_state)
    assert zwaan_state["request"]["position"] == 1
    assert zwaan_state["request"]["question"] == "Kan ik omscholen?"
    assert zwaan_state["conversation"] is None
    for secret in ("Bramwell", "Vledderhuis", "bram.vl@", "Geheime vraag", conversation.video_url):
        assert secret not in zwaan_json

    # The link is really there for the candidate who is in the call.
    bram_json = json.dumps(bram_state)
    assert bram_state["conversation"]["video_url"] == conversation.video_url
    assert bram_state["conversation"]["ends_at"] == conversation.ends_at
    for secret in ("Zwaantje", "Oosterhuis", "zwaan.o@", "omscholen"):
        assert secret not in bram_json


async def test_candidate_state_after_the_call_shows_no_other_link(db, event):
    booth = await make_booth(db, "zorgpunt")
    anna = await make_advisor(db, booth, "anna@zorgpunt.nl", name="Anna")
    bram = await make_candidate(db, "Bramwell Vledderhuis", email="bram.vl@voorbeeld.nl")
    zwaan = await make_candidate(db, "Zwaantje Oosterhuis", email="zwaan.o@voorbeeld.nl")
    t = time.time()
    first = await make_request(db, event, zwaan, booth, now=t)
    own, _ = await conversations.accept(db, event, advisor_id=anna, request_id=first.id, now=t)
    await conversations.end(
        db, advisor_id=anna, conversation_id=own.id, now=t + 600, wrap_up_seconds=0
    )
    second = await make_request(db, event, bram, booth, now=t + 601)
    other, _ = await conversations.accept(
        db, event, advisor_id=anna, request_id=second.id, now=t + 602
    )

    state = await snapshots.candidate_state(db, event, zwaan, t + 603)

    text = json.dumps(state)
    assert state["conversation"]["id"] == own.id
    assert state["conversation"]["video_url"] == own.video_url
    assert other.video_url not in text
    assert "Bramwell" not in text


async def test_console_shows_only_the_advisors_booth_queue(db, event):
    booth = await make_booth(db, "zorgpunt", name="Zorgpunt Utrecht")
    other_booth = await make_booth(db, "bouwplaats", name="Bouwplaats")
    anna = await make_advisor(db, booth, "anna@zorgpunt.nl", name="Anna")
    bob = await make_advisor(db, booth, "bob@zorgpunt.nl", name="Bob")
    await make_advisor(db, other_booth, "piet@bouwplaats.nl", name="Piet")
    t = time.time()
    mine = await make_request(
        db, event, await make_candidate(db, "Sanne"), booth, question="BBL?", now=t
    )
    for_bob = await make_request(
        db, event, await make_candidate(db, "Kees"), booth, advisor_id=bob, now=t + 1
    )
    for_me = await make_request(
        db, event, await make_candidate(db, "Noor"), booth, advisor_id=anna, now=t + 2
    )
    await make_request(
        db, event, await make_candidate(db, "Willemijn"), other_booth, question="Bouw", now=t
    )

    state = await snapshots.console_state(db, event, anna, t + 3)

    assert state["advisor"]["id"] == anna
    assert state["advisor"]["booth_name"] == "Zorgpunt Utrecht"
    assert [q["request_id"] for q in state["queue"]] == [mine.id, for_me.id]
    assert [q["candidate_name"] for q in state["queue"]] == ["Sanne", "Noor"]
    assert [q["for_me"] for q in state["queue"]] == [False, True]
    assert state["queue"][0]["question"] == "BBL?"
    assert state["conversation"] is None
    text = json.dumps(state)
    assert "Willemijn" not in text
    assert "Kees" not in text

    bob_state = await snapshots.console_state(db, event, bob, t + 3)
    assert [q["request_id"] for q in bob_state["queue"]] == [mine.id, for_bob.id]
