"""The candidate's feedback over a real server: every state pushed to a candidate is whole,
so the rating of their last conversation stays in it while they wait in line again."""

from __future__ import annotations

import asyncio

from tests.livekit import Browserless, World


async def test_every_pushed_state_of_a_waiting_candidate_holds_their_feedback(
    new_visitor, world: World
) -> None:
    advisor: Browserless = new_visitor()
    await advisor.log_in("a1@test.example")
    console = await advisor.socket()
    candidate: Browserless = new_visitor()
    await candidate.sign_in_candidate("Sanne", "sanne@example.nl")
    me = await candidate.socket()

    made = await me.send("request.create", {"booth_id": world.booth_a, "client_key": "one"})
    started = await console.send("request.accept", {"request_id": made["data"]["request_id"]})
    talk = started["data"]["conversation_id"]
    assert (await me.send("conversation.join", {"conversation_id": talk}))["ok"]
    assert (await console.send("conversation.end", {"conversation_id": talk}))["ok"]
    rated = await me.send("conversation.rate", {"conversation_id": talk, "rating": 5})
    assert rated["ok"], rated

    # In line again: the booth's changes reach her as whole states, the rating included.
    me.events.clear()
    again = await me.send("request.create", {"booth_id": world.booth_a, "client_key": "two"})
    assert again["ok"], again
    for status in ("paused", "available", "paused"):
        assert (await console.send("advisor.status", {"status": status}))["ok"]
    await asyncio.sleep(0.5)
    states = [f["data"] for f in me.events if f["event"] == "me.state"]
    waiting = [s for s in states if (s.get("request") or {}).get("status") == "waiting"]
    assert len(waiting) >= 3, states
    for state in waiting:
        assert state["feedback"] is not None, state
        assert (state["feedback"]["conversation_id"], state["feedback"]["rating"]) == (talk, 5)
    for peer in (console, me):
        await peer.close()
