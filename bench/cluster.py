"""Several hall nodes on PostgreSQL: what a second and third node, and the database server
itself, change in what the hall commits, how fast it fans out, and how fast clients of a
node that dies are back.

Run from the repository root::

    .venv/bin/python bench/cluster.py                    # 3 rounds, about 10 minutes on 2 cores
    .venv/bin/python bench/cluster.py --rounds 5 --json /tmp/cluster.json
    .venv/bin/python bench/cluster.py --smoke            # one short round, about a minute

What runs, all on loopback ``127.0.0.1`` and started by this file: one private ``postgres``
(``tests.pgkit.PostgresServer``; every setup gets a fresh database of its own, already
migrated), one ``redis-server`` (``tests.rediskit.RedisServer``; a prefix per setup), and per
setup either one ``inzoomen serve`` reached directly (``tests.livekit.LiveServer``) or
``tests.haproxykit.HallCluster``: nodes on one database and one Redis behind Debian's
HAProxy running docs/deploy/haproxy.cfg, every client going through the balancer.

Three measures, each taking its setups in turns, round after round (the order of the
setups is reversed every other round), so that every setup meets the machine at nearly the
same moments; a busy moment hits them alike, and what remains shows in the range printed
next to each median:

1. **Operations committed** (``bench/ops.py``'s workload and checks, imported from there):
   booths of two advisors, candidates signed in through the forms, two client processes
   (one in ``--smoke``), each client one command in flight; request+accept operations
   committed a second in the measured window. Setups: SQLite with one node, PostgreSQL
   with one node, PostgreSQL with three nodes behind HAProxy (and Redis). Afterwards the
   database must hold exactly what the clients were told was committed.
2. **Fan-out latency** (``bench/fanout.py``'s load clients and figures, imported from there):
   N anonymous hall clients through the balancer, an advisor's status changed ``--rate``
   times a second for ``--fanout-seconds``; p50/p99 from a change to each client having it.
   Setups: one node and three nodes, both on PostgreSQL and Redis behind the same HAProxy,
   so only the number of nodes differs. No change may be lost or arrive out of order.
3. **Resync after a node is killed**: ``--resync-clients`` anonymous clients that reconnect
   the way ``static/js/live.js`` does (``tests.livekit.ReconnectingPeer``: a random wait of
   up to 0.5 s, doubling), spread by HAProxy over three nodes; node2 gets SIGKILL; per client
   of node2, the time from the kill until it is connected through the balancer again and
   has its full state (``session.state``); median and max over those clients, and how many
   there were. Each must come back, and hold what a fresh ``session.sync`` holds.

Faults (exit status 1): an acknowledged operation missing from the database (or any of
ops.py's checks), a fan-out change lost or reordered or a client not held, a killed node's
client that does not come back within 30 s or comes back with a state that is not the
server's. A setup that does not start raises.

Everything shares this machine's cores: with three nodes, PostgreSQL, Redis, HAProxy, the
client processes and this process on two cores, the absolute figures are bounded by the
CPU, not by the hall; read the ratios between setups. The header says how many cores there
were and the load average before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402

from bench import ops  # noqa: E402
from bench.fanout import (  # noqa: E402
    Endpoint,
    LoadClients,
    TimedPeer,
    changes_seen,
    cpu_seconds,
    drive,
    established_connections,
    fanout_figures,
    machine,
    raise_fd_limit,
    summary_ms,
    wait_for_workers,
)
from tests.haproxykit import HallCluster, open_sockets  # noqa: E402
from tests.livekit import Browserless, LiveServer, ReconnectingPeer, seed_world  # noqa: E402
from tests.pgkit import PostgresServer  # noqa: E402
from tests.rediskit import RedisServer, unique_prefix  # noqa: E402

METRICS_TOKEN = "cluster-bench-metrics-token-0123"
COME_BACK_WITHIN = 30.0  # seconds a killed node's client has to be back (a fault if not)
KILLED = 1  # index of the node that is killed: node2

OPS_SETUPS = ("SQLite 1 node", "PostgreSQL 1 node", "PostgreSQL 3 nodes")
FANOUT_SETUPS = ("1 node", "3 nodes")
RESYNC_SETUPS = ("3 nodes, node2 killed",)


@dataclass
class Options:
    rounds: int = 3
    seconds: float = 15.0  # ops: measured window
    warmup: float = 3.0
    # Fewer than ops.py's 300 and 20: every client keeps a command in flight, and at
    # PostgreSQL's rate on a busy 2-core machine 300 of them queue past ops.py's 10 s
    # command timeout, which fails the run (a command without a reply cannot be checked).
    candidates: int = 120
    booths: int = 10
    processes: int = 2
    fanout_clients: int = 1000
    fanout_seconds: float = 15.0
    rate: float = 5.0
    resync_clients: int = 300
    json_path: Path | None = None
    workdir: Path = Path()


@dataclass
class Services:
    """What every setup shares: the database server and Redis."""

    postgres: PostgresServer
    redis: RedisServer
    faults: list[str] = field(default_factory=list)
    setups: int = 0

    def directory(self, workdir: Path, name: str) -> Path:
        self.setups += 1
        path = workdir / f"{self.setups:02d}-{name.replace(' ', '-').replace(',', '')}"
        path.mkdir()
        return path


@dataclass
class Setup:
    """Where the clients go, and the server processes behind it."""

    endpoint: Endpoint
    servers: list[LiveServer]
    cluster: HallCluster | None = None

    @property
    def pids(self) -> list[int]:
        return [s.process.pid for s in self.servers if s.process is not None]


def node_environment(options: Options) -> dict[str, str]:
    """ops.py's environment (the per-person limits lifted: the work is measured, not the
    refusals), room for every fan-out client on one address, and /metrics for the resync
    measure to count each node's sockets."""
    return {
        **ops.SERVER_ENVIRONMENT,
        "INZOOMEN_WS_CONNECTIONS_PER_IP": str(
            max(options.fanout_clients, options.resync_clients) + 1000
        ),
        "INZOOMEN_METRICS_TOKEN": METRICS_TOKEN,
    }


@contextlib.asynccontextmanager
async def running(
    database: Path | str,
    directory: Path,
    options: Options,
    services: Services,
    nodes: int | None,
) -> AsyncIterator[Setup]:
    """``nodes=None``: one server reached directly, no Redis. Otherwise ``nodes`` nodes on
    Redis behind HAProxy, every one subscribed to the live channel before the clients come."""
    env = node_environment(options)
    if nodes is None:
        server = LiveServer(database, directory / "server.log", env)
        try:
            await asyncio.to_thread(server.start, 60.0)
            yield Setup(Endpoint(server.port), [server])
        finally:
            await asyncio.to_thread(server.stop)
        return
    prefix = unique_prefix(directory.name)
    env |= {"INZOOMEN_REDIS_URL": services.redis.url, "INZOOMEN_REDIS_PREFIX": prefix}
    cluster = HallCluster(database, directory, count=nodes, env=env)
    try:
        await asyncio.to_thread(cluster.start)
        await wait_for_workers(services.redis.url, prefix, nodes, 60)
        await asyncio.to_thread(
            cluster.balancer.wait_for_states, dict.fromkeys(cluster.names, "UP"), 30.0
        )
        yield Setup(Endpoint(cluster.balancer.port), cluster.nodes, cluster)
    finally:
        await asyncio.to_thread(cluster.stop)


# --------------------------------------------------------------------------- 1. operations


async def postgres_counts(url: str) -> dict[str, int]:
    """ops.py's counts, read from a PostgreSQL database."""
    connection = await asyncpg.connect(url)
    try:
        return {key: int(await connection.fetchval(sql)) for key, sql in ops.COUNTS.items()}
    finally:
        await connection.close()


async def operations(setup_name: str, options: Options, services: Services) -> dict[str, float]:
    directory = services.directory(options.workdir, f"ops {setup_name}")
    database: Path | str
    if setup_name.startswith("SQLite"):
        database = directory / "hall.db"
    else:
        database = await asyncio.to_thread(services.postgres.database)
    hall = await ops.seed_hall(database, options.booths)
    nodes = 3 if setup_name.endswith("3 nodes") else None

    async def stored() -> dict[str, int]:
        if isinstance(database, Path):
            return ops.database_counts(database)
        return await postgres_counts(database)

    work = ops.Options(
        options.seconds, options.warmup, options.candidates, options.booths, options.processes
    )
    work.workdir = directory
    print(f"[ops] {setup_name} ...", flush=True)
    async with running(database, directory, options, services, nodes) as setup:
        result = await ops.measure(work, hall, setup.endpoint, setup.pids, stored)
    services.faults += [f"ops, {setup_name}: {fault}" for fault in result["faults"]]
    kinds = result["kinds"]
    return {
        "request+accept /s": result["request_accept_per_second"],
        "all committed /s": result["all_committed_per_second"],
        "request.create p50 ms": kinds["request.create"]["latency_ms"]["p50"],
        "request.create p99 ms": kinds["request.create"]["latency_ms"]["p99"],
        "request.accept p99 ms": kinds["request.accept"]["latency_ms"]["p99"],
        "server CPU % (all nodes)": result["server"]["cpu_percent"],
    }


# --------------------------------------------------------------------------- 2. fan-out


async def fanout(setup_name: str, options: Options, services: Services) -> dict[str, float]:
    directory = services.directory(options.workdir, f"fanout {setup_name}")
    database = await asyncio.to_thread(services.postgres.database)
    world = await seed_world(database)
    nodes = 3 if setup_name.startswith("3") else 1
    n = options.fanout_clients
    print(f"[fan-out] {setup_name}, {n} clients ...", flush=True)
    async with running(database, directory, options, services, nodes) as setup:
        endpoint, pids = setup.endpoint, setup.pids
        driver_http = Browserless(endpoint)  # type: ignore[arg-type]
        loads: LoadClients | None = None
        driver: TimedPeer | None = None
        try:
            await driver_http.log_in(world.emails[world.advisor_a1])
            driver = await TimedPeer.open(
                endpoint.ws_url, endpoint.url, driver_http.cookie_header()
            )
            flip = ["available"]
            await drive(driver, 1, 1, flip)  # one change, so the hall shows the driver present
            await asyncio.sleep(0.5)
            loads = LoadClients(endpoint, n, world.advisor_a1, directory)
            ready = await loads.ready(timeout=120 + n / 20)
            connected = sum(r["connected"] for r in ready)
            await asyncio.sleep(1.0)
            held = [
                sum(established_connections([s.process.pid], s.port).values())
                for s in setup.servers
                if s.process is not None
            ]
            cpu_before = sum(cpu_seconds(p) for p in pids)
            since_from = time.time()
            window = await drive(driver, options.rate, options.fanout_seconds, flip)
            since_to = time.time()
            cpu = 100 * (sum(cpu_seconds(p) for p in pids) - cpu_before) / (since_to - since_from)
            await asyncio.sleep(3.0 + n / 2000)  # the last changes reach everyone
            clients = loads.finish()
            loads = None
        finally:
            if loads is not None:
                loads.kill()
            if driver is not None:
                await driver.close()
            await driver_http.aclose()
    expected = changes_seen(driver, world.advisor_a1, since_from, since_to)
    duration = window.ended - window.started
    result = fanout_figures(clients, expected, duration, (since_from, since_to))
    label = f"fan-out, {setup_name}"
    if connected != n:
        services.faults.append(f"{label}: {connected} of {n} clients held")
    if result["dropped"] or result["out_of_order"]:
        services.faults.append(
            f"{label}: {result['dropped']} changes lost, {result['out_of_order']} out of order"
        )
    if window.failures or not expected:
        services.faults.append(f"{label}: changes failed: {window.failures[:3] or 'none seen'}")
    print(f"  connections per node (balancer to node, driver included): {held}", flush=True)
    committed = len(window.round_trips) - len(window.failures)
    return {
        "p50 ms": result["latency_ms"]["p50"],
        "p99 ms": result["latency_ms"]["p99"],
        "max ms": result["latency_ms"]["max"],
        "changes /s": committed / duration if duration > 0 else 0.0,
        "server CPU % (all nodes)": cpu,
    }


# --------------------------------------------------------------------------- 3. resync


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"not within {timeout:g} s: {what}")
        await asyncio.sleep(0.1)


async def resync(setup_name: str, options: Options, services: Services) -> dict[str, float]:
    directory = services.directory(options.workdir, f"resync {setup_name}")
    database = await asyncio.to_thread(services.postgres.database)
    await seed_world(database)
    n = options.resync_clients
    label = f"resync, {setup_name}"
    print(f"[resync] {n} clients over 3 nodes, node2 killed ...", flush=True)
    async with running(database, directory, options, services, 3) as setup:
        visitors = [Browserless(setup.endpoint) for _ in range(n)]  # type: ignore[arg-type]
        peers = [ReconnectingPeer(v, rng=random.Random(i)) for i, v in enumerate(visitors)]
        gate = asyncio.Semaphore(20)

        async def start(peer: ReconnectingPeer) -> None:
            async with gate:
                await peer.start(timeout=30)

        try:
            await asyncio.gather(*(start(p) for p in peers))

            async def per_node() -> list[int]:
                return await asyncio.to_thread(lambda: [open_sockets(s) for s in setup.servers])

            async def all_held() -> bool:
                return sum(await per_node()) == n

            await until(all_held, f"the nodes hold all {n} sockets", 30)
            spread = await per_node()
            held = spread[KILLED]
            victim = setup.servers[KILLED]
            assert victim.process is not None
            marks = [len(p.close_codes) for p in peers]
            killed_at = time.time()
            victim.process.send_signal(signal.SIGKILL)
            await asyncio.to_thread(victim.process.wait)

            def dropped() -> list[int]:
                return [i for i, p in enumerate(peers) if len(p.close_codes) > marks[i]]

            def back_at(peer: ReconnectingPeer) -> float | None:
                for at, name, _ in peer.pushes:
                    if name == "session.state" and at >= killed_at:
                        return at
                return None

            async def all_back() -> bool:
                gone = dropped()
                return len(gone) >= held and all(back_at(peers[i]) is not None for i in gone)

            with contextlib.suppress(RuntimeError):
                await until(all_back, "every client of node2 back", COME_BACK_WITHIN)
            gone = dropped()
            times = [t - killed_at for i in gone if (t := back_at(peers[i])) is not None]
            in_sync = 0
            for i in gone:
                with contextlib.suppress(Exception):
                    in_sync += await peers[i].in_sync()
        finally:
            await asyncio.gather(*(p.close() for p in peers))
            await asyncio.gather(*(v.aclose() for v in visitors))
    print(f"  sockets per node before the kill: {spread}", flush=True)
    if not held:
        services.faults.append(f"{label}: node2 held no client, nothing was measured")
    if len(gone) != held:
        services.faults.append(f"{label}: node2 held {held} sockets, {len(gone)} clients dropped")
    if len(times) != len(gone):
        services.faults.append(
            f"{label}: {len(gone) - len(times)} of {len(gone)} clients not back within "
            f"{COME_BACK_WITHIN:g} s"
        )
    if in_sync != len(times):
        services.faults.append(
            f"{label}: {len(times) - in_sync} clients back with a state that is not the server's"
        )
    summary = summary_ms(times)
    return {
        "resync p50 ms": summary["p50"],
        "resync max ms": summary["max"],
        "clients of node2": float(held),
    }


# --------------------------------------------------------------------------- running and reporting

Measure = Callable[[str, Options, Services], Awaitable[dict[str, float]]]
MEASURES: tuple[tuple[str, tuple[str, ...], Measure], ...] = (
    ("operations committed", OPS_SETUPS, operations),
    ("fan-out through HAProxy, PostgreSQL + Redis", FANOUT_SETUPS, fanout),
    ("resync after SIGKILL of a node", RESYNC_SETUPS, resync),
)

# samples[measure][setup][figure] = one value per round
Samples = dict[str, dict[str, dict[str, list[float]]]]


async def run(options: Options, services: Services) -> Samples:
    samples: Samples = {name: {s: {} for s in setups} for name, setups, _ in MEASURES}
    for n in range(options.rounds):
        print(f"--- round {n + 1} of {options.rounds}", flush=True)
        for name, setups, measure in MEASURES:
            for setup in setups if n % 2 == 0 else tuple(reversed(setups)):
                began = time.monotonic()
                figures = await measure(setup, options, services)
                print(f"  ({time.monotonic() - began:.0f} s)", flush=True)
                for figure, value in figures.items():
                    samples[name][setup].setdefault(figure, []).append(value)
    return samples


def cell(values: list[float]) -> str:
    if not values or any(v != v for v in values):
        return "-"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.median(values):.1f} ({min(values):.1f}–{max(values):.1f})"


def table(setups: dict[str, dict[str, list[float]]]) -> str:
    """Figures as rows, setups as columns (median and range over the rounds), then each
    setup's median as a multiple of the first setup's."""
    names = list(setups)
    first = names[0]
    head = ["figure", *names, *(f"{s} / {first}" for s in names[1:])]
    rows = [head]
    for figure in setups[first]:
        row = [figure, *(cell(setups[s][figure]) for s in names)]
        base = statistics.median(setups[first][figure])
        for s in names[1:]:
            other = statistics.median(setups[s][figure])
            row.append(f"{other / base:.2f}" if base and base == base and other == other else "-")
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> Options:
    defaults = Options()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=defaults.rounds)
    parser.add_argument("--seconds", type=float, default=defaults.seconds, help="ops window")
    parser.add_argument("--candidates", type=int, default=defaults.candidates)
    parser.add_argument("--booths", type=int, default=defaults.booths, help="two advisors each")
    parser.add_argument("--fanout-clients", type=int, default=defaults.fanout_clients)
    parser.add_argument("--fanout-seconds", type=float, default=defaults.fanout_seconds)
    parser.add_argument("--rate", type=float, default=defaults.rate, help="changes a second")
    parser.add_argument("--resync-clients", type=int, default=defaults.resync_clients)
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--smoke", action="store_true", help="one short round, small counts")
    args = parser.parse_args(argv)
    options = Options(
        rounds=args.rounds,
        seconds=args.seconds,
        candidates=args.candidates,
        booths=args.booths,
        fanout_clients=args.fanout_clients,
        fanout_seconds=args.fanout_seconds,
        rate=args.rate,
        resync_clients=args.resync_clients,
        json_path=args.json,
    )
    if args.smoke:
        options.rounds, options.seconds, options.warmup = 1, 3.0, 1.0
        options.candidates, options.booths, options.processes = 20, 3, 1
        options.fanout_clients, options.fanout_seconds = 100, 3.0
        options.resync_clients = 30
    if not 1 <= options.rounds <= 10:
        parser.error("--rounds must be in [1, 10]")
    if not 0 < options.seconds <= 120 or not 0 < options.fanout_seconds <= 120:
        parser.error("--seconds and --fanout-seconds must be in (0, 120]")
    if not 1 <= options.candidates <= 2000 or not 2 <= options.booths <= 100:
        parser.error("--candidates must be in [1, 2000] and --booths in [2, 100]")
    if not 0 < options.rate <= 50:
        parser.error("--rate must be in (0, 50]")
    # HAProxy's connection limit in the test configuration is 2000 (tests/haproxykit.py).
    if not 3 <= options.resync_clients <= 1500 or not 1 <= options.fanout_clients <= 1500:
        parser.error("--fanout-clients must be in [1, 1500] and --resync-clients in [3, 1500]")
    return options


def load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    raise_fd_limit()
    load_before = load()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="inzoomen-cluster-"))
        options.workdir = Path(tmp)
        print("starting PostgreSQL and Redis ...", flush=True)
        began = time.monotonic()
        postgres = stack.enter_context(PostgresServer())
        redis = stack.enter_context(RedisServer())
        print(f"  ({time.monotonic() - began:.0f} s)", flush=True)
        services = Services(postgres, redis)
        samples = asyncio.run(run(options, services))
    load_after = load()
    cores = os.cpu_count()
    print()
    print(
        f"Several nodes and PostgreSQL, {options.rounds} round(s), {started}; median "
        "(range) over the rounds.\n"
        f"Limits: {cores} cores shared by up to three nodes, PostgreSQL, Redis, HAProxy, the "
        "client processes and this process: the absolute figures are bounded by the CPU, not "
        "by the hall; read the ratios.\n"
        f"Load average (1 / 5 / 15 min) before {load_before}, after {load_after}."
    )
    print(
        f"\n1. Operations committed: {options.booths} booths x 2 advisors, "
        f"{options.candidates} candidates, {options.processes} client processes, "
        f"{options.warmup:g} s warm-up, {options.seconds:g} s window"
    )
    print(table(samples[MEASURES[0][0]]))
    print(
        f"\n2. Fan-out through HAProxy on PostgreSQL + Redis: {options.fanout_clients} "
        f"clients, {options.rate:g} changes/s for {options.fanout_seconds:g} s"
    )
    print(table(samples[MEASURES[1][0]]))
    print(
        f"\n3. Resync after SIGKILL of node2 of 3: {options.resync_clients} clients through "
        "HAProxy, time from the kill to session.state again"
    )
    print(table(samples[MEASURES[2][0]]))
    if options.json_path is not None:
        options.json_path.write_text(
            json.dumps(
                {
                    "date": started,
                    "machine": machine(),
                    "load_average": {"before": load_before, "after": load_after},
                    "settings": {
                        k: v for k, v in vars(options).items() if k not in ("workdir", "json_path")
                    },
                    "figures": samples,
                    "faults": services.faults,
                },
                indent=2,
            )
            + "\n"
        )
        print(f"\nwritten to {options.json_path}")
    for fault in services.faults:
        print(f"FAULT: {fault}", file=sys.stderr)
    return 1 if services.faults else 0


if __name__ == "__main__":
    sys.exit(main())
