"""Operations benchmark: how many requests and accepts a second the hall commits to SQLite.

Run from the repository root::

    .venv/bin/python bench/ops.py                 # 20 booths x 2 advisors, 300 candidates, 20 s
    .venv/bin/python bench/ops.py --seconds 30 --candidates 500 --booths 30
    .venv/bin/python bench/ops.py --smoke         # a small hall, under 20 s in all

What runs, all on loopback ``127.0.0.1``:

- the server: ``python -m app serve`` (``tests.livekit.LiveServer``) on a fresh SQLite file,
  seeded with ``tests.livekit.seed_world`` and topped up through the same domain functions to
  ``--booths`` booths with two advisors each, every booth open all day;
- this process: it signs every advisor in through the login form and every candidate through
  the sign-in form (``tests.livekit.Browserless``), so each has a real session cookie, then
  measures and checks;
- ``--processes`` client processes (this file with ``--worker``), sharing the candidates and
  advisors. Each client holds one WebSocket (``websockets``, ``compression=None``, the
  server's own Origin, its session cookie) and keeps one command in flight: it sends, waits
  for the reply with the same id, and only then sends the next.

A candidate sends ``request.create`` to a random booth, then waits (for the ``me.state`` pushes
about its request) until its conversation has been held and ended, and asks again; when it
hears nothing decisive for 5 s it sends ``session.sync``, and when that shows the request over
after all, a push was missed (reported as a warning, not a fault). An advisor
sets itself ``available``, and then, over and over: takes the first request of the queue its
latest ``console.state`` shows (one it has not tried yet), ``request.accept``; when that is
refused (the other advisor of the booth took it first: ``request.not_waiting``) it tries the
next; when accepted it sends ``conversation.end`` and ``advisor.status`` ``available`` at once
(the server's wrap-up stays at its default; choosing a status ends it early, as the protocol
allows). Conversations are therefore only as long as two round trips.

The clients start together, run ``--warmup`` seconds unmeasured, then the measured window of
``--seconds``; at its end no new cycle starts, commands in flight get their replies, and the
processes report. An operation belongs to the window when its reply arrived in it.

Reported: committed operations a second per kind and request+accept together; reply latency
(p50/p95/p99/max, over every reply in the window, refused ones included); refusals by error
code (not counted as committed); server CPU (whole process and per thread, from
``/proc/<pid>/task/*/stat``; 100 % is one core) and RSS; the client processes' CPU. Then the
SQLite file is read directly (read-only): the requests and conversations in it must be exactly
those the clients saw acknowledged, no candidate may have two waiting requests and no advisor
or candidate two running conversations. Any mismatch, lost connection or timed-out command
makes the exit status 1. Results are printed and written to ``bench/results/ops-latest.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from websockets.asyncio.client import ClientConnection, connect  # noqa: E402

from app.domain import accounts, booths  # noqa: E402
from app.storage.db import Database  # noqa: E402
from bench.fanout import (  # noqa: E402
    Endpoint,
    cpu_seconds,
    machine,
    next_lines,
    raise_fd_limit,
    rss_kib,
    summary_ms,
)
from tests.livekit import PASSWORD, Browserless, LiveServer, seed_world  # noqa: E402

RESULTS = ROOT / "bench" / "results"
KINDS = ("request.create", "request.accept", "conversation.end", "advisor.status")
COMMAND_TIMEOUT = 10.0  # seconds for one reply
RESYNC_AFTER = 5.0  # a candidate that heard nothing decisive for this long asks again
CONNECTS_IN_FLIGHT = 50
SIGN_INS_IN_FLIGHT = 8

# A record of one command: (action, sent, replied, error code or None when committed).
Record = tuple[str, float, float, str | None]


# --------------------------------------------------------------------------- clients


class Client:
    """One WebSocket connection of a candidate or an advisor.

    Replies are matched to their command by id. Of the pushes only ``me.state`` (candidates)
    and ``console.state`` (advisors) are decoded and kept; hall pushes are recognised by their
    first bytes and skipped, so that a client process keeps up with a busy hall. A state with
    a ``rev`` lower than the one held is dropped, as the pages do (``static/js/live.js``).
    Every request a ``me.state`` shows as over is noted in ``over`` as it arrives, so that a
    stale state arriving right after it cannot hide it.
    """

    _ids = itertools.count(1)

    def __init__(self, connection: ClientConnection, records: list[Record]) -> None:
        self.connection = connection
        self.records = records
        self.me: dict[str, Any] | None = None
        self.console: dict[str, Any] | None = None
        self.over: set[int] = set()
        self._revs = {True: -1, False: -1}  # is_me -> highest rev held
        self.changed = asyncio.Event()
        self.closed: str | None = None
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, ws_url: str, origin: str, cookie: str, records: list[Record]) -> Client:
        connection = await connect(
            ws_url,
            origin=origin,  # type: ignore[arg-type]
            additional_headers={"Cookie": cookie},
            compression=None,
            ping_interval=None,
            open_timeout=COMMAND_TIMEOUT,
            max_queue=None,
        )
        client = cls(connection, records)
        await client.wait(lambda: client.me is not None or client.console is not None)
        return client

    async def _read(self) -> None:
        try:
            while True:
                raw = await self.connection.recv(decode=False)
                if raw.startswith(b'{"id":'):
                    frame = json.loads(raw)
                    future = self._waiting.pop(frame.get("id"), None)
                    if future is not None and not future.done():
                        future.set_result(frame)
                elif raw.startswith((b'{"event":"me.state"', b'{"event":"console.state"')):
                    self._take(json.loads(raw)["data"], raw.startswith(b'{"event":"me.state"'))
                elif raw.startswith(b'{"event":"session.state"'):
                    data = json.loads(raw)["data"]
                    if "me" in data:
                        self._take(data["me"], True)
                    elif "console" in data:
                        self._take(data["console"], False)
        except Exception as error:
            self.closed = f"{type(error).__name__}: {error}"[:200]
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(ConnectionError(self.closed))
        self.changed.set()

    def take_me(self, data: dict[str, Any]) -> None:
        self._take(data, True)

    def _take(self, data: dict[str, Any], is_me: bool) -> None:
        rev = data.get("rev")
        if isinstance(rev, int):
            if rev < self._revs[is_me]:
                return
            self._revs[is_me] = rev
        if is_me:
            self.me = data
            if request_over(data):
                self.over.add(data["request"]["id"])
        else:
            self.console = data
        self.changed.set()

    async def command(self, action: str, data: dict[str, Any]) -> dict[str, Any]:
        """Send one command and return its reply; a timeout or a lost connection is recorded
        as a refusal with the code ``client.timeout`` or ``client.closed``."""
        command_id = f"o{next(self._ids)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[command_id] = future
        sent = time.time()
        try:
            await self.connection.send(
                json.dumps({"id": command_id, "action": action, "data": data})
            )
            reply = await asyncio.wait_for(future, COMMAND_TIMEOUT)
        except TimeoutError:
            self._waiting.pop(command_id, None)
            reply = {"ok": False, "error": {"code": "client.timeout"}}
        except Exception:
            self._waiting.pop(command_id, None)
            reply = {"ok": False, "error": {"code": "client.closed"}}
        code = None if reply.get("ok") else str(reply.get("error", {}).get("code"))
        self.records.append((action, sent, time.time(), code))
        return reply

    async def wait(self, ready: Callable[[], bool], until: float | None = None) -> bool:
        """Wait until ``ready()`` holds (True), the connection closed or ``until`` (epoch
        seconds, at most COMMAND_TIMEOUT from now) passed (False)."""
        deadline = time.time() + COMMAND_TIMEOUT if until is None else until
        while not ready():
            left = deadline - time.time()
            if left <= 0 or self.closed is not None:
                return False
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(left, 1.0))
        return True

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(self.connection.close(), 2)


@dataclass
class Tally:
    """What one client process counted besides its records."""

    not_created: int = 0  # request.create acknowledged with created: false
    resyncs: int = 0
    resyncs_found_over: int = 0  # the push that said so was missed (or never sent)
    closed: list[str] = field(default_factory=list)


def request_over(me: dict[str, Any]) -> bool:
    """The candidate's latest request is over: refused, cancelled or expired, or accepted and
    its conversation ended."""
    if me.get("request") is None:
        return False
    status = me["request"]["status"]
    if status == "waiting":
        return False
    if status != "accepted":
        return True
    conversation = me.get("conversation")
    return conversation is not None and conversation.get("ended_at") is not None


async def candidate_loop(
    client: Client, booth_ids: list[int], rng: random.Random, stop: float, tally: Tally
) -> None:
    for n in itertools.count(1):
        if time.time() >= stop or client.closed is not None:
            return
        reply = await client.command(
            "request.create",
            {
                "booth_id": rng.choice(booth_ids),
                "advisor_id": None,
                "question": None,
                "client_key": f"ops-{n}",
            },
        )
        if not reply.get("ok"):
            await asyncio.sleep(0.2)  # e.g. booth.closed; request.already_open never should
            continue
        if not reply["data"]["created"]:
            tally.not_created += 1
        request_id = reply["data"]["request_id"]

        def over(request_id: int = request_id) -> bool:
            return request_id in client.over

        while not await client.wait(over, min(stop, time.time() + RESYNC_AFTER)):
            if time.time() >= stop or client.closed is not None:
                return
            # Nothing decisive heard for a while: ask for the whole state once.
            tally.resyncs += 1
            synced = await client.command("session.sync", {})
            if synced.get("ok") and "me" in synced["data"]:
                client.take_me(synced["data"]["me"])
                tally.resyncs_found_over += request_id in client.over


async def advisor_loop(client: Client, stop: float) -> None:
    tried: set[int] = set()

    def next_request() -> int | None:
        for entry in (client.console or {}).get("queue", ()):
            if entry["request_id"] not in tried:
                return int(entry["request_id"])
        return None

    await client.command("advisor.status", {"status": "available"})
    while time.time() < stop and client.closed is None:
        request_id = next_request()
        if request_id is None:
            await client.wait(lambda: next_request() is not None, min(stop, time.time() + 1))
            continue
        tried.add(request_id)
        reply = await client.command("request.accept", {"request_id": request_id})
        if not reply.get("ok"):
            continue  # taken by the other advisor, or gone
        # The cycle is finished even past the stop time, so that no conversation is left
        # running at the end.
        await client.command(
            "conversation.end", {"conversation_id": reply["data"]["conversation_id"]}
        )
        await client.command("advisor.status", {"status": "available"})


# --------------------------------------------------------------------------- worker process


async def worker_main(spec_path: Path, out_path: Path) -> int:
    """One client process: connect, report ready, wait for the start line, run, report."""
    spec = json.loads(spec_path.read_text())
    raise_fd_limit()
    records: list[Record] = []
    tally = Tally()
    gate = asyncio.Semaphore(CONNECTS_IN_FLIGHT)
    errors: list[str] = []

    async def open_one(cookie: str) -> Client | None:
        async with gate:
            try:
                return await Client.open(spec["ws_url"], spec["origin"], cookie, records)
            except Exception as error:
                errors.append(f"{type(error).__name__}: {error}"[:200])
                return None

    candidates = await asyncio.gather(*(open_one(c) for c in spec["candidates"]))
    advisors = await asyncio.gather(*(open_one(c) for c in spec["advisors"]))
    clients = [c for c in (*candidates, *advisors) if c is not None]
    print(json.dumps({"connected": len(clients), "errors": errors[:3]}), flush=True)
    try:
        line = await asyncio.wait_for(asyncio.to_thread(sys.stdin.readline), 300)
        if not line.strip() or len(clients) != len(spec["candidates"]) + len(spec["advisors"]):
            return 1
        times = json.loads(line)
        await asyncio.sleep(max(0.0, times["start"] - time.time()))
        rng = random.Random(spec["seed"])
        stop = float(times["stop"])
        loops: list[Awaitable[None]] = [
            candidate_loop(c, spec["booth_ids"], random.Random(rng.random()), stop, tally)
            for c in candidates
            if c is not None
        ]
        loops += [advisor_loop(a, stop) for a in advisors if a is not None]
        tasks = [asyncio.ensure_future(loop) for loop in loops]
        # Every command has its own timeout; this bounds the whole run once more.
        _, late = await asyncio.wait(tasks, timeout=stop - time.time() + 4 * COMMAND_TIMEOUT)
        for task in late:
            task.cancel()
        for task in tasks:
            if not task.cancelled() and task.done() and task.exception() is not None:
                tally.closed.append(f"loop failed: {task.exception()!r}"[:200])
        tally.closed += [c.closed for c in clients if c.closed is not None]
        out_path.write_text(
            json.dumps(
                {
                    "records": records,
                    "not_created": tally.not_created,
                    "resyncs": tally.resyncs,
                    "resyncs_found_over": tally.resyncs_found_over,
                    "closed": tally.closed,
                    "cancelled_loops": len(late),
                }
            )
        )
    finally:
        await asyncio.gather(*(c.close() for c in clients))
    print(json.dumps({"done": True}), flush=True)
    return 0


# --------------------------------------------------------------------------- the hall


@dataclass
class Hall:
    booth_ids: list[int]
    advisor_emails: list[str]


async def seed_hall(path: Path | str, booth_count: int) -> Hall:
    """``seed_world`` (the event, open all day; two booths; a moderator), then two advisors
    for every booth and more booths, through the same domain functions."""
    world = await seed_world(path)
    today = datetime.now(ZoneInfo("Europe/Amsterdam")).date()
    emails = [world.emails[world.advisor_a1], world.emails[world.advisor_a2]]
    emails.append(world.emails[world.advisor_b1])
    booth_ids = [world.booth_a, world.booth_b]
    db = await Database.open(path)
    try:
        async with db.transaction() as tx:
            staff = [(world.booth_b, "b2@test.example")]
            for number in range(3, booth_count + 1):
                booth_id = await booths.create_booth(
                    tx,
                    slug=f"stand-{number}",
                    name=f"Stand {number}",
                    kind="employer",
                    sector="zorg",
                    position=number,
                )
                await booths.add_slot(tx, booth_id, today, "00:00", "24:00")
                booth_ids.append(booth_id)
                staff += [(booth_id, f"s{number}-{k}@test.example") for k in (1, 2)]
            for booth_id, email in staff:
                await accounts.create_staff(
                    tx,
                    email=email,
                    name=f"Adviseur {email.split('@')[0].upper()}",
                    role="advisor",
                    password=PASSWORD,
                    booth_id=booth_id,
                )
                emails.append(email)
    finally:
        await db.close()
    return Hall(booth_ids, emails)


async def sessions(
    server: LiveServer | Endpoint, hall: Hall, candidates: int
) -> tuple[list[str], list[str]]:
    """Session cookies: every advisor logs in, every candidate signs in, through the forms."""
    gate = asyncio.Semaphore(SIGN_INS_IN_FLIGHT)

    async def cookie(advisor_email: str | None = None, candidate: int = 0) -> str:
        async with gate:
            browser = Browserless(server)  # type: ignore[arg-type]
            try:
                if advisor_email is not None:
                    await browser.log_in(advisor_email)
                else:
                    name, email = f"Kandidaat {candidate}", f"k{candidate}@bench.example"
                    await browser.sign_in_candidate(name, email)
                return browser.cookie_header()
            finally:
                await browser.aclose()

    advisor_cookies = await asyncio.gather(*(cookie(e) for e in hall.advisor_emails))
    candidate_cookies = await asyncio.gather(*(cookie(candidate=i) for i in range(candidates)))
    return list(advisor_cookies), list(candidate_cookies)


# --------------------------------------------------------------------------- measuring


def thread_usage(pid: int) -> dict[str, tuple[float, int]]:
    """For each thread of a process so far: CPU seconds and write system calls (``syscw``:
    the SQLite writer's thread is the one that writes the file). Keyed "event loop" for the
    main thread, "thread <tid>" for the others (aiosqlite runs each connection in one)."""
    used: dict[str, tuple[float, int]] = {}
    ticks = os.sysconf("SC_CLK_TCK")
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            io = dict(line.split(": ") for line in (task / "io").read_text().splitlines())
            label = "event loop" if task.name == str(pid) else f"thread {task.name}"
            used[label] = ((int(fields[11]) + int(fields[12])) / ticks, int(io["syscw"]))
    return used


@dataclass
class Usage:
    """CPU used so far by the server (whole, and per thread) and the client processes."""

    at: float
    server: float
    threads: dict[str, tuple[float, int]]
    clients: float

    @classmethod
    def of(cls, server_pid: int, client_pids: list[int]) -> Usage:
        return cls(
            time.time(),
            cpu_seconds(server_pid),
            thread_usage(server_pid),
            sum(cpu_seconds(p) for p in client_pids),
        )

    def percent_since(self, before: Usage) -> dict[str, Any]:
        """Percent of one core between two readings (and write calls a second per thread)."""
        elapsed = self.at - before.at
        threads = {}
        for name, (cpu, writes) in self.threads.items():
            cpu_then, writes_then = before.threads.get(name, (0.0, 0))
            threads[name] = {
                "cpu_percent": 100 * (cpu - cpu_then) / elapsed,
                "write_calls_per_second": (writes - writes_then) / elapsed,
            }
        return {
            "server": 100 * (self.server - before.server) / elapsed,
            "threads": dict(sorted(threads.items(), key=lambda t: -t[1]["cpu_percent"])),
            "clients": 100 * (self.clients - before.clients) / elapsed,
        }


def usage_since(
    server_pids: list[int], client_pids: list[int], before: list[Usage]
) -> dict[str, Any]:
    """``Usage.percent_since`` summed over several server processes; their threads are
    named by node (``node2 event loop``) when there is more than one."""
    parts = [
        Usage.of(p, client_pids).percent_since(b) for p, b in zip(server_pids, before, strict=True)
    ]
    if len(parts) == 1:
        return parts[0]
    threads = {
        f"node{n} {name}": t
        for n, part in enumerate(parts, 1)
        for name, t in part["threads"].items()
    }
    return {
        "server": sum(part["server"] for part in parts),
        "threads": dict(sorted(threads.items(), key=lambda t: -t[1]["cpu_percent"])),
        "clients": parts[0]["clients"],
    }


@dataclass
class Options:
    seconds: float
    warmup: float
    candidates: int
    booths: int
    processes: int
    workdir: Path = Path()


class Workers:
    """The client processes."""

    def __init__(
        self, options: Options, spec: dict[str, Any], advisors: list[str], candidates: list[str]
    ) -> None:
        self.outs: list[Path] = []
        self.processes: list[subprocess.Popen[str]] = []
        for i in range(options.processes):
            part = {
                **spec,
                "seed": i,
                "candidates": candidates[i :: options.processes],
                "advisors": advisors[i :: options.processes],
            }
            spec_path = options.workdir / f"worker-{i}.json"
            spec_path.write_text(json.dumps(part))
            out = options.workdir / f"worker-{i}-out.json"
            self.outs.append(out)
            command = [sys.executable, str(Path(__file__).resolve()), "--worker", str(spec_path)]
            command += ["--out", str(out)]
            self.processes.append(
                subprocess.Popen(
                    command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
                )
            )

    async def lines(self, timeout: float) -> list[dict[str, Any]]:
        return await next_lines(self.processes, timeout)

    def go(self, start: float, stop: float) -> None:
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.write(json.dumps({"start": start, "stop": stop}) + "\n")
            process.stdin.flush()

    def results(self) -> list[dict[str, Any]]:
        for process in self.processes:
            process.wait(timeout=30)
        return [json.loads(out.read_text()) for out in self.outs]

    def kill(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()


# What the database must hold after a run, as one count each; the same SQL on SQLite and
# PostgreSQL (bench/cluster.py counts a PostgreSQL database with it).
COUNTS = {
    "requests": "SELECT COUNT(*) FROM requests",
    "requests_accepted": "SELECT COUNT(*) FROM requests WHERE status = 'accepted'",
    "conversations": "SELECT COUNT(*) FROM conversations",
    "conversations_ended": "SELECT COUNT(*) FROM conversations WHERE ended_at IS NOT NULL",
    "candidates_with_two_waiting": (
        "SELECT COUNT(*) FROM (SELECT candidate_id FROM requests WHERE status = "
        "'waiting' GROUP BY candidate_id HAVING COUNT(*) > 1) AS two"
    ),
    "advisors_with_two_running": (
        "SELECT COUNT(*) FROM (SELECT advisor_id FROM conversations WHERE ended_at "
        "IS NULL GROUP BY advisor_id HAVING COUNT(*) > 1) AS two"
    ),
    "candidates_with_two_running": (
        "SELECT COUNT(*) FROM (SELECT candidate_id FROM conversations WHERE ended_at "
        "IS NULL GROUP BY candidate_id HAVING COUNT(*) > 1) AS two"
    ),
}


def database_counts(path: Path) -> dict[str, int]:
    """What the SQLite file holds, read directly and read-only."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {key: int(connection.execute(sql).fetchone()[0]) for key, sql in COUNTS.items()}
    finally:
        connection.close()


def figures(records: list[Record], start: float, end: float) -> dict[str, Any]:
    """Per kind, over the replies that arrived in [start, end]."""
    window = end - start
    kinds: dict[str, Any] = {}
    for kind in (*KINDS, "session.sync"):
        mine = [r for r in records if r[0] == kind and start <= r[2] <= end]
        if not mine and kind == "session.sync":
            continue
        committed = sum(1 for r in mine if r[3] is None)
        kinds[kind] = {
            "committed": committed,
            "per_second": committed / window,
            "refused": dict(Counter(r[3] for r in mine if r[3] is not None).most_common()),
            "latency_ms": summary_ms([r[2] - r[1] for r in mine]),
        }
    both = kinds["request.create"]["committed"] + kinds["request.accept"]["committed"]
    return {
        "window_seconds": window,
        "kinds": kinds,
        "request_accept_per_second": both / window,
        "all_committed_per_second": sum(kinds[k]["committed"] for k in KINDS) / window,
    }


def acknowledged(records: list[Record], not_created: int) -> dict[str, int]:
    """Everything the clients saw committed, measured window or not."""
    ok = Counter(r[0] for r in records if r[3] is None)
    return {
        "requests": ok["request.create"] - not_created,
        "conversations": ok["request.accept"],
        "conversations_ended": ok["conversation.end"],
    }


def checks(seen: dict[str, int], stored: dict[str, int], lost: list[str]) -> list[str]:
    faults = []
    for key in ("requests", "conversations", "conversations_ended"):
        if seen[key] != stored[key]:
            faults.append(f"{key}: {stored[key]} in the database, {seen[key]} acknowledged")
    if stored["requests_accepted"] != stored["conversations"]:
        faults.append(
            f"{stored['requests_accepted']} accepted requests but "
            f"{stored['conversations']} conversations"
        )
    for key in (
        "candidates_with_two_waiting",
        "advisors_with_two_running",
        "candidates_with_two_running",
    ):
        if stored[key]:
            faults.append(f"{key.replace('_', ' ')}: {stored[key]}")
    faults += [f"client: {reason}" for reason in lost[:5]]
    if not seen["conversations"]:
        # A run where every command was refused measures nothing (a limit, a broken login).
        faults.append("no conversation was accepted: nothing was measured")
    return faults


def warnings(outputs: list[dict[str, Any]]) -> list[str]:
    """What is wrong but not with what was committed."""
    missed = sum(out["resyncs_found_over"] for out in outputs)
    if not missed:
        return []
    return [
        f"{missed} times a candidate heard no me.state saying its request was over within "
        f"{RESYNC_AFTER:g} s, while session.sync showed it was: a push was lost or stale"
    ]


# Each simulated person here clicks far faster than a person can, to find the server's
# limit: the per-person limits (commands per second, new requests per minute) are lifted so
# they measure the work, not the refusals. The limits themselves are tested in
# tests/test_ratelimit.py.
SERVER_ENVIRONMENT = {
    "INZOOMEN_LOG_LEVEL": "warning",
    "INZOOMEN_REQUESTS_PER_MINUTE": "100000",
    "INZOOMEN_WS_RATE": "10000",
    "INZOOMEN_WS_BURST": "10000",
    "INZOOMEN_WS_USER_RATE": "10000",
    "INZOOMEN_WS_USER_BURST": "10000",
}


async def run(options: Options) -> dict[str, Any]:
    db_path = options.workdir / "hall.db"
    print(f"seeding {options.booths} booths ...", flush=True)
    hall = await seed_hall(db_path, options.booths)
    server = LiveServer(db_path, options.workdir / "server.log", SERVER_ENVIRONMENT)
    try:
        await asyncio.to_thread(server.start)
        assert server.process is not None

        async def stored() -> dict[str, int]:
            return database_counts(db_path)

        results = await measure(options, hall, Endpoint(server.port), [server.process.pid], stored)
        if results["faults"]:
            print(server_trouble(server.log()), flush=True)
        return results
    finally:
        await asyncio.to_thread(server.stop)


def server_trouble(log: str, limit: int = 60) -> str:
    """What the server warned about, for a run with faults (its log goes with the run's
    temporary folder)."""
    marks = ("WARNING", "ERROR", "Traceback", "Error:")
    lines = [line for line in log.splitlines() if any(mark in line for mark in marks)]
    return "server warnings and errors:\n" + "\n".join(lines[-limit:] or ["none"])


async def measure(
    options: Options,
    hall: Hall,
    endpoint: Endpoint,
    server_pids: list[int],
    stored_counts: Callable[[], Awaitable[dict[str, int]]],
) -> dict[str, Any]:
    """Sign everyone in at ``endpoint`` (a server, or a balancer in front of several), run
    the client processes through the window, then compare ``stored_counts()`` with what the
    clients were told. CPU and RSS are summed over ``server_pids``."""
    workers: Workers | None = None
    try:
        print(
            f"signing in {len(hall.advisor_emails)} advisors and {options.candidates} "
            "candidates ...",
            flush=True,
        )
        advisor_cookies, candidate_cookies = await sessions(endpoint, hall, options.candidates)
        rss_before = sum(rss_kib(pid) for pid in server_pids)
        spec = {"ws_url": endpoint.ws_url, "origin": endpoint.url, "booth_ids": hall.booth_ids}
        workers = Workers(options, spec, advisor_cookies, candidate_cookies)
        ready = await workers.lines(timeout=60)
        connected = sum(r["connected"] for r in ready)
        wanted = len(advisor_cookies) + len(candidate_cookies)
        if connected != wanted:
            errors = [e for r in ready for e in r["errors"]]
            raise RuntimeError(f"{connected} of {wanted} clients connected: {errors}")

        start = time.time() + 0.5
        window_start = start + options.warmup
        window_end = window_start + options.seconds
        workers.go(start, window_end)
        print(
            f"{connected} clients connected; {options.warmup:g} s warm-up, "
            f"{options.seconds:g} s measured ...",
            flush=True,
        )
        client_pids = [p.pid for p in workers.processes]
        await asyncio.sleep(window_start - time.time())
        before = [Usage.of(pid, client_pids) for pid in server_pids]
        await asyncio.sleep(window_end - time.time())
        cpu = usage_since(server_pids, client_pids, before)
        rss_after = sum(rss_kib(pid) for pid in server_pids)
        await workers.lines(timeout=5 * COMMAND_TIMEOUT + 30)
        outputs = workers.results()

        records: list[Record] = [
            (r[0], r[1], r[2], r[3]) for out in outputs for r in out["records"]
        ]
        lost = [reason for out in outputs for reason in out["closed"]]
        lost += [f"{n} client loops cut off" for out in outputs if (n := out["cancelled_loops"])]
        timeouts = sum(1 for r in records if r[3] in ("client.timeout", "client.closed"))
        if timeouts:
            lost.append(f"{timeouts} commands without a reply")
        seen = acknowledged(records, sum(out["not_created"] for out in outputs))
        stored = await stored_counts()
        # Every refusal of the run, the window's and the rest: a committed change whose
        # reply was a refusal shows here when the counts below disagree.
        refused_in_run = Counter(f"{r[0]} {r[3]}" for r in records if r[3] is not None)
        return {
            "refused_in_run": dict(refused_in_run.most_common()),
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "settings": {
                "seconds": options.seconds,
                "warmup": options.warmup,
                "booths": options.booths,
                "advisors": len(advisor_cookies),
                "candidates": options.candidates,
                "client_processes": options.processes,
                "command_timeout": COMMAND_TIMEOUT,
            },
            **figures(records, window_start, window_end),
            "server": {
                "cpu_percent": cpu["server"],
                "threads": cpu["threads"],
                "rss_before_kib": rss_before,
                "rss_after_kib": rss_after,
            },
            "clients_cpu_percent": cpu["clients"],
            "resyncs": sum(out["resyncs"] for out in outputs),
            "resyncs_found_over": sum(out["resyncs_found_over"] for out in outputs),
            "acknowledged": seen,
            "database": stored,
            "faults": checks(seen, stored, lost),
            "warnings": warnings(outputs),
        }
    finally:
        if workers is not None:
            workers.kill()


# --------------------------------------------------------------------------- reporting


def fmt(value: float) -> str:
    return "-" if value != value else f"{value:.1f}"


def table(results: dict[str, Any]) -> str:
    head = ["kind", "committed", "ops/s", "refused", "p50 ms", "p95 ms", "p99 ms", "max ms"]
    rows = [head]
    for kind, k in results["kinds"].items():
        lat = k["latency_ms"]
        rows.append(
            [
                kind,
                str(k["committed"]),
                fmt(k["per_second"]),
                str(sum(k["refused"].values())),
                fmt(lat["p50"]),
                fmt(lat["p95"]),
                fmt(lat["p99"]),
                fmt(lat["max"]),
            ]
        )
    both = results["kinds"]["request.create"]["committed"]
    both += results["kinds"]["request.accept"]["committed"]
    rows.append(["request+accept", str(both), fmt(results["request_accept_per_second"])])
    widths = [max(len(r[i]) for r in rows if i < len(r)) for i in range(len(head))]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(r, widths, strict=False))
        )
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    refused = Counter[str]()
    for k in results["kinds"].values():
        refused.update(k["refused"])
    server = results["server"]
    threads = ", ".join(
        f"{name} {t['cpu_percent']:.0f}% ({t['write_calls_per_second']:.0f} writes/s)"
        for name, t in server["threads"].items()
        if t["cpu_percent"] >= 1
    )
    seen, stored = results["acknowledged"], results["database"]
    lines += [
        "",
        "refused by code: "
        + (", ".join(f"{code} {n}" for code, n in refused.most_common()) or "none"),
        f"all committed ops/s (the four kinds): {results['all_committed_per_second']:.1f}",
        f"server CPU: {server['cpu_percent']:.0f}% of one core ({threads}); "
        f"RSS {server['rss_before_kib'] / 1024:.1f} -> {server['rss_after_kib'] / 1024:.1f} MiB",
        f"client processes CPU: {results['clients_cpu_percent']:.0f}% "
        f"({results['settings']['client_processes']} processes); candidates resynced "
        f"{results['resyncs']} times, {results['resyncs_found_over']} of them had missed "
        "the end of their request",
        "refused in the whole run: "
        + (", ".join(f"{what} {n}" for what, n in results["refused_in_run"].items()) or "none"),
        f"database vs acknowledged: requests {stored['requests']} / {seen['requests']}, "
        f"conversations {stored['conversations']} / {seen['conversations']}, "
        f"ended {stored['conversations_ended']} / {seen['conversations_ended']}",
        "invariants: candidates with two waiting requests "
        f"{stored['candidates_with_two_waiting']}, advisors with two running conversations "
        f"{stored['advisors_with_two_running']}, candidates with two running conversations "
        f"{stored['candidates_with_two_running']}",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, Options]:
    parser = argparse.ArgumentParser(description="Request/accept throughput of the live hall")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured start")
    parser.add_argument("--candidates", type=int, default=300)
    parser.add_argument("--booths", type=int, default=20, help="two advisors each")
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    parser.add_argument("--smoke", action="store_true", help="a small hall, under 20 s")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    options = Options(args.seconds, args.warmup, args.candidates, args.booths, args.processes)
    if args.smoke:
        options.seconds, options.warmup = 8.0, 2.0
        options.candidates, options.booths = 60, 6
    if not 0 < options.seconds <= 300 or not 0 <= options.warmup <= 60:
        parser.error("--seconds must be in (0, 300] and --warmup in [0, 60]")
    if not 1 <= options.candidates <= 5000 or not 2 <= options.booths <= 200:
        parser.error("--candidates must be in [1, 5000] and --booths in [2, 200]")
    if not 1 <= options.processes <= 8:
        parser.error("--processes must be in [1, 8]")
    return args, options


def main(argv: list[str] | None = None) -> int:
    args, options = parse_args(argv)
    if args.worker is not None:
        return asyncio.run(worker_main(args.worker, args.out))
    with tempfile.TemporaryDirectory(prefix="inzoomen-ops-") as tmp:
        options.workdir = Path(tmp)
        results = asyncio.run(run(options))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ops-latest.json").write_text(json.dumps(results, indent=2) + "\n")
    settings = results["settings"]
    print()
    print(
        f"request/accept ops, {settings['booths']} booths x 2 advisors, "
        f"{settings['candidates']} candidates, {settings['seconds']:g} s window, "
        f"{results['date']}"
    )
    print(table(results))
    print(f"\nwritten to {(RESULTS / 'ops-latest.json').relative_to(ROOT)}")
    for warning in results["warnings"]:
        print(f"WARNING: {warning}", file=sys.stderr)
    for fault in results["faults"]:
        print(f"FAULT: {fault}", file=sys.stderr)
    return 1 if results["faults"] else 0


if __name__ == "__main__":
    sys.exit(main())
