"""The WebSocket protocol against a real uvicorn server on loopback."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from app.storage.db import POSTGRESQL, SQLITE
from tests.livekit import Browserless, LiveServer, World

# The protocol holds the same on both database backends.
pytestmark = pytest.mark.parametrize("world_db", [SQLITE, POSTGRESQL], indirect=True)


async def test_welcome_and_full_state_on_connect(new_visitor, world: World) -> None:
    hall = await new_visitor().socket()
    assert hall.welcome["role"] == "anonymous"
    assert abs(hall.welcome["server_time"] - time.time()) < 5
    names = [b["name"] for b in hall.state["hall"]["booths"]]
    assert names == ["Zorggroep A", "Bouwbedrijf B"]
    assert "me" not in hall.state and "console" not in hall.state
    await hall.close()


async def test_request_reaches_advisor_and_accept_reaches_candidate(
    new_visitor, world: World
) -> None:
    advisor = new_visitor()
    await advisor.log_in("a1@test.example")
    console = await advisor.socket()
    assert console.state["console"]["advisor"]["status"] == "available"

    candidate = new_visitor()
    await candidate.sign_in_candidate("Sanne de Vries")
    me = await candidate.socket()

    reply = await me.send(
        "request.create",
        {"booth_id": world.booth_a, "question": "Kan ik BBL doen?", "client_key": "k1"},
    )
    assert reply["ok"], reply
    request_id = reply["data"]["request_id"]

    queue_state = await console.next_event("console.state", where=lambda d: len(d["queue"]) == 1)
    item = queue_state["queue"][0]
    assert item["request_id"] == request_id
    assert item["candidate_name"] == "Sanne de Vries"
    assert item["question"] == "Kan ik BBL doen?"

    mine = await me.next_event("me.state", where=lambda d: d["request"] is not None)
    assert mine["request"]["position"] == 1

    reply = await console.send("request.accept", {"request_id": request_id})
    assert reply["ok"], reply

    started = await me.next_event("me.state", where=lambda d: d["conversation"] is not None)
    on_console = await console.next_event(
        "console.state", where=lambda d: d["conversation"] is not None
    )
    link = started["conversation"]["video_url"]
    assert link.startswith("https://meet.example.test/inzoomen-")
    assert on_console["conversation"]["video_url"] == link
    assert on_console["conversation"]["ends_at"] == started["conversation"]["ends_at"]
    assert 595 < started["conversation"]["ends_at"] - reply["server_time"] <= 600
    await me.close()
    await console.close()


async def test_hall_change_reaches_every_other_client(new_visitor, world: World) -> None:
    watchers = [await new_visitor().socket() for _ in range(3)]
    advisor = new_visitor()
    await advisor.log_in("b1@test.example")
    console = await advisor.socket()
    reply = await console.send("advisor.status", {"status": "paused"})
    assert reply["ok"], reply

    def paused(view: dict[str, Any]) -> bool:
        return view["id"] == world.booth_b and view["advisors"][0]["status"] == "paused"

    for watcher in watchers:
        hall = watcher.state["hall"]
        delta = await watcher.next_event(
            "hall.delta", where=lambda d: any(map(paused, d["booths"]))
        )
        assert delta["v"] > hall["v"]
        (booth,) = [view for view in delta["booths"] if paused(view)]
        assert booth["free"] == 0
        await watcher.close()
    await console.close()


async def test_candidate_never_hears_another_candidates_link(new_visitor, world: World) -> None:
    advisor = new_visitor()
    await advisor.log_in("a1@test.example")
    console = await advisor.socket()
    first, other = new_visitor(), new_visitor()
    await first.sign_in_candidate("Eerste Kandidaat", "een@example.nl")
    await other.sign_in_candidate("Andere Kandidaat", "twee@example.nl")
    first_ws, other_ws = await first.socket(), await other.socket()
    reply = await first_ws.send("request.create", {"booth_id": world.booth_a, "client_key": "x"})
    request_id = reply["data"]["request_id"]
    accepted = await console.send("request.accept", {"request_id": request_id})
    assert accepted["ok"]
    mine = await first_ws.next_event("me.state", where=lambda d: d["conversation"] is not None)
    link = mine["conversation"]["video_url"]
    await asyncio.sleep(0.3)
    # Everything the other candidate received, as raw text, holds neither the link nor the name.
    seen = await other_ws.send("session.sync")
    everything = json.dumps(other_ws.events) + json.dumps(seen)
    assert link not in everything
    assert "Eerste Kandidaat" not in everything
    for ws in (console, first_ws, other_ws):
        await ws.close()


@pytest.mark.parametrize(
    ("role", "action", "data", "code"),
    [
        (
            "anonymous",
            "request.create",
            {"booth_id": 1, "client_key": "a"},
            "auth.sign_in_required",
        ),
        ("candidate", "request.accept", {}, "auth.forbidden"),
        ("candidate", "advisor.status", {"status": "available"}, "auth.forbidden"),
        ("advisor", "request.create", {"booth_id": 1, "client_key": "a"}, "auth.forbidden"),
        ("candidate", "request.create", {"booth_id": "1", "client_key": "a"}, "input.invalid"),
        ("candidate", "request.create", {"booth_id": 1}, "input.invalid"),
        (
            "candidate",
            "request.create",
            {"booth_id": 1, "client_key": "a", "x": 1},
            "input.invalid",
        ),
        (
            "candidate",
            "request.create",
            {"booth_id": 1, "client_key": "a", "question": "q" * 501},
            "input.invalid",
        ),
        ("candidate", "request.create", {"booth_id": 999, "client_key": "a"}, "booth.not_found"),
        ("advisor", "advisor.status", {"status": "in_conversation"}, "input.invalid"),
        ("candidate", "no.such.action", {}, "protocol.unknown_action"),
    ],
)
async def test_wrong_role_or_shape_is_refused_and_changes_nothing(
    new_visitor, world: World, role: str, action: str, data: dict, code: str
) -> None:
    visitor: Browserless = new_visitor()
    if role == "candidate":
        await visitor.sign_in_candidate()
    elif role == "advisor":
        await visitor.log_in("a1@test.example")
    peer = await visitor.socket()
    before = await peer.send("session.sync")
    reply = await peer.send(action, data)
    assert reply["ok"] is False
    assert reply["error"]["code"] == code
    assert reply["error"]["message"]
    after = await peer.send("session.sync")
    assert after["data"] == before["data"]
    await peer.close()


async def test_malformed_frames_get_an_error_and_the_connection_stays(new_visitor) -> None:
    peer = await new_visitor().socket()
    for raw in ("not json", "[1,2]", '{"action": "clock.sync"}', '{"id": 5, "action": "x"}'):
        await peer.connection.send(raw)
        reply = await peer.orphan_reply()
        assert reply["ok"] is False
        assert reply["error"]["code"].startswith("protocol.")
    await peer.connection.send(b"\x00\x01binary")
    reply = await peer.orphan_reply()
    assert reply["error"]["code"] == "protocol.bad_envelope"
    alive = await peer.send("clock.sync")
    assert alive["ok"] is True
    await peer.close()


async def test_oversized_frame_closes_with_1009(new_visitor) -> None:
    peer = await new_visitor().socket()
    await peer.connection.send(
        json.dumps({"id": "big", "action": "clock.sync", "data": {"x": "a" * 70_000}})
    )
    closed = await peer.wait_closed()
    assert isinstance(closed, ConnectionClosed)
    assert closed.rcvd is not None and closed.rcvd.code == 1009


async def test_wrong_origin_is_refused(server: LiveServer) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(server.ws_url, origin="https://evil.example"):  # type: ignore[arg-type]
            pass
    assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus):
        async with connect(server.ws_url):
            pass


async def test_double_submit_makes_one_request(new_visitor, world: World) -> None:
    candidate = new_visitor()
    await candidate.sign_in_candidate()
    peer = await candidate.socket()
    data = {"booth_id": world.booth_a, "client_key": "same-click"}
    first, second = await asyncio.gather(
        peer.send("request.create", data), peer.send("request.create", data)
    )
    assert first["ok"] and second["ok"]
    assert first["data"]["request_id"] == second["data"]["request_id"]
    assert {first["data"]["created"], second["data"]["created"]} == {True, False}
    other = await peer.send("request.create", {"booth_id": world.booth_b, "client_key": "other"})
    assert other["error"]["code"] == "request.already_open"
    await peer.close()


async def test_two_advisors_accept_the_same_request_once(new_visitor, world: World) -> None:
    a1, a2 = new_visitor(), new_visitor()
    await a1.log_in("a1@test.example")
    await a2.log_in("a2@test.example")
    c1, c2 = await a1.socket(), await a2.socket()
    candidate = new_visitor()
    await candidate.sign_in_candidate()
    me = await candidate.socket()
    reply = await me.send("request.create", {"booth_id": world.booth_a, "client_key": "r"})
    request_id = reply["data"]["request_id"]
    replies = await asyncio.gather(
        c1.send("request.accept", {"request_id": request_id}),
        c2.send("request.accept", {"request_id": request_id}),
    )
    assert sorted(r["ok"] for r in replies) == [False, True]
    loser = next(r for r in replies if not r["ok"])
    assert loser["error"]["code"] == "request.not_waiting"
    for ws in (c1, c2, me):
        await ws.close()


async def test_reconnect_resynchronises_after_a_restart(
    server: LiveServer, new_visitor, world: World
) -> None:
    advisor = new_visitor()
    await advisor.log_in("a1@test.example")
    candidate = new_visitor()
    await candidate.sign_in_candidate()
    me = await candidate.socket()
    console = await advisor.socket()
    reply = await me.send("request.create", {"booth_id": world.booth_a, "client_key": "r"})
    accepted = await console.send("request.accept", {"request_id": reply["data"]["request_id"]})
    assert accepted["ok"]
    state = await me.next_event("me.state", where=lambda d: d["conversation"] is not None)
    ends_at = state["conversation"]["ends_at"]

    server.stop()
    server.start()

    again = await candidate.socket()
    assert again.state["me"]["conversation"]["ends_at"] == ends_at
    assert again.state["me"]["conversation"]["video_url"] == state["conversation"]["video_url"]
    console_again = await advisor.socket()
    assert console_again.state["console"]["conversation"]["ends_at"] == ends_at
    await again.close()
    await console_again.close()


async def test_moderator_overview_follows_the_hall(new_visitor, world: World) -> None:
    moderator = new_visitor()
    await moderator.log_in("mod@test.example")
    overview = await moderator.socket()
    assert overview.welcome["role"] == "moderator"
    assert overview.state["overview"]["totals"]["waiting"] == 0
    candidate = new_visitor()
    await candidate.sign_in_candidate("Noor")
    me = await candidate.socket()
    await me.send("request.create", {"booth_id": world.booth_b, "client_key": "m"})
    state = await overview.next_event("overview.state", where=lambda d: d["totals"]["waiting"] == 1)
    booth_b = next(b for b in state["booths"] if b["id"] == world.booth_b)
    assert booth_b["queue_length"] == 1
    # Staff actions are for advisors only, even for a moderator.
    refused = await overview.send("request.accept", {})
    assert refused["error"]["code"] == "auth.forbidden"
    await me.close()
    await overview.close()


async def test_hall_deltas_follow_the_snapshot_version_without_gaps(
    new_visitor, world: World
) -> None:
    watcher = await new_visitor().socket()
    version = watcher.state["hall"]["v"]
    advisor = new_visitor()
    await advisor.log_in("b1@test.example")
    console = await advisor.socket()
    for status in ("paused", "available", "paused"):
        assert (await console.send("advisor.status", {"status": status}))["ok"]
        delta = await watcher.next_event(
            "hall.delta",
            where=lambda d, status=status: any(
                b["id"] == world.booth_b and b["advisors"][0]["status"] == status
                for b in d["booths"]
            ),
        )
        assert delta["v"] > version
        version = delta["v"]
    # Every delta the watcher got numbers on from the previous one.
    await watcher.close()
    await console.close()


async def test_a_burst_of_changes_is_coalesced_latest_state_wins(
    world_db: tuple[Path, World], tmp_path: Path
) -> None:
    path, world = world_db
    server = LiveServer(path, tmp_path / "slow.log", env={"INZOOMEN_HALL_PUSH_SECONDS": "1.5"})
    server.start()
    anonymous, advisor = Browserless(server), Browserless(server)
    try:
        watcher = await anonymous.socket()
        await advisor.log_in("b1@test.example")
        console = await advisor.socket()
        flips = ["paused", "available"] * 5 + ["paused"]
        for status in flips:
            assert (await console.send("advisor.status", {"status": status}))["ok"]
        deadline = time.monotonic() + 10
        seen: list[str] = []
        while time.monotonic() < deadline:
            delta = await watcher.next_event("hall.delta", timeout=5)
            seen += [
                b["advisors"][0]["status"] for b in delta["booths"] if b["id"] == world.booth_b
            ]
            if seen and seen[-1] == "paused":
                break
        # Eleven changes reached the watcher in far fewer pushes, ending on the last state.
        assert seen[-1] == "paused"
        assert 1 <= len(seen) <= 3, seen
        await watcher.close()
        await console.close()
    finally:
        await anonymous.aclose()
        await advisor.aclose()
        server.stop()


async def test_states_carry_a_revision_that_only_goes_up(new_visitor, world: World) -> None:
    advisor = new_visitor()
    await advisor.log_in("a1@test.example")
    console = await advisor.socket()
    candidate = new_visitor()
    await candidate.sign_in_candidate("Rev Kandidaat", "rev@example.nl")
    me = await candidate.socket()
    revs = [me.state["me"]["rev"]]
    reply = await me.send("request.create", {"booth_id": world.booth_a, "client_key": "r1"})
    assert reply["ok"]
    revs.append((await me.next_event("me.state"))["rev"])
    request_id = reply["data"]["request_id"]
    assert (await console.send("request.accept", {"request_id": request_id}))["ok"]
    revs.append(
        (await me.next_event("me.state", where=lambda d: d["conversation"] is not None))["rev"]
    )
    assert revs == sorted(revs) and revs[0] < revs[-1]
    await me.close()
    await console.close()
