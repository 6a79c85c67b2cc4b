"""Fan-out benchmark: how fast a hall change reaches N connected clients.

Run from the repository root::

    .venv/bin/python bench/fanout.py                      # 1,000 and 5,000 clients
    .venv/bin/python bench/fanout.py --clients 2000 --seconds 20 --rate 5
    .venv/bin/python bench/fanout.py --smoke              # 200 clients, about 30 s

For each N it measures two servers the same way, one after the other:

- ``ours``: ``python -m app serve`` (one uvicorn process) on a freshly seeded SQLite file;
- ``baseline``: ``bench/baseline_server.py``, a bare ``websockets`` server that only
  broadcasts a frame of the same size.

Two load-client processes (``bench/loadclients.py``) open N anonymous hall connections. A
driver, logged in as an advisor through the forms, flips its status between available and
paused at ``--rate`` changes a second for ``--seconds``; every client notes when each change
arrives. Against our server a candidate then creates and cancels requests while the
driver keeps the hall busy, and a second advisor's connection times their arrival.

Everything runs on loopback, is bounded in count and time, and stops by itself. Results are
printed as a table and written to ``bench/results/latest.json`` (``--out`` to change).

Measuring ours differently (each adds a second table: CPU per process, connections per
worker, Redis CPU, and the frames delivered inside the window)::

    .venv/bin/python bench/fanout.py --workers 2 --skip-baseline --push-seconds 0 --rate 50

- ``--workers N``: ours runs ``serve --workers N``; above 1 a private ``redis-server``
  (``tests.rediskit.RedisServer``) carries live updates between the workers, and ours' RSS
  and CPU are summed over uvicorn's supervisor and its workers;
- ``--push-seconds X``: ours gets ``INZOOMEN_HALL_PUSH_SECONDS=X`` (0 = no pacing);
- ``--skip-baseline``: ours only (the baseline is always one process);
- ``--lean-clients``: the load clients use a minimal WebSocket client of their own instead of
  ``websockets`` (same records, somewhat less CPU per frame), leaving more of a small
  machine to the server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis.asyncio as aioredis  # noqa: E402
from websockets.asyncio.client import ClientConnection, connect  # noqa: E402

from tests.livekit import Browserless, LiveServer, World, free_port, seed_world  # noqa: E402
from tests.rediskit import RedisServer, unique_prefix  # noqa: E402

BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
CLIENT_PROCESSES = 2
TARGETED_REPEATS = 20


# --------------------------------------------------------------------------- helpers


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def waiting_seconds(pids: list[int]) -> float:
    """Time these processes spent runnable but waiting for a CPU (``run_delay`` in
    ``/proc/<pid>/schedstat``), summed; a process that is gone counts as 0."""
    total = 0
    for p in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += int(Path(f"/proc/{p}/schedstat").read_text().split()[1])
    return total / 1e9


def children(pid: int) -> list[int]:
    """The direct children of a process: from ``/proc/<pid>/task/*/children`` where the
    kernel offers it, else by scanning every process's parent in ``/proc/*/stat``."""
    found: list[int] = []
    tasks = list(Path(f"/proc/{pid}/task").glob("*/children"))
    if tasks:
        for task in tasks:
            with contextlib.suppress(OSError):
                found += [int(c) for c in task.read_text().split()]
        return sorted(set(found))
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return sorted(found)


def process_tree(pid: int) -> list[int]:
    """A process and all its descendants (uvicorn's supervisor and its workers)."""
    tree = [pid]
    for child in children(pid):
        tree += process_tree(child)
    return tree


def process_role(pid: int, root: int) -> str:
    """What a process of ours' tree is: the uvicorn supervisor (the root), multiprocessing's
    resource tracker, or a worker."""
    if pid == root:
        return "supervisor" if len(process_tree(root)) > 1 else "server"
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "gone"
    return "tracker" if "resource_tracker" in command else "worker"


def tree_rss_kib(pids: list[int]) -> int:
    return sum(rss_kib(p) for p in pids)


def tree_cpu_seconds(pids: list[int]) -> dict[int, float]:
    """CPU seconds per process; a process that is gone counts as 0."""
    used: dict[int, float] = {}
    for p in pids:
        try:
            used[p] = cpu_seconds(p)
        except OSError:
            used[p] = 0.0
    return used


def established_connections(pids: list[int], port: int) -> dict[int, int]:
    """Per process: established TCP connections it holds on the server's local ``port``
    (matched by socket inode between ``/proc/<pid>/fd`` and ``/proc/net/tcp``)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                cells = line.split()
                local_port = int(cells[1].rsplit(":", 1)[1], 16)
                if local_port == port and cells[3] == "01":  # 01 = ESTABLISHED
                    inodes.add(cells[9])
    held: dict[int, int] = {}
    for p in pids:
        count = 0
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{p}/fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:[") and target[8:-1] in inodes:
                        count += 1
        held[p] = count
    return held


async def next_lines(
    processes: list[subprocess.Popen[str]], timeout: float
) -> list[dict[str, Any]]:
    """The next JSON line each child process prints on stdout (all within ``timeout``)."""

    async def one(process: subprocess.Popen[str]) -> dict[str, Any]:
        assert process.stdout is not None
        line = await asyncio.to_thread(process.stdout.readline)
        if not line:
            raise RuntimeError(f"child process {process.pid} exited before it answered")
        return json.loads(line)  # type: ignore[no-any-return]

    return await asyncio.wait_for(asyncio.gather(*(one(p) for p in processes)), timeout)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not values:
        return float("nan")
    rank = max(1, min(len(values), round(p / 100 * len(values) + 0.5)))
    return values[rank - 1]


def summary_ms(values: list[float]) -> dict[str, float]:
    ordered = sorted(v * 1000 for v in values)
    return {
        "count": len(ordered),
        "p50": percentile(ordered, 50),
        "p95": percentile(ordered, 95),
        "p99": percentile(ordered, 99),
        "max": ordered[-1] if ordered else float("nan"),
    }


class TimedPeer:
    """One WebSocket connection that notes the arrival time of every frame."""

    _ids = itertools.count(1)

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.events: list[tuple[float, str, dict[str, Any]]] = []  # (time, raw, frame)
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._arrived = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, ws_url: str, origin: str, cookie: str | None = None) -> TimedPeer:
        connection = await connect(
            ws_url,
            origin=origin,  # type: ignore[arg-type]
            additional_headers={"Cookie": cookie} if cookie else None,
            compression=None,
            ping_interval=None,
        )
        peer = cls(connection)
        await peer.wait_for("session.state")
        return peer

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for raw in self.connection:
                now = time.time()
                frame = json.loads(raw)
                if "event" in frame:
                    self.events.append((now, str(raw), frame))
                    self._arrived.set()
                elif (future := self._waiting.pop(frame.get("id"), None)) is not None:
                    future.set_result(frame)

    async def send(
        self, action: str, data: dict[str, Any] | None = None, timeout: float = 30
    ) -> dict[str, Any]:
        command_id = f"b{next(self._ids)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[command_id] = future
        await self.connection.send(
            json.dumps({"id": command_id, "action": action, "data": data or {}})
        )
        return await asyncio.wait_for(future, timeout)

    async def wait_for(
        self, name: str, where: Any = None, after: float = 0.0, timeout: float = 30
    ) -> tuple[float, str, dict[str, Any]]:
        """The first event with this name (matching ``where(data)``) that arrived at or
        after ``after``; waits for it when it has not arrived yet."""

        async def find() -> tuple[float, str, dict[str, Any]]:
            while True:
                for item in self.events:
                    t, _, frame = item
                    if t < after or frame["event"] != name:
                        continue
                    if where is None or where(frame["data"]):
                        return item
                self._arrived.clear()
                await self._arrived.wait()

        return await asyncio.wait_for(find(), timeout)

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(self.connection.close(), 5)


class Endpoint:
    """Where Browserless sends its forms: the url of a running server."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}/ws"


# --------------------------------------------------------------------------- load clients


class LoadClients:
    """The load-client processes for one measurement."""

    def __init__(
        self, endpoint: Endpoint, total: int, advisor_id: int, workdir: Path, lean: bool = False
    ) -> None:
        self.outs: list[Path] = []
        self.processes: list[subprocess.Popen[str]] = []
        share = [total // CLIENT_PROCESSES] * CLIENT_PROCESSES
        share[0] += total - sum(share)
        for i, count in enumerate(share):
            out = workdir / f"clients-{i}.json"
            self.outs.append(out)
            command = [sys.executable, str(BENCH / "loadclients.py")]
            command += ["--url", endpoint.ws_url, "--origin", endpoint.url]
            command += ["--count", str(count), "--advisor-id", str(advisor_id)]
            command += ["--out", str(out), "--max-seconds", "500"]
            if lean:
                command.append("--lean")
            self.processes.append(
                subprocess.Popen(
                    command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
                )
            )

    async def ready(self, timeout: float) -> list[dict[str, Any]]:
        return await next_lines(self.processes, timeout)

    def finish(self) -> list[dict[str, Any]]:
        for process in self.processes:
            assert process.stdin is not None
            with contextlib.suppress(BrokenPipeError):
                process.stdin.write("stop\n")
                process.stdin.flush()
        results = []
        for process, out in zip(self.processes, self.outs, strict=True):
            process.wait(timeout=60)
            results.append(json.loads(out.read_text()))
        return results

    def kill(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()


# --------------------------------------------------------------------------- measuring


@dataclass
class Drive:
    """The changes the driver made in the measured window."""

    started: float = 0.0
    ended: float = 0.0
    round_trips: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


async def drive(peer: TimedPeer, rate: float, seconds: float, flip: list[str]) -> Drive:
    """Flip the driver's status ``rate`` times a second for ``seconds``; one change is
    in flight at a time, so a slow server gets fewer changes, never a pile-up."""
    result = Drive(started=time.time())
    start = time.monotonic()
    for i in range(max(1, round(rate * seconds))):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        flip[0] = "paused" if flip[0] == "available" else "available"
        sent = time.time()
        reply = await peer.send("advisor.status", {"status": flip[0]})
        result.round_trips.append(time.time() - sent)
        if not reply.get("ok"):
            result.failures.append(str(reply.get("error")))
    result.ended = time.time()
    return result


def changes_seen(peer: TimedPeer, advisor_id: int, since_from: float, since_to: float) -> set[str]:
    """The changes of the driver's status that its own connection heard, as the ``since``
    text the clients key their receipts by."""
    found: set[str] = set()
    for _, _, frame in peer.events:
        if frame["event"] not in ("hall.booth", "hall.delta"):
            continue
        for booth in frame["data"].get("booths", (frame["data"],)):
            for advisor in booth.get("advisors", ()):
                if advisor.get("id") == advisor_id and since_from <= advisor["since"] <= since_to:
                    found.add(repr(float(advisor["since"])))
    return found


def fanout_figures(
    clients: list[dict[str, Any]],
    expected: set[str],
    window: float,
    between: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """Per connection and change: the change reached the client when the first frame with
    that change or a later one arrived (changes in one push interval are coalesced, latest
    state wins). A change that reached a client neither way is dropped.

    ``between`` (the measured window's start and end): also count the frames that arrived
    inside it, which is what the server sustained; frames still arriving after the window
    (a backlog) count towards ``deliveries_per_second`` only."""
    connected = sum(c["connected"] for c in clients)
    changes = sorted(float(since) for since in expected)
    latencies: list[float] = []
    frames = 0
    frames_between = 0
    coalesced = 0
    for client in clients:
        for receipts in client["receipts"]:
            seen = sorted((since, t) for since, t in receipts if repr(since) in expected)
            frames += len(seen)
            if between is not None:
                frames_between += sum(1 for _, t in seen if between[0] <= t <= between[1])
            coalesced += len(changes) - len(seen)
            first_at: list[float] = []  # the earliest receipt of this change or a later one
            earliest = float("inf")
            for _, t in reversed(seen):
                earliest = min(earliest, t)
                first_at.append(earliest)
            first_at.reverse()
            j = 0
            for change in changes:
                while j < len(seen) and seen[j][0] < change:
                    j += 1
                if j < len(seen):
                    latencies.append(first_at[j] - change)
    delivered = len(latencies)
    extra: dict[str, Any] = {}
    if between is not None and between[1] > between[0]:
        extra["deliveries_in_window_per_second"] = frames_between / (between[1] - between[0])
    return {
        "changes": len(expected),
        "delivered": delivered,
        "frames": frames,
        "coalesced": coalesced,
        "expected_deliveries": len(expected) * connected,
        "dropped": len(expected) * connected - delivered,
        "out_of_order": sum(c["out_of_order"] for c in clients),
        "closed_early": sum(c["closed_early"] for c in clients),
        "deliveries_per_second": frames / window if window > 0 else 0.0,
        "latency_ms": summary_ms(latencies),
        **extra,
    }


async def targeted(
    candidate: TimedPeer, advisor: TimedPeer, booth_id: int, repeats: int
) -> dict[str, Any]:
    """A candidate's request reaching its advisor: from the candidate's send to the arrival
    of the advisor's ``console.state`` that lists it."""
    times: list[float] = []
    failures: list[str] = []
    for i in range(repeats):
        sent = time.time()
        reply = await candidate.send(
            "request.create",
            {"booth_id": booth_id, "advisor_id": None, "question": None, "client_key": f"b{i}"},
        )
        if not reply.get("ok"):
            failures.append(str(reply.get("error")))
            await asyncio.sleep(0.2)
            continue
        request_id = reply["data"]["request_id"]
        arrived, _, _ = await advisor.wait_for(
            "console.state",
            where=lambda d, r=request_id: any(q["request_id"] == r for q in d["queue"]),
            after=sent,
        )
        times.append(arrived - sent)
        await candidate.send("request.cancel", {"request_id": request_id})
        await asyncio.sleep(0.2)
    return {"latency_ms": summary_ms(times), "failures": failures[:3]}


@dataclass
class Options:
    clients: list[int]
    seconds: float
    rate: float
    repeats: int
    workdir: Path
    workers: int = 1
    push_seconds: float | None = None
    skip_baseline: bool = False
    lean_clients: bool = False
    out: Path = field(default_factory=lambda: RESULTS / "latest.json")
    redis: RedisServer | None = None

    @property
    def extended(self) -> bool:
        """Any of the options that measure our server differently from the default run."""
        return (
            self.workers > 1
            or self.push_seconds is not None
            or self.skip_baseline
            or self.lean_clients
        )


def server_environment(options: Options, prefix: str) -> dict[str, str]:
    """What ours is started with: quiet logs, room for every load client (they all come
    from one address, which the per-address socket cap would otherwise stop), and the push
    pace and Redis when asked."""
    env = {
        "INZOOMEN_LOG_LEVEL": "warning",
        "INZOOMEN_WS_CONNECTIONS_PER_IP": str(max(options.clients) + 1000),
    }
    if options.push_seconds is not None:
        env["INZOOMEN_HALL_PUSH_SECONDS"] = f"{options.push_seconds:g}"
    if options.redis is not None:
        env["INZOOMEN_REDIS_URL"] = options.redis.url
        env["INZOOMEN_REDIS_PREFIX"] = prefix
    return env


async def wait_for_workers(redis_url: str, prefix: str, workers: int, timeout: float) -> None:
    """Wait until every worker holds its subscription to the live channel: /healthz answers
    as soon as one worker is up, and a worker that is still starting gets no connections."""
    client = aioredis.from_url(redis_url, protocol=2)
    channel = f"{prefix}:live"
    deadline = time.monotonic() + timeout
    try:
        while True:
            counts = await client.pubsub_numsub(channel)
            subscribed = int(counts[0][1]) if counts else 0
            if subscribed >= workers:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{subscribed} of {workers} workers subscribed to {channel}")
            await asyncio.sleep(0.1)
    finally:
        await client.aclose()


async def measure(
    kind: str,
    n: int,
    options: Options,
    windows: list[tuple[float, float]],
    template: dict[str, Any] | None,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """One server at one N, with one measured window per (rate, seconds) in ``windows``.
    Returns the figures and (for ours) a captured hall.booth frame."""
    workdir = options.workdir / f"{kind}-{n}"
    workdir.mkdir()
    server: LiveServer | None = None
    baseline: subprocess.Popen[str] | None = None
    loads: LoadClients | None = None
    peers: list[TimedPeer] = []
    browsers: list[Browserless] = []
    world: World | None = None
    try:
        if kind == "ours":
            world = await seed_world(workdir / "hall.db")
            prefix = unique_prefix(f"bench-{n}")
            server = LiveServer(
                workdir / "hall.db",
                workdir / "server.log",
                server_environment(options, prefix),
                ("--workers", str(options.workers)) if options.workers > 1 else (),
            )
            await asyncio.to_thread(server.start, 60.0)
            assert server.process is not None
            if options.redis is not None:
                await wait_for_workers(options.redis.url, prefix, options.workers, 60)
            pid, endpoint = server.process.pid, Endpoint(server.port)
            advisor_id = world.advisor_a1
            driver_http = Browserless(endpoint)  # type: ignore[arg-type]
            browsers.append(driver_http)
            await driver_http.log_in(world.emails[world.advisor_a1])
            cookie: str | None = driver_http.cookie_header()
        else:
            assert template is not None
            port = free_port()
            (workdir / "template.json").write_text(json.dumps(template))
            advisor_id = int(template["_advisor_id"])
            command = [sys.executable, str(BENCH / "baseline_server.py"), "--port", str(port)]
            command += ["--template", str(workdir / "template.json")]
            command += ["--advisor-id", str(advisor_id), "--max-seconds", "500"]
            baseline = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
            assert baseline.stdout is not None
            await asyncio.wait_for(asyncio.to_thread(baseline.stdout.readline), 20)
            pid, endpoint = baseline.pid, Endpoint(port)
            cookie = None

        driver = await TimedPeer.open(endpoint.ws_url, endpoint.url, cookie)
        peers.append(driver)
        flip = ["available"]  # the first change pauses the (available) driver
        await drive(driver, 1, 1, flip)  # one change, so the hall shows the driver present
        captured: dict[str, Any] | None = None
        if kind == "ours":
            _, raw, frame = await driver.wait_for("hall.delta")
            captured = {**frame, "_advisor_id": advisor_id, "_bytes": len(raw.encode())}
        await asyncio.sleep(0.5)
        pids = process_tree(pid)  # the server, or uvicorn's supervisor and its workers
        rss_before = tree_rss_kib(pids)

        loads = LoadClients(endpoint, n, advisor_id, workdir, options.lean_clients)
        ready = await loads.ready(timeout=120 + n / 20)
        connected = sum(r["connected"] for r in ready)
        await asyncio.sleep(1.0)
        rss_after = tree_rss_kib(pids)
        rss_by_process = {str(p): rss_kib(p) for p in pids}
        roles = {str(p): process_role(p, pid) for p in pids}
        held_by_process = {
            str(p): c for p, c in established_connections(pids, endpoint.port).items()
        }

        client_pids = [p.pid for p in loads.processes]
        redis_pid = (
            options.redis.process.pid
            if kind == "ours" and options.redis is not None and options.redis.process
            else None
        )
        measured: list[tuple[float, float, float, Drive, dict[str, Any]]] = []
        for number, (rate, seconds) in enumerate(windows):
            if number:
                await asyncio.sleep(2.0 + n / 2000)  # the previous window's last deliveries
            server_before = tree_cpu_seconds(pids)
            clients_before = sum(cpu_seconds(p) for p in client_pids)
            waits_before = (waiting_seconds(pids), waiting_seconds(client_pids))
            redis_before = cpu_seconds(redis_pid) if redis_pid else 0.0
            since_from = time.time()
            window = await drive(driver, rate, seconds, flip)
            since_to = time.time()
            server_after = tree_cpu_seconds(pids)
            clients_after = sum(cpu_seconds(p) for p in client_pids)
            waits_after = (waiting_seconds(pids), waiting_seconds(client_pids))
            redis_after = cpu_seconds(redis_pid) if redis_pid else 0.0
            elapsed = since_to - since_from
            per_process = {
                str(p): 100 * (server_after[p] - server_before[p]) / elapsed for p in pids
            }
            cpu: dict[str, Any] = {
                "server_percent": sum(per_process.values()),
                "load_clients_percent": 100 * (clients_after - clients_before) / elapsed,
            }
            if len(pids) > 1:
                cpu["server_processes_percent"] = per_process
            if options.extended:
                cpu["server_waiting_percent"] = 100 * (waits_after[0] - waits_before[0]) / elapsed
                cpu["load_clients_waiting_percent"] = (
                    100 * (waits_after[1] - waits_before[1]) / elapsed
                )
            if redis_pid:
                cpu["redis_percent"] = 100 * (redis_after - redis_before) / elapsed
            measured.append((rate, since_from, since_to, window, cpu))

        target: dict[str, Any] | None = None
        if kind == "ours" and world is not None:
            candidate_http = Browserless(endpoint)  # type: ignore[arg-type]
            second_http = Browserless(endpoint)  # type: ignore[arg-type]
            browsers += [candidate_http, second_http]
            await candidate_http.sign_in_candidate("Bench Kandidaat", "bench@example.nl")
            await second_http.log_in(world.emails[world.advisor_a2])
            candidate = await TimedPeer.open(
                endpoint.ws_url, endpoint.url, candidate_http.cookie_header()
            )
            second = await TimedPeer.open(
                endpoint.ws_url, endpoint.url, second_http.cookie_header()
            )
            peers += [candidate, second]
            await second.send("advisor.status", {"status": "available"})
            busy_seconds = options.repeats * 0.5 + 5
            busy = asyncio.create_task(drive(driver, options.rate, busy_seconds, flip))
            target = await targeted(candidate, second, world.booth_a, options.repeats)
            busy.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await busy

        await asyncio.sleep(3.0 + n / 2000)  # let the last changes arrive everywhere
        clients = loads.finish()
        figures = []
        for rate, since_from, since_to, window, cpu in measured:
            expected = changes_seen(driver, advisor_id, since_from, since_to)
            duration = window.ended - window.started
            committed = len(window.round_trips) - len(window.failures)
            figures.append(
                {
                    "rate_set": rate,
                    "changes_committed": committed,
                    "change_failures": window.failures[:3],
                    "window_seconds": duration,
                    "rate_achieved": committed / duration if duration > 0 else 0.0,
                    "driver_round_trip_ms": summary_ms(window.round_trips),
                    "cpu_in_window": cpu,
                    **fanout_figures(clients, expected, duration, (since_from, since_to)),
                }
            )
        result = {
            "server": kind,
            "workers": options.workers if kind == "ours" else 1,
            "push_seconds": options.push_seconds if kind == "ours" else None,
            "clients_asked": n,
            "clients_connected": connected,
            "connect_failed": sum(r["failed"] for r in ready),
            "connect_errors": sorted({e for r in ready for e in r["first_errors"]})[:3],
            "connect_seconds": max(r["connect_seconds"] for r in ready),
            "still_open_at_end": sum(c["still_open"] for c in clients),
            "rss_before_kib": rss_before,
            "rss_after_kib": rss_after,
            "rss_per_connection_kib": (rss_after - rss_before) / connected if connected else None,
            "server_pids": pids,
            "server_roles": roles,
            "rss_by_process_kib": rss_by_process,
            "held_by_process": held_by_process,
            **figures[0],
            "matched": figures[1] if len(figures) > 1 else None,
            "targeted": target,
        }
        return result, captured
    finally:
        for peer in peers:
            await peer.close()
        for browser in browsers:
            await browser.aclose()
        if loads is not None:
            loads.kill()
        if server is not None:
            await asyncio.to_thread(server.stop)
        if baseline is not None and baseline.poll() is None:
            baseline.terminate()
            try:
                baseline.wait(timeout=10)
            except subprocess.TimeoutExpired:
                baseline.kill()
                baseline.wait()


# --------------------------------------------------------------------------- reporting


def ratio(ours: float | None, base: float | None) -> float | None:
    if ours is None or base is None or base <= 0 or ours != ours or base != base:
        return None
    return ours / base


def comparison(ours: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """Ours as a multiple of the baseline. Latencies compare against the baseline driven at
    the rate ours reached (when ours fell short of the set rate); deliveries per second
    against the baseline at the set rate."""
    same_rate = base["matched"] or base
    return {
        "latency_against": "baseline at our achieved rate" if base["matched"] else "baseline",
        "p50": ratio(ours["latency_ms"]["p50"], same_rate["latency_ms"]["p50"]),
        "p99": ratio(ours["latency_ms"]["p99"], same_rate["latency_ms"]["p99"]),
        "rss_per_connection": ratio(ours["rss_per_connection_kib"], base["rss_per_connection_kib"]),
        "deliveries_per_second": ratio(
            ours["deliveries_per_second"], base["deliveries_per_second"]
        ),
    }


def fmt(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


HEAD = (
    "server", "N", "held", "conn s", "RSS0 MiB", "RSS1 MiB", "KiB/conn", "chg/s", "p50 ms",
    "p95 ms", "p99 ms", "max ms", "deliv/s", "dropped", "coal", "ooo", "srv CPU%", "req p50",
    "req p99",
)  # fmt: skip


def row(label: str, r: dict[str, Any], window: dict[str, Any]) -> list[str]:
    lat = window["latency_ms"]
    targeted = (r.get("targeted") or {}).get("latency_ms", {})
    return [
        label,
        str(r["clients_asked"]),
        str(r["clients_connected"]),
        fmt(r["connect_seconds"]),
        fmt(r["rss_before_kib"] / 1024),
        fmt(r["rss_after_kib"] / 1024),
        fmt(r["rss_per_connection_kib"]),
        fmt(window["rate_achieved"], 2),
        fmt(lat["p50"]),
        fmt(lat["p95"]),
        fmt(lat["p99"]),
        fmt(lat["max"]),
        fmt(window["deliveries_per_second"], 0),
        str(window["dropped"]),
        str(window.get("coalesced", 0)),
        str(window["out_of_order"]),
        fmt(window["cpu_in_window"]["server_percent"], 0),
        fmt(targeted.get("p50")),
        fmt(targeted.get("p99")),
    ]


def ours_label(ours: dict[str, Any]) -> str:
    workers = ours.get("workers", 1)
    return "ours" if workers == 1 else f"ours/{workers}w"


def aligned(rows: list[list[str]]) -> list[str]:
    """Rows as right-aligned columns, with a rule under the first (the head)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def table(runs: list[dict[str, Any]]) -> str:
    rows = [list(HEAD)]
    for run in runs:
        ours, base, ratios = run["ours"], run["baseline"], run["ratio"]
        rows.append(row(ours_label(ours), ours, ours))
        if base is None:
            continue
        rows.append(row("baseline", base, base))
        if base["matched"]:
            rows.append(row("baseline*", base, base["matched"]))
        x = {key: fmt(value, 2) + "x" for key, value in ratios.items() if key != "latency_against"}
        ratio_row = ["ours/base", str(run["clients"])] + [""] * (len(HEAD) - 2)
        ratio_row[HEAD.index("KiB/conn")] = x["rss_per_connection"]
        ratio_row[HEAD.index("p50 ms")] = x["p50"]
        ratio_row[HEAD.index("p99 ms")] = x["p99"]
        ratio_row[HEAD.index("deliv/s")] = x["deliveries_per_second"]
        rows.append(ratio_row)
    lines = aligned(rows)
    lines.append(
        "baseline* = the baseline driven at the change rate ours reached; latency ratios use "
        "it when present.\nreq = a request reaching its advisor (ms), measured on ours only."
        "\ncoal = changes a client got only as part of a later state (coalesced, not lost)."
    )
    return "\n".join(lines)


PROCESS_HEAD = (
    "server", "N", "push s", "chg/s", "deliv/s", "in-win/s", "p50 ms", "p99 ms", "dropped",
    "closed", "srv CPU%", "worker CPU%", "other CPU%", "held per worker", "clients CPU%",
    "redis CPU%", "srv wait%", "cli wait%", "srv us/fr", "cli us/fr",
)  # fmt: skip


def cpu_per_frame_us(percent: float | None, frames_per_second: float | None) -> float | None:
    """CPU microseconds per delivered frame, from CPU% and frames a second in one window."""
    if percent is None or not frames_per_second:
        return None
    return percent / 100 / frames_per_second * 1e6


def process_table(runs: list[dict[str, Any]]) -> str:
    """Where the CPU went: our server per process (the uvicorn supervisor first, then its
    workers), the load clients and Redis, next to what was delivered."""
    rows = [list(PROCESS_HEAD)]
    for run in runs:
        ours = run["ours"]
        cpu = ours["cpu_in_window"]
        roles = ours["server_roles"]
        workers = [p for p, role in roles.items() if role == "worker"]
        per_process = cpu.get("server_processes_percent") or {}
        held = ours["held_by_process"]
        other = sum(v for p, v in per_process.items() if p not in workers)
        in_window = ours.get("deliveries_in_window_per_second")
        rows.append(
            [
                ours_label(ours),
                str(ours["clients_asked"]),
                fmt(ours["push_seconds"], 2),
                fmt(ours["rate_achieved"], 2),
                fmt(ours["deliveries_per_second"], 0),
                fmt(ours.get("deliveries_in_window_per_second"), 0),
                fmt(ours["latency_ms"]["p50"]),
                fmt(ours["latency_ms"]["p99"]),
                str(ours["dropped"]),
                str(ours["closed_early"]),
                fmt(cpu["server_percent"], 0),
                "+".join(fmt(per_process[p], 0) for p in workers) if workers else "-",
                fmt(other, 0) if workers else "-",
                "+".join(str(held.get(p, 0)) for p in workers) or str(sum(held.values())),
                fmt(cpu["load_clients_percent"], 0),
                fmt(cpu.get("redis_percent"), 0),
                fmt(cpu.get("server_waiting_percent"), 0),
                fmt(cpu.get("load_clients_waiting_percent"), 0),
                fmt(cpu_per_frame_us(cpu["server_percent"], in_window), 1),
                fmt(cpu_per_frame_us(cpu["load_clients_percent"], in_window), 1),
            ]
        )
    lines = aligned(rows)
    lines.append(
        "in-win/s = frames that arrived inside the measured window, per second (deliv/s also "
        "counts a backlog\narriving after it). CPU% in the window, 100 = one core; other = "
        "uvicorn's supervisor and multiprocessing's\nresource tracker. held = established "
        "connections on the server port (the load clients' and the driver's).\nclosed = "
        "connections the server closed during the run (a client that fell too far behind).\n"
        "wait% = time runnable but waiting for a CPU (schedstat run_delay), summed over the "
        "processes, in the window.\nus/fr = CPU microseconds per frame delivered in the "
        "window: our server (all its processes), the load clients."
    )
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    from importlib.metadata import version

    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "uvicorn": version("uvicorn"),
        "websockets": version("websockets"),
        "starlette": version("starlette"),
        "fd_limit": raise_fd_limit(),
    }


# --------------------------------------------------------------------------- main


async def main_async(options: Options) -> dict[str, Any]:
    runs: list[dict[str, Any]] = []
    for n in options.clients:
        workers = f" with {options.workers} workers" if options.workers > 1 else ""
        print(f"[{n} clients] ours{workers} ...", flush=True)
        windows = [(options.rate, options.seconds)]
        ours, template = await measure("ours", n, options, windows, None)
        if options.skip_baseline:
            runs.append(
                {
                    "clients": n,
                    "hall_booth_frame_bytes": (template or {}).get("_bytes"),
                    "ours": ours,
                    "baseline": None,
                    "ratio": None,
                }
            )
            continue
        if ours["rate_achieved"] < 0.9 * options.rate:
            # Ours could not keep the set rate: measure the baseline at the rate ours did
            # reach as well, so that the latencies compare like with like.
            windows.append((ours["rate_achieved"], ours["window_seconds"]))
        print(f"[{n} clients] baseline ...", flush=True)
        base, _ = await measure("baseline", n, options, windows, template)
        runs.append(
            {
                "clients": n,
                "hall_booth_frame_bytes": (template or {}).get("_bytes"),
                "ours": ours,
                "baseline": base,
                "ratio": comparison(ours, base),
            }
        )
    settings: dict[str, Any] = {
        "clients": options.clients,
        "seconds": options.seconds,
        "rate": options.rate,
        "targeted_repeats": options.repeats,
        "client_processes": CLIENT_PROCESSES,
    }
    if options.extended:
        settings |= {
            "workers": options.workers,
            "push_seconds": options.push_seconds,
            "skip_baseline": options.skip_baseline,
            "lean_clients": options.lean_clients,
        }
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "settings": settings,
        "runs": runs,
    }


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description="Fan-out benchmark of the live hall")
    parser.add_argument("--clients", default="1000,5000", help="comma-separated N values")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window per N")
    parser.add_argument("--rate", type=float, default=5.0, help="hall changes per second")
    parser.add_argument("--smoke", action="store_true", help="200 clients, about 30 s")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes of ours; above 1 they share live updates through a private "
        "redis-server",
    )
    parser.add_argument(
        "--push-seconds",
        type=float,
        default=None,
        help="INZOOMEN_HALL_PUSH_SECONDS for ours (0 = no pacing; default: the server's own)",
    )
    parser.add_argument(
        "--skip-baseline", action="store_true", help="measure ours only, no baseline server"
    )
    parser.add_argument(
        "--lean-clients",
        action="store_true",
        help="load clients on a minimal WebSocket client (less CPU per frame) instead of "
        "websockets'",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS / "latest.json",
        help="where to write the results (default bench/results/latest.json)",
    )
    args = parser.parse_args(argv)
    clients = [int(c) for c in args.clients.split(",") if c.strip()]
    seconds, repeats = args.seconds, TARGETED_REPEATS
    if args.smoke:
        clients, seconds, repeats = [200], 5.0, 5
    fd_budget = raise_fd_limit()
    for n in clients:
        # Per process: the server holds n connections, each load-client process n / 2.
        if n < 1 or n + 2000 > fd_budget:
            parser.error(f"{n} clients do not fit the open-files limit of {fd_budget}")
    if args.rate <= 0 or not 0 < seconds <= 120:
        parser.error("--rate must be positive and --seconds between 0 and 120")
    if not 1 <= args.workers <= 16:
        parser.error("--workers must be between 1 and 16")
    if args.push_seconds is not None and not 0 <= args.push_seconds <= 10:
        parser.error("--push-seconds must be between 0 and 10")
    return Options(
        clients,
        seconds,
        args.rate,
        repeats,
        Path(),
        workers=args.workers,
        push_seconds=args.push_seconds,
        skip_baseline=args.skip_baseline,
        lean_clients=args.lean_clients,
        out=args.out.resolve(),
    )


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="inzoomen-bench-"))
        options.workdir = Path(tmp)
        if options.workers > 1:
            options.redis = stack.enter_context(RedisServer())
        results = asyncio.run(main_async(options))
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps(results, indent=2) + "\n")
    print()
    heading = f"fan-out, {options.rate:g} changes/s for {options.seconds:g} s"
    if options.extended:
        push = "server default" if options.push_seconds is None else f"{options.push_seconds:g} s"
        heading += f", ours with {options.workers} worker(s), hall push every {push}"
        if options.lean_clients:
            heading += ", lean load clients"
    print(f"{heading}, {results['date']}")
    print(table(results["runs"]))
    if options.extended:
        print()
        print(process_table(results["runs"]))
    out = options.out
    print(f"\nwritten to {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    faults = delivery_faults(results["runs"])
    for fault in faults:
        print(f"FAULT: {fault}", file=sys.stderr)
    return 1 if faults else 0


def delivery_faults(runs: list[dict[str, Any]]) -> list[str]:
    """What must never happen whatever the speed: clients not held, events lost or reordered,
    changes refused."""
    faults = []
    for run in runs:
        for name in ("ours", "baseline"):
            side = run.get(name)
            if not side:
                continue
            label = f"{name} at {run['clients']} clients"
            if side["clients_connected"] != side["clients_asked"]:
                faults.append(
                    f"{label}: {side['clients_connected']} of {side['clients_asked']} held"
                )
            if side["dropped"] or side["out_of_order"]:
                faults.append(
                    f"{label}: {side['dropped']} dropped, {side['out_of_order']} out of order"
                )
            if side["change_failures"]:
                faults.append(f"{label}: {len(side['change_failures'])} changes failed")
    return faults


if __name__ == "__main__":
    sys.exit(main())
