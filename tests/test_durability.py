"""Durability and recovery against real server processes on a real database file.

- SIGKILL while 100 conversations run and 500 requests wait, and 20 kills at random moments
  while clients send commands: nothing acknowledged is lost, every timer keeps its end time
  and fires, never before it, every client is back in sync by itself. How late timers fire
  depends on the machine's load: ``bench/durability.py`` measures it.
- SIGTERM: clients get 1012 and come back; the process exits within a bound even with a
  client that never reads and a connection that never finishes its handshake.
- Reconnects after a dropped connection of 1 s, 30 s and longer than the grace period end in
  the server's state.
- ``inzoomen backup`` of a live database, and a restore a server starts on.

The figures are printed (run with ``-s`` to see them).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.domain import conversations
from app.live.deadlines import moments_passed
from app.storage.db import Database
from tests.durabilitykit import (
    ENV,
    all_in_sync,
    kill_and_restart,
    people_of,
    read_db,
    seed_hall,
    time_up_drift,
)
from tests.livekit import ROOT, LiveServer, ReconnectingPeer
from tests.servicekit import make_advisor, make_booth, make_candidate, make_event, make_request


async def seed_waiting(path: Path, booth_ids: list[int], count: int) -> list[int]:
    """Background load: candidates with a waiting request each, in one transaction."""
    db = await Database.open(path)
    now = time.time()
    made = []
    try:
        async with db.transaction() as tx:
            for i in range(count):
                candidate = await tx.insert(
                    "INSERT INTO candidates (name, email, consent_at, created_at) "
                    "VALUES (?, ?, ?, ?)",
                    (f"Wachtende {i}", f"w{i}@voorbeeld.nl", now, now),
                )
                made.append(
                    await tx.insert(
                        "INSERT INTO requests (booth_id, candidate_id, client_key, created_at, "
                        "expires_at) VALUES (?, ?, ?, ?, ?)",
                        (
                            booth_ids[i % len(booth_ids)],
                            candidate,
                            f"seed-{i}",
                            now + i * 1e-3,
                            now + 86400,
                        ),
                    )
                )
    finally:
        await db.close()
    return made


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# How long after its end time a time-up push may take on a busy machine before it counts as
# missing. Not a figure about speed (bench/durability.py measures that): only a bound so that
# a push that never comes fails the test instead of hanging it.
PATIENCE_SECONDS = 30.0


async def heard_all(expected: list[tuple[ReconnectingPeer, int]], until: float) -> None:
    """Wait until each peer heard time up for its conversation, or until ``until``."""

    def heard(peer: ReconnectingPeer, cid: int) -> bool:
        return bool(peer.pushed("conversation.time_up", lambda d: d["id"] == cid))

    while time.time() < until and not all(heard(p, c) for p, c in expected):
        await asyncio.sleep(0.1)


# -- 1. SIGKILL with 100 conversations running and 500 requests waiting ----------------------


async def test_sigkill_with_100_conversations_and_500_waiting_loses_nothing(
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    hall = await seed_hall(
        tmp_path / "hall.db",
        booth_count=10,
        advisors_per_booth=10,
        conversation_seconds=20,
        warning_seconds=5,
    )
    background = await seed_waiting(hall.path, hall.booths, 400)
    server = LiveServer(hall.path, tmp_path / "server.log", env=ENV)
    server.start()
    try:
        async with people_of(server) as people:
            talkers, waiters = await asyncio.gather(
                asyncio.gather(*(people.candidate(f"Praat {i}", f"p{i}@x.nl") for i in range(100))),
                asyncio.gather(*(people.candidate(f"Wacht {i}", f"q{i}@x.nl") for i in range(100))),
            )
            advisors = await asyncio.gather(*(people.staff(a[2]) for a in hall.advisors))
            moderator = await people.staff(hall.moderator)
            onlooker = await people.anonymous()

            # Every request and conversation below is acknowledged: the client got ok: true.
            acked_requests: dict[int, str] = {}

            async def ask(peer: ReconnectingPeer, booth_id: int, advisor_id: int | None) -> int:
                data = {"booth_id": booth_id, "advisor_id": advisor_id, "client_key": "k1"}
                reply = await peer.send("request.create", data)
                assert reply["ok"], reply
                return int(reply["data"]["request_id"])

            talk_requests = await asyncio.gather(
                *(ask(p, a[1], a[0]) for p, a in zip(talkers, hall.advisors, strict=True))
            )
            wait_requests = await asyncio.gather(
                *(ask(p, hall.booths[i % 10], None) for i, p in enumerate(waiters))
            )
            acked_requests.update({r: "accepted" for r in talk_requests})
            acked_requests.update({r: "waiting" for r in wait_requests})

            # Advisors accept in four waves two seconds apart, so the timers end spread out:
            # some before the kill, some while the server is down, some after the restart.
            conversations: dict[int, tuple[int, int]] = {}  # id -> (talker, advisor) index
            for wave in range(4):
                replies = await asyncio.gather(
                    *(
                        advisors[i].send("request.accept", {"request_id": talk_requests[i]})
                        for i in range(wave * 25, wave * 25 + 25)
                    )
                )
                for i, reply in zip(range(wave * 25, wave * 25 + 25), replies, strict=True):
                    assert reply["ok"], reply
                    conversations[int(reply["data"]["conversation_id"])] = (i, i)
                await asyncio.sleep(2)
            ends_before = {
                row["id"]: row["ends_at"]
                for row in read_db(hall.path, "SELECT id, ends_at FROM conversations")
            }
            assert sorted(ends_before) == sorted(conversations)
            last_end = max(ends_before.values())

            # Kill just before the second wave's end times: those end while it is down.
            second_wave = min(ends_before[c] for c, (i, _a) in conversations.items() if i >= 25)
            await asyncio.sleep(max(0.0, second_wave - 0.1 - time.time()))
            killed, ready = kill_and_restart(server)
            everyone = [*talkers, *waiters, *advisors, moderator, onlooker]
            in_sync_at = await all_in_sync(everyone)
            resync = in_sync_at - killed
            # Wait for every time-up push at both ends, however busy the machine is; one
            # that has not come half a minute after the last end time is missing.
            expected = [
                (peer, cid)
                for cid, (t, a) in conversations.items()
                for peer in (talkers[t], advisors[a])
            ]
            await heard_all(expected, until=last_end + PATIENCE_SECONDS)

            # Nothing acknowledged was lost.
            lost = 0
            rows = {
                r["id"]: r["status"] for r in read_db(hall.path, "SELECT id, status FROM requests")
            }
            lost += sum(1 for r, status in acked_requests.items() if rows.get(r) != status)
            lost += sum(1 for r in background if rows.get(r) != "waiting")
            stored = {
                r["id"]: r
                for r in read_db(
                    hall.path, "SELECT id, ends_at, time_up_at, ended_at FROM conversations"
                )
            }
            lost += sum(1 for c in conversations if c not in stored)
            moved = [c for c in conversations if stored[c]["ends_at"] != ends_before[c]]
            statuses = read_db(
                hall.path,
                "SELECT status, COUNT(*) AS n FROM staff WHERE role = 'advisor' GROUP BY status",
            )
            assert {r["status"]: r["n"] for r in statuses} == {"in_conversation": 100}

            # Every timer fired, at both ends, and none before its end time. How late they
            # came depends on the machine's load: bench/durability.py measures it.
            drifts, missing, early, while_down = [], 0, 0, []
            outages = [(killed, ready)]
            for conversation_id, (t, a) in conversations.items():
                ends_at = ends_before[conversation_id]
                for peer in (talkers[t], advisors[a]):
                    arrived = peer.pushed(
                        "conversation.time_up", lambda d, c=conversation_id: d["id"] == c
                    )
                    if not arrived:
                        missing += 1
                        continue
                    drifts.append(time_up_drift(arrived[0][0], ends_at, outages))
                    early += arrived[0][0] < ends_at
                    if killed <= ends_at <= ready:
                        while_down.append(drifts[-1])
            during = sum(1 for e in ends_before.values() if killed <= e <= ready)
            print(
                f"\nSIGKILL with {len(conversations)} conversations and "
                f"{len(acked_requests) - 100 + len(background)} waiting: records lost {lost}, "
                f"timers moved {len(moved)}, time-up pushes missing {missing}, "
                f"ended while down {during}, worst timer drift {max(drifts):.3f} s "
                f"(of those that ended while down: after the restart, "
                f"{max(while_down, default=0):.3f} s), "
                f"resync (kill to every one of {len(everyone)} clients in sync) {resync:.2f} s, "
                f"down for {ready - killed:.2f} s, test took {time.monotonic() - started:.0f} s"
            )
            assert lost == 0 and moved == [] and missing == 0
            assert early == 0, "time-up pushes came before the conversation's end"
            assert all(p.connects == 2 for p in everyone)
    finally:
        server.stop()


# -- 2. twenty kills at random moments while clients send commands ---------------------------


@dataclass
class Ledger:
    """What clients were told (acknowledged) and what they sent without hearing back."""

    acked: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    unknown: dict[str, list[tuple[str, dict[str, Any]]]] = field(default_factory=dict)
    last_ack: dict[str, int] = field(default_factory=dict)
    conversations: dict[int, str] = field(default_factory=dict)  # id -> advisor key
    gave_up: list[int] = field(default_factory=list)

    async def run(
        self, who: str, peer: ReconnectingPeer, action: str, data: dict[str, Any]
    ) -> dict[str, Any] | None:
        try:
            reply = await peer.send(action, data, timeout=5)
        except (ConnectionError, TimeoutError):
            self.unknown.setdefault(who, []).append((action, data))
            await peer.wait_connected(60)
            return None
        if reply["ok"]:
            self.acked.append((who, action, data, reply["data"]))
            self.last_ack[who] = len(self.acked) - 1
            self.unknown.pop(who, None)
        return reply


def expected_status(action: str, data: dict[str, Any]) -> str | None:
    if action == "advisor.status":
        return str(data["status"])
    return {"request.accept": "in_conversation", "conversation.end": "wrapping_up"}.get(action)


def check_ledger(path: Path, ledger: Ledger, ends_seen: dict[int, float]) -> list[str]:
    """Every acknowledged change is in the database; returns what is missing."""
    problems = []
    requests = {r["id"]: r["status"] for r in read_db(path, "SELECT id, status FROM requests")}
    conversations = {
        r["id"]: r
        for r in read_db(path, "SELECT id, request_id, ends_at, ended_at FROM conversations")
    }
    staff = {r["email"]: r["status"] for r in read_db(path, "SELECT email, status FROM staff")}
    for who, action, data, reply in ledger.acked:
        if action == "request.create" and reply["request_id"] not in requests:
            problems.append(f"request {reply['request_id']} of {who}")
        elif action == "request.cancel" and requests.get(data["request_id"]) != "cancelled":
            problems.append(f"cancel of {data['request_id']} by {who}")
        elif action == "request.accept":
            found = conversations.get(reply["conversation_id"])
            if found is None or requests.get(reply["request_id"]) != "accepted":
                problems.append(f"conversation {reply['conversation_id']} of {who}")
            else:
                first = ends_seen.setdefault(found["id"], found["ends_at"])
                if first != found["ends_at"]:
                    problems.append(f"conversation {found['id']} moved its end time")
        elif action == "conversation.end":
            found = conversations.get(data["conversation_id"])
            if found is None or found["ended_at"] is None:
                problems.append(f"end of {data['conversation_id']} by {who}")
    # An advisor's status is that of their last acknowledged change, or of one they sent
    # later without hearing back (it may or may not have been done).
    for who, index in ledger.last_ack.items():
        if "@" not in who:
            continue
        allowed = {expected_status(*ledger.acked[index][1:3])}
        allowed |= {expected_status(a, d) for a, d in ledger.unknown.get(who, [])}
        if None not in allowed and staff[who] not in allowed:
            problems.append(f"status of {who}: {staff[who]} not in {allowed}")
    return problems


async def test_twenty_kills_at_random_moments_lose_nothing_acknowledged(tmp_path: Path) -> None:
    started = time.monotonic()
    rng = random.Random(20261125)
    hall = await seed_hall(
        tmp_path / "hall.db",
        booth_count=3,
        advisors_per_booth=3,
        conversation_seconds=3,
        warning_seconds=1,
    )
    await seed_waiting(hall.path, hall.booths, 100)
    server = LiveServer(hall.path, tmp_path / "server.log", env=ENV)
    server.start()
    ledger = Ledger()
    running = asyncio.Event()
    running.set()
    stop = False
    busy: set[str] = set()
    outages: list[tuple[float, float]] = []
    try:
        async with people_of(server) as people:
            candidates = await asyncio.gather(
                *(people.candidate(f"Kandidaat {i}", f"k{i}@x.nl") for i in range(24))
            )
            advisors = await asyncio.gather(*(people.staff(a[2]) for a in hall.advisors))
            others = [await people.staff(hall.moderator), await people.anonymous()]
            everyone = [*candidates, *advisors, *others]
            keys = itertools.count()

            async def candidate_loop(i: int, peer: ReconnectingPeer) -> None:
                who = f"candidate-{i}"
                while not stop:
                    await running.wait()
                    busy.add(who)
                    me = peer.state.get("me") or {}
                    request = me.get("request") or {}
                    conversation = me.get("conversation") or {}
                    if conversation and conversation.get("ended_at") is None:
                        pass
                    elif request.get("status") == "waiting":
                        if rng.random() < 0.15:
                            await ledger.run(
                                who, peer, "request.cancel", {"request_id": request["id"]}
                            )
                    else:
                        data = {"booth_id": rng.choice(hall.booths), "client_key": f"c{next(keys)}"}
                        await ledger.run(who, peer, "request.create", data)
                    busy.discard(who)
                    await asyncio.sleep(rng.uniform(0.05, 0.3))

            async def advisor_loop(peer: ReconnectingPeer, email: str) -> None:
                while not stop:
                    await running.wait()
                    busy.add(email)
                    console = peer.state.get("console") or {}
                    conversation = console.get("conversation")
                    status = (console.get("advisor") or {}).get("status")
                    if conversation and conversation.get("ended_at") is None:
                        cid = conversation["id"]
                        ledger.conversations.setdefault(cid, email)
                        told = peer.pushed("conversation.time_up", lambda d, c=cid: d["id"] == c)
                        late = time.time() > conversation["ends_at"] + PATIENCE_SECONDS
                        if told or late:
                            if late and not told:
                                ledger.gave_up.append(cid)
                            await ledger.run(
                                email, peer, "conversation.end", {"conversation_id": cid}
                            )
                    elif status != "available" or rng.random() < 0.1:
                        choice = "available" if status != "available" else "paused"
                        await ledger.run(email, peer, "advisor.status", {"status": choice})
                    else:
                        reply = await ledger.run(
                            email, peer, "request.accept", {"request_id": None}
                        )
                        if reply and reply["ok"]:
                            ledger.conversations[reply["data"]["conversation_id"]] = email
                    busy.discard(email)
                    await asyncio.sleep(rng.uniform(0.05, 0.3))

            workers = [
                asyncio.create_task(candidate_loop(i, p)) for i, p in enumerate(candidates)
            ] + [
                asyncio.create_task(advisor_loop(p, a[2]))
                for p, a in zip(advisors, hall.advisors, strict=True)
            ]
            resyncs: list[float] = []
            ends_seen: dict[int, float] = {}
            problems: list[str] = []
            try:
                for _kill in range(20):
                    await asyncio.sleep(rng.uniform(0.3, 1.5))
                    killed, ready = kill_and_restart(server)
                    outages.append((killed, ready))
                    # Let the clients find the new process by themselves, then hold the
                    # commands while checking that each holds exactly the server's state.
                    running.clear()
                    while busy:
                        await asyncio.sleep(0.02)
                    resyncs.append(await all_in_sync(everyone) - killed)
                    problems += check_ledger(hall.path, ledger, ends_seen)
                    running.set()
            finally:
                stop = True
                running.set()
                for worker in workers:
                    worker.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
            finished = time.time()
            talks = {
                r["id"]: r
                for r in read_db(hall.path, "SELECT id, candidate_id, ends_at FROM conversations")
            }
            advisor_peer = {a[2]: p for p, a in zip(advisors, hall.advisors, strict=True)}
            due = [
                (advisor_peer[email], cid)
                for cid, email in ledger.conversations.items()
                if talks[cid]["ends_at"] <= finished - 1.5
            ]
            await heard_all(due, until=finished + PATIENCE_SECONDS)

            # Every conversation that reached its end time heard it, never before its end
            # (how late: bench/durability.py).
            drifts, missed, early = [], [], 0
            for cid, email in ledger.conversations.items():
                ends_at = talks[cid]["ends_at"]
                if ends_at > finished - 1.5:
                    continue
                arrived = advisor_peer[email].pushed(
                    "conversation.time_up", lambda d, c=cid: d["id"] == c
                )
                if not arrived:
                    missed.append(cid)
                    continue
                drifts.append(time_up_drift(arrived[0][0], ends_at, outages))
                early += arrived[0][0] < ends_at
            print(
                f"\n20 SIGKILLs at random moments: kills survived {len(outages)}, "
                f"acknowledged commands {len(ledger.acked)}, records lost {len(problems)}, "
                f"conversations {len(ledger.conversations)}, timers checked {len(drifts)}, "
                f"missed {len(missed)}, worst timer drift {max(drifts):.3f} s, "
                f"resync p50 {statistics.median(resyncs):.2f} s max {max(resyncs):.2f} s "
                f"({len(everyone)} clients), test took {time.monotonic() - started:.0f} s"
            )
            assert problems == []
            assert missed == [] and ledger.gave_up == []
            assert len(drifts) >= 10
            assert early == 0, "time-up pushes came before the conversation's end"
            assert all(p.connects == 21 for p in everyone)
    finally:
        server.stop()


# -- 3. SIGTERM: 1012, reconnect, and a bounded shutdown -------------------------------------


def _raw_socket(port: int, lines: list[str]) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall("".join(lines).encode())
    return s


async def test_sigterm_closes_with_1012_and_never_hangs(tmp_path: Path) -> None:
    hall = await seed_hall(
        tmp_path / "hall.db",
        booth_count=2,
        advisors_per_booth=1,
        conversation_seconds=600,
        warning_seconds=60,
    )
    server = LiveServer(hall.path, tmp_path / "server.log", env=ENV)
    server.start()
    extra: list[socket.socket] = []
    try:
        async with people_of(server) as people:
            candidate = await people.candidate("Sanne", "sanne@x.nl")
            advisor = await people.staff(hall.advisors[0][2])
            onlooker = await people.anonymous()
            reply = await candidate.send(
                "request.create", {"booth_id": hall.booths[0], "client_key": "a"}
            )
            assert reply["ok"]
            # A client that opened a socket and never reads again, with a flood of hall
            # pushes waiting for it, and a connection that never finishes its handshake.
            host = f"127.0.0.1:{server.port}"
            slow = _raw_socket(
                server.port,
                [
                    "GET /ws HTTP/1.1\r\n",
                    f"Host: {host}\r\nOrigin: http://{host}\r\n",
                    "Upgrade: websocket\r\nConnection: Upgrade\r\n",
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
                    "Sec-WebSocket-Version: 13\r\n\r\n",
                ],
            )
            slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            half = _raw_socket(server.port, ["GET /healthz HTTP/1.1\r\nHost: x\r\n"])
            extra += [slow, half]
            for status in ("paused", "available") * 10:
                assert (await advisor.send("advisor.status", {"status": status}))["ok"]

            assert server.process is not None
            asked = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            server.process.wait(timeout=15)
            shutdown = time.monotonic() - asked
            server.process = None
            for peer in (candidate, advisor, onlooker):
                while not peer.close_codes:
                    await asyncio.sleep(0.02)
                assert peer.close_codes[0] == 1012, peer.close_codes

            server.start()
            await all_in_sync([candidate, advisor, onlooker])
            me = candidate.state["me"]["request"]
            assert (me["id"], me["status"]) == (reply["data"]["request_id"], "waiting")
            print(
                f"\nSIGTERM: process exited {shutdown:.2f} s after the signal "
                "(a client that never reads and a half-open connection were open)"
            )
            # uvicorn waits at most timeout_graceful_shutdown (5 s) for open connections; a
            # process that hangs fails the wait above (15 s).
    finally:
        for s in extra:
            s.close()
        server.stop()


# -- 4. reconnect after 1 s, 30 s and longer than the grace period away ---------------------


async def test_reconnect_after_1s_30s_and_past_the_grace_ends_in_the_servers_state(
    tmp_path: Path,
) -> None:
    """Three groups of clients (candidate, advisor, moderator, onlooker) lose their
    connection for 1 s, 30 s and 75 s while the hall keeps changing. Each comes back by
    itself to a fresh snapshot whose numbers show it missed something, and then holds
    exactly the server's state. With a grace period of 45 s, the candidate away for longer
    finds their place lapsed; the others keep theirs. (The grace period of an event is
    minutes; the rule is the same at any length, and a shorter one keeps the test short.)"""
    hall = await seed_hall(
        tmp_path / "hall.db",
        booth_count=3,
        advisors_per_booth=2,
        conversation_seconds=600,
        warning_seconds=60,
    )
    env = {**ENV, "INZOOMEN_GRACE_SECONDS": "45"}
    server = LiveServer(hall.path, tmp_path / "server.log", env=env)
    server.start()
    gaps = {"1 s": 1.0, "30 s": 30.0, "75 s": 75.0}
    try:
        async with people_of(server) as people:
            groups: dict[str, list[ReconnectingPeer]] = {}
            requests: dict[str, int] = {}
            for n, label in enumerate(gaps):
                candidate = await people.candidate(f"Weg {label}", f"gap{n}@x.nl")
                booth = hall.booths[n]
                reply = await candidate.send(
                    "request.create", {"booth_id": booth, "client_key": "g"}
                )
                assert reply["ok"]
                requests[label] = reply["data"]["request_id"]
                groups[label] = [
                    candidate,
                    await people.staff(hall.advisors[2 * n][2]),
                    await people.staff(hall.moderator),
                    await people.anonymous(),
                ]
            # Someone who stays, changing things the whole time.
            driver = await people.staff(hall.advisors[1][2])
            busy = [await people.candidate(f"Druk {i}", f"druk{i}@x.nl") for i in range(3)]

            before = {
                label: (
                    peers[0].state["hall"]["v"],
                    peers[0].state["me"]["rev"],
                    peers[1].state["console"]["rev"],
                )
                for label, peers in groups.items()
            }
            for label, peers in groups.items():
                for peer in peers:
                    peer.drop(gaps[label])
            dropped = time.time()

            async def change_things() -> None:
                step = 0
                while True:
                    step += 1
                    status = "paused" if step % 2 else "available"
                    await driver.send("advisor.status", {"status": status})
                    person = busy[step % 3]
                    me = person.state.get("me") or {}
                    request = me.get("request") or {}
                    if request.get("status") == "waiting":
                        await person.send("request.cancel", {"request_id": request["id"]})
                    else:
                        booth = hall.booths[step % 3]
                        await person.send(
                            "request.create", {"booth_id": booth, "client_key": f"d{step}"}
                        )
                    await asyncio.sleep(2.0)

            changer = asyncio.create_task(change_things())
            results = {}
            try:

                async def come_back(label: str) -> None:
                    peers = groups[label]
                    await asyncio.sleep(gaps[label])
                    for peer in peers:
                        await peer.wait_connected(30)
                    back = peers[0].pushed("session.welcome")[-1][0] - dropped
                    # The snapshot on reconnect: its numbers moved past what the client
                    # held, so it can tell it missed something.
                    hall_v, me_rev, console_rev = before[label]
                    candidate, advisor = peers[0], peers[1]
                    assert candidate.connects == 2 and advisor.connects == 2
                    assert candidate.state["me"]["rev"] > me_rev
                    assert advisor.state["console"]["rev"] > console_rev
                    if gaps[label] >= 30:
                        # Hall deltas were numbered on while it was gone: the snapshot's
                        # version skips the ones it never got.
                        assert candidate.state["hall"]["v"] > hall_v + 1
                    else:
                        assert candidate.state["hall"]["v"] >= hall_v
                    await all_in_sync(peers, within=10)
                    results[label] = (back, candidate.state["me"]["request"])

                await asyncio.gather(*(come_back(label) for label in gaps))
            finally:
                changer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await changer
            for label in ("1 s", "30 s"):
                request = results[label][1]
                assert (request["id"], request["status"]) == (requests[label], "waiting")
            lapsed = results["75 s"][1]
            assert (lapsed["id"], lapsed["status"], lapsed["closed_reason"]) == (
                requests["75 s"],
                "expired",
                "away",
            )
            print(
                "\nReconnect after a drop: "
                + ", ".join(
                    f"{label} back after {results[label][0]:.1f} s, equal to a fresh snapshot"
                    for label in gaps
                )
            )
    finally:
        server.stop()


# -- 5. backup of a live database, and a restore ---------------------------------------------


def inzoomen(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env={**os.environ, "INZOOMEN_ENV": "development"},
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_backup_of_a_live_database_holds_every_acknowledged_row_and_restores(
    tmp_path: Path,
) -> None:
    hall = await seed_hall(
        tmp_path / "hall.db",
        booth_count=2,
        advisors_per_booth=2,
        conversation_seconds=600,
        warning_seconds=60,
    )
    server = LiveServer(hall.path, tmp_path / "server.log", env=ENV)
    server.start()
    backups: list[tuple[Path, set[int]]] = []
    try:
        async with people_of(server) as people:
            writers = [await people.candidate(f"Schrijver {i}", f"s{i}@x.nl") for i in range(6)]
            acked: set[int] = set()
            stop = False

            async def write(i: int, peer: ReconnectingPeer) -> None:
                n = 0
                while not stop:
                    n += 1
                    me = peer.state.get("me") or {}
                    request = me.get("request") or {}
                    if request.get("status") == "waiting":
                        await peer.send("request.cancel", {"request_id": request["id"]})
                    else:
                        data = {"booth_id": hall.booths[i % 2], "client_key": f"b{n}"}
                        reply = await peer.send("request.create", data)
                        if reply["ok"]:
                            acked.add(reply["data"]["request_id"])
                    await asyncio.sleep(0.01)

            tasks = [asyncio.create_task(write(i, p)) for i, p in enumerate(writers)]
            try:
                for k in range(3):
                    await asyncio.sleep(1.0)
                    before = set(acked)  # acknowledged before the backup began
                    target = tmp_path / f"backup-{k}.db"
                    done = await asyncio.to_thread(
                        inzoomen, "backup", "--db", str(hall.path), str(target)
                    )
                    assert done.returncode == 0, done.stderr
                    backups.append((target, before))
            finally:
                stop = True
                await asyncio.gather(*tasks, return_exceptions=True)
            assert len(acked) > 50
            # A second backup onto an existing file is refused and changes nothing.
            again = inzoomen("backup", "--db", str(hall.path), str(backups[0][0]))
            assert again.returncode == 2 and "exists" in again.stderr
    finally:
        server.stop()

    for target, before in backups:
        conn = sqlite3.connect(target)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            ids = {r[0] for r in conn.execute("SELECT id FROM requests")}
        finally:
            conn.close()
        assert before <= ids, f"{len(before - ids)} acknowledged requests missing"
        assert not Path(f"{target}-wal").exists() or Path(f"{target}-wal").stat().st_size == 0

    # Restore the last backup as the README says: the server is stopped, stale -wal/-shm
    # files of the old database are removed, the copy is put in place, and it starts.
    target, before = backups[-1]
    live = hall.path
    for suffix in ("-wal", "-shm"):
        Path(f"{live}{suffix}").unlink(missing_ok=True)
    live.unlink()
    live.write_bytes(target.read_bytes())
    restored = LiveServer(live, tmp_path / "restored.log", env=ENV)
    restored.start()
    try:
        async with people_of(restored) as people:
            moderator = await people.staff(hall.moderator)
            fresh = (await moderator.send("session.sync"))["data"]
            waiting_in_copy = read_db(
                live, "SELECT COUNT(*) AS n FROM requests WHERE status = 'waiting'"
            )
            assert fresh["overview"]["totals"]["waiting"] == waiting_in_copy[0]["n"]
            ids = {r["id"] for r in read_db(live, "SELECT id FROM requests")}
            assert before <= ids
            # The restored hall takes new requests.
            newcomer = await people.candidate("Nieuw", "nieuw@x.nl")
            reply = await newcomer.send(
                "request.create", {"booth_id": hall.booths[0], "client_key": "n"}
            )
            assert reply["ok"], reply
    finally:
        restored.stop()


async def test_a_participant_who_connects_hears_the_moment_already_passed(tmp_path: Path) -> None:
    """Time up was told while the candidate was away (or before a restart): connecting
    again, they hear it once more right after the snapshot; the advisor too."""
    db = await Database.open(tmp_path / "hall.db")
    try:
        event = await make_event(db, conversation_seconds=60, warning_seconds=10)
        booth = await make_booth(db, "zorg")
        advisor = await make_advisor(db, booth, "a@zorg.nl")
        candidate = await make_candidate(db)
        request = await make_request(db, event, candidate, booth)
        t = time.time()
        talk, _ = await conversations.accept(
            db, event, advisor_id=advisor, request_id=request.id, now=t
        )
        assert await moments_passed(db, "candidate", candidate) == []
        await conversations.warn_due(db, event, t + 50)
        told = {"id": talk.id, "ends_at": talk.ends_at}
        assert await moments_passed(db, "candidate", candidate) == [("conversation.warning", told)]
        await conversations.time_up_due(db, t + 60)
        for role, person in (("candidate", candidate), ("advisor", advisor)):
            assert await moments_passed(db, role, person) == [("conversation.time_up", told)]
        assert await moments_passed(db, "moderator", advisor) == []
        await conversations.end(
            db, advisor_id=advisor, conversation_id=talk.id, now=t + 70, wrap_up_seconds=0
        )
        assert await moments_passed(db, "candidate", candidate) == []
    finally:
        await db.close()
