"""Several server processes sharing live updates through a real Redis server.

Two ``inzoomen serve`` processes on the same SQLite file and the same Redis channel stand for
two workers (on one machine or two): a client of one sees what is done through the other,
and the deadline timers are handled by one of them only.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.livekit import Browserless, LiveServer, World, seed_world
from tests.rediskit import RedisServer


def paused_at(booth_id: int):  # type: ignore[no-untyped-def]
    def check(delta: dict[str, Any]) -> bool:
        return any(
            view["id"] == booth_id and view["advisors"][0]["status"] == "paused"
            for view in delta["booths"]
        )

    return check


async def test_a_change_through_one_worker_reaches_clients_of_both(
    two_workers: tuple[LiveServer, LiveServer], world: World, people: list[Browserless]
) -> None:
    a, b = two_workers
    people += [Browserless(a), Browserless(b), Browserless(b)]
    on_a, on_b, advisor = people
    hall_a, hall_b = await on_a.socket(), await on_b.socket()
    await advisor.log_in("b1@test.example")
    console = await advisor.socket()
    assert (await console.send("advisor.status", {"status": "paused"}))["ok"]
    for hall in (hall_a, hall_b):
        delta = await hall.next_event("hall.delta", where=paused_at(world.booth_b))
        assert delta["v"] > hall.state["hall"]["v"]
    for socket in (hall_a, hall_b, console):
        await socket.close()


async def test_request_on_one_worker_and_accept_on_the_other(
    two_workers: tuple[LiveServer, LiveServer], world: World, people: list[Browserless]
) -> None:
    a, b = two_workers
    people += [Browserless(a), Browserless(b)]
    candidate, advisor = people
    await candidate.sign_in_candidate("Twee Werkers", "twee@example.nl")
    await advisor.log_in("a1@test.example")
    me, console = await candidate.socket(), await advisor.socket()
    reply = await me.send("request.create", {"booth_id": world.booth_a, "client_key": "k1"})
    assert reply["ok"], reply
    request_id = reply["data"]["request_id"]
    await console.next_event(
        "console.state", where=lambda d: any(r["request_id"] == request_id for r in d["queue"])
    )
    assert (await console.send("request.accept", {"request_id": request_id}))["ok"]
    mine = await me.next_event("me.state", where=lambda d: d["conversation"] is not None)
    assert mine["conversation"]["video_url"].startswith("https://meet.example.test/")
    await me.close()
    await console.close()


def lease_holder_pid(path: Path) -> int | None:
    with sqlite3.connect(path) as db:
        row = db.execute(
            "SELECT holder FROM leases WHERE name = 'deadlines' AND expires_at > ?",
            (time.time(),),
        ).fetchone()
    return None if row is None else int(row[0].split(":")[1])


async def wait_for_holder(path: Path, among: set[int], timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = lease_holder_pid(path)
        if pid in among:
            return pid
        await asyncio.sleep(0.2)
    raise AssertionError(f"no worker of {among} took the deadlines lease in {timeout} s")


async def test_deadlines_run_in_one_worker_and_move_when_it_dies(
    tmp_path: Path, redis_server: RedisServer, redis_prefix: str, people: list[Browserless]
) -> None:
    path = tmp_path / "short.db"
    world = await seed_world(path, conversation_seconds=3, warning_seconds=1)
    env = {"INZOOMEN_REDIS_URL": redis_server.url, "INZOOMEN_REDIS_PREFIX": redis_prefix}
    servers = [LiveServer(path, tmp_path / f"short-{n}.log", env=env) for n in ("a", "b")]
    try:
        for server in servers:
            server.start()
        pids = {server.process.pid: server for server in servers if server.process}
        holder = await wait_for_holder(path, set(pids), timeout=5)
        survivor = next(server for pid, server in pids.items() if pid != holder)

        async def one_conversation(advisor_email: str, key: str) -> list[str]:
            candidate, advisor = Browserless(survivor), Browserless(survivor)
            people.extend([candidate, advisor])
            await candidate.sign_in_candidate(f"Kandidaat {key}", f"{key}@example.nl")
            await advisor.log_in(advisor_email)
            me, console = await candidate.socket(), await advisor.socket()
            reply = await me.send("request.create", {"booth_id": world.booth_a, "client_key": key})
            request_id = reply["data"]["request_id"]
            assert (await console.send("request.accept", {"request_id": request_id}))["ok"]
            deadline = time.monotonic() + 10
            while not any(f["event"] == "conversation.time_up" for f in me.events):
                assert time.monotonic() < deadline, "time up never came"
                await asyncio.sleep(0.05)
            # Anything sent twice would have come by now: the other worker's timer would
            # have fired at the same end time.
            await asyncio.sleep(1.0)
            moments = [f["event"] for f in me.events if f["event"].startswith("conversation.")]
            await me.close()
            await console.close()
            return moments

        once = ["conversation.warning", "conversation.time_up"]
        # Only the holder handles deadlines; each moment reaches the candidate once.
        assert await one_conversation("a1@test.example", "een") == once
        assert lease_holder_pid(path) == holder
        # The holder dies without releasing its lease: the other one takes over by itself.
        pids[holder].stop(signal.SIGKILL)
        survivor_pid = await wait_for_holder(
            path, {pid for pid in pids if pid != holder}, timeout=15
        )
        assert pids[survivor_pid] is survivor
        assert await one_conversation("a2@test.example", "twee") == once
    finally:
        for server in servers:
            server.stop()


async def test_serve_with_two_worker_processes(
    tmp_path: Path, redis_server: RedisServer, redis_prefix: str, world_db: tuple[Path, World]
) -> None:
    env = {"INZOOMEN_REDIS_URL": redis_server.url, "INZOOMEN_REDIS_PREFIX": redis_prefix}
    server = LiveServer(world_db[0], tmp_path / "workers.log", env=env, args=("--workers", "2"))
    server.start()
    visitors = [Browserless(server) for _ in range(9)]
    try:
        assert server.process is not None
        children = subprocess.run(
            ["pgrep", "-P", str(server.process.pid)], capture_output=True, text=True
        ).stdout.split()
        assert len(children) >= 2  # two workers (and uvicorn's own helper, if any)
        halls = [await visitor.socket() for visitor in visitors[:8]]
        advisor = visitors[8]
        await advisor.log_in("b1@test.example")
        console = await advisor.socket()
        assert (await console.send("advisor.status", {"status": "paused"}))["ok"]
        for hall in halls:
            await hall.next_event("hall.delta", where=paused_at(world_db[1].booth_b))
            await hall.close()
        await console.close()
    finally:
        for visitor in visitors:
            await visitor.aclose()
        server.stop()
