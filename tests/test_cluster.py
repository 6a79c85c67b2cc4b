"""The hall as operators run it at scale, and what happens to it when parts fail.

Three ``inzoomen serve`` nodes on one PostgreSQL database and one Redis, behind Debian's
HAProxy with docs/deploy/haproxy.cfg; visitors talk to the balancer only (except where a test
says it goes straight to one node). The database server, Redis and the nodes are real
processes of this module's own, because the tests kill and restart them: a node is killed
in the middle of an event (its clients move to the others, nothing acknowledged is lost,
every timer fires once and the deadlines lease moves), PostgreSQL crashes and comes back
(the hall says "try again" and never half-writes; the nodes recover by themselves), and
Redis restarts (clients resynchronise; nothing is lost). One cluster serves the whole module
to keep its start-up cost once; each test leaves every part running and every node up.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import signal
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, WebSocket, expect

from app.domain.event import load_event, save_event
from app.storage.db import Database
from tests.browserkit import chromium, log_in, sign_in
from tests.durabilitykit import all_in_sync
from tests.haproxykit import HallCluster, connections
from tests.livekit import Browserless, Peer, ReconnectingPeer, World, seed_world
from tests.pgkit import PostgresServer
from tests.rediskit import RedisServer, unique_prefix

METRICS_TOKEN = "cluster-test-metrics-token-0123"
# A generous bound for what takes seconds (a node is out after two failed checks, a lease
# expires after ten): it bounds a hang, not speed.
DEADLINE = 45.0
# Conversations of 10 s with the warning at 6 s left: both timers fire within a test, and
# the warning comes 4 s after the accept, later than a kill right after it.
LENGTH, WARNING = 10, 6
ENV = {
    "INZOOMEN_METRICS_TOKEN": METRICS_TOKEN,
    # Nobody's place lapses and no advisor stays in wrap-up for long enough to matter here.
    "INZOOMEN_GRACE_SECONDS": "3600",
    "INZOOMEN_WRAP_UP_SECONDS": "3600",
    "INZOOMEN_REQUESTS_PER_MINUTE": "1000",
}
CALL = re.compile(r"/videogesprek/[A-Za-z0-9_-]{43}$")


# -- the cluster ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    """Not the session's server: this module kills and restarts it."""
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """Not the session's server either: this module restarts it."""
    with RedisServer(directory=tmp_path_factory.mktemp("cluster-redis")) as server:
        yield server


@pytest.fixture(scope="module")
def hall(pg: PostgresServer) -> tuple[str, World]:
    url = pg.database()
    world = asyncio.run(
        seed_world(
            url, conversation_seconds=LENGTH, warning_seconds=WARNING, video_provider="builtin"
        )
    )
    return url, world


@pytest.fixture(scope="module")
def cluster(
    hall: tuple[str, World], redis: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HallCluster]:
    env = {
        **ENV,
        "INZOOMEN_REDIS_URL": redis.url,
        "INZOOMEN_REDIS_PREFIX": unique_prefix("cluster"),
    }
    with HallCluster(hall[0], tmp_path_factory.mktemp("cluster"), count=3, env=env) as running:
        yield running


@pytest.fixture(autouse=True)
def everything_up(cluster: HallCluster, pg: PostgresServer, redis: RedisServer) -> Iterator[None]:
    """Each test starts with the database, Redis and every node running, every node up in
    HAProxy and holding no sockets (a test that failed half-way may have left one down)."""
    if pg.process is None:
        pg.start()
    if redis.process is None:
        redis.start()
    for node in cluster.nodes:
        if node.process is None or node.process.poll() is not None:
            node.process = None
            node.start()
    cluster.balancer.wait_for_states(dict.fromkeys(cluster.names, "UP"), DEADLINE)
    wait_until(lambda: connections(cluster) == [0] * len(cluster.nodes), "no sockets left")
    yield


@pytest.fixture
async def people() -> AsyncIterator[list[Browserless]]:
    made: list[Browserless] = []
    yield made
    for visitor in made:
        await visitor.aclose()


@pytest.fixture
async def peers() -> AsyncIterator[list[ReconnectingPeer | Peer]]:
    """Sockets a test opens; closed at the end, whatever happened."""
    made: list[ReconnectingPeer | Peer] = []
    yield made
    for peer in made:
        # A socket of a node that was killed may end with an error.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(peer.close(), 10)


# -- helpers ---------------------------------------------------------------------------------


def visitor(server: Any, people: list[Browserless]) -> Browserless:
    """A visitor of ``server``: the balancer (it has the ``url`` and ``ws_url`` Browserless
    needs) or one node."""
    made = Browserless(server)
    people.append(made)
    return made


def wait_until(check: Callable[[], Any], what: str, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.1)


async def await_until(check: Callable[[], Any], what: str, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        await asyncio.sleep(0.1)


async def placed(
    cluster: HallCluster, opening: Awaitable[ReconnectingPeer], peers: list[Any]
) -> tuple[ReconnectingPeer, int]:
    """Open a socket through the balancer; it and the index of the node that holds it (the
    one whose count of sockets went up; nothing else connects meanwhile)."""
    before = connections(cluster)
    peer = await opening
    peers.append(peer)
    after = before
    deadline = time.monotonic() + DEADLINE
    while sum(after) != sum(before) + 1:
        assert time.monotonic() < deadline, f"the new socket is not counted: {before} {after}"
        await asyncio.sleep(0.05)
        after = connections(cluster)
    [node] = [i for i, (b, a) in enumerate(zip(before, after, strict=True)) if a > b]
    return peer, node


@contextlib.contextmanager
def only_to(cluster: HallCluster, node: int) -> Iterator[None]:
    """New visitors go to ``node`` alone for the while: the others are drained, as an
    operator drains a node (docs/deploy/haproxy.cfg), and made ready again after."""
    others = [name for i, name in enumerate(cluster.names) if i != node]
    for name in others:
        cluster.balancer.command(f"set server hall/{name} state drain")
    try:
        cluster.balancer.wait_for_states(dict.fromkeys(others, "DRAIN"), DEADLINE)
        yield
    finally:
        for name in others:
            cluster.balancer.command(f"set server hall/{name} state ready")
        cluster.balancer.wait_for_states(dict.fromkeys(others, "UP"), DEADLINE)


def hall_peer(cluster: HallCluster, people: list[Browserless]) -> Awaitable[ReconnectingPeer]:
    return ReconnectingPeer(visitor(cluster.balancer, people), first=0.2, cap=1.0).start()


async def signed_in_candidate(server: Any, people: list[Browserless], key: str) -> Browserless:
    made = visitor(server, people)
    await made.sign_in_candidate(f"Kandidaat {key}", f"{key}@example.nl")
    return made


async def query(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """Rows read from the hall's database as the test sees it (a connection of its own)."""
    db = await Database.open(url, migrate=False)
    try:
        return [dict(row) for row in await db.fetchall(sql, params)]
    finally:
        await db.close()


async def lease_holder_pid(url: str) -> int | None:
    """The process that holds the deadlines lease now (holder ``host:pid:random``)."""
    rows = await query(
        url,
        "SELECT holder FROM leases WHERE name = 'deadlines' AND expires_at > ?",
        (time.time(),),
    )
    return int(rows[0]["holder"].split(":")[1]) if rows else None


def node_of_pid(cluster: HallCluster, pid: int | None) -> int | None:
    for i, node in enumerate(cluster.nodes):
        if node.process is not None and node.process.pid == pid:
            return i
    return None


async def holder_node(cluster: HallCluster, url: str, among: set[int]) -> int:
    """Wait until a node of ``among`` holds the deadlines lease; its index."""
    deadline = time.monotonic() + DEADLINE
    while True:
        node = node_of_pid(cluster, await lease_holder_pid(url))
        if node in among:
            return node
        assert time.monotonic() < deadline, f"no node of {among} took the deadlines lease"
        await asyncio.sleep(0.2)


async def invariants_hold(url: str) -> None:
    """What the hall promises whatever failed: at most one waiting request per candidate,
    at most one running conversation per advisor and per candidate, and a running
    conversation only for an accepted request."""
    for sql in (
        "SELECT candidate_id FROM requests WHERE status = 'waiting' "
        "GROUP BY candidate_id HAVING COUNT(*) > 1",
        "SELECT advisor_id FROM conversations WHERE ended_at IS NULL "
        "GROUP BY advisor_id HAVING COUNT(*) > 1",
        "SELECT candidate_id FROM conversations WHERE ended_at IS NULL "
        "GROUP BY candidate_id HAVING COUNT(*) > 1",
        "SELECT c.id FROM conversations c JOIN requests r ON r.id = c.request_id "
        "WHERE r.status <> 'accepted'",
    ):
        assert await query(url, sql) == [], sql


def pushes_of(peer: ReconnectingPeer, name: str, conversation_id: int) -> int:
    return len(peer.pushed(name, lambda data: data.get("id") == conversation_id))


# -- 1. one hall over three nodes -------------------------------------------------------------


def paused(booth_id: int, state: dict[str, Any]) -> bool:
    return any(
        view["id"] == booth_id and view["advisors"][0]["status"] == "paused"
        for view in state.get("hall", {}).get("booths", [])
    )


@pytest.mark.browser
async def test_a_call_between_two_nodes_in_real_browsers(
    cluster: HallCluster, hall: tuple[str, World]
) -> None:
    url, world = hall
    with logs_shown_on_failure(cluster):
        await a_call_between_two_nodes(cluster, url, world)


async def a_call_between_two_nodes(cluster: HallCluster, url: str, world: World) -> None:
    balancer = cluster.balancer
    async with conversations_of(url, 900, 120), chromium() as browser:
        advisor = await (await browser.new_context()).new_page()
        candidate = await (await browser.new_context()).new_page()
        for who, page in (("advisor", advisor), ("candidate", candidate)):
            watch(page, who)

        # The advisor's console on node 1, the candidate's request page on node 2.
        async def advisor_console() -> None:
            await log_in(advisor, balancer, "a1@test.example")  # type: ignore[arg-type]
            await expect(advisor.get_by_test_id("queue-item")).to_have_count(0)

        async def candidate_request() -> None:
            name, email = "Mo Cluster", f"mo-{uuid.uuid4().hex[:6]}@example.nl"
            path = f"/inzoomen/{world.booth_a}"
            await sign_in(candidate, balancer, name, email, path)  # type: ignore[arg-type]
            await candidate.get_by_role("button", name="Inzoomen").click()
            await expect(candidate).to_have_url(re.compile("/mijn-verzoek$"))

        await on_node(cluster, 0, advisor_console(), [1, 0, 0])
        await on_node(cluster, 1, candidate_request(), [1, 1, 0])

        # The request made on node 2 shows in the console on node 1; the accept there takes
        # both into the call page.
        await expect(advisor.get_by_test_id("queue-item")).to_have_count(1)
        await advisor.get_by_test_id("queue-item").get_by_test_id("accept").click()
        await expect(advisor).to_have_url(CALL)
        await expect(candidate).to_have_url(CALL)
        assert advisor.url == candidate.url
        # Wherever the balancer put the call pages, they are put on nodes 1 and 2 again:
        # the candidate leaves, the advisor reloads, the candidate comes back.
        call = candidate.url
        await candidate.goto("about:blank")
        await await_until(lambda: sum(connections(cluster)) == 1, "the advisor's socket alone")
        await on_node(cluster, 0, advisor.reload(), [1, 0, 0])
        await on_node(cluster, 1, candidate.goto(call), [1, 1, 0])

        # One shared countdown, shown on both sides and running.
        for page in (advisor, candidate):
            await expect(page.get_by_test_id("countdown")).to_be_visible()
        first = {id(page): await remaining(page) for page in (advisor, candidate)}
        assert all(0 < left <= 900 for left in first.values()), first
        assert abs(first[id(advisor)] - first[id(candidate)]) <= 2, first
        for page in (advisor, candidate):
            deadline = time.monotonic() + DEADLINE
            while await remaining(page) >= first[id(page)]:
                assert time.monotonic() < deadline, f"the countdown on {page.url} stands still"
                await asyncio.sleep(0.2)
        # The two sides, on two nodes, reach each other (signalling through Redis).
        for page in (advisor, candidate):
            await expect(page.get_by_test_id("call")).to_have_attribute(
                "data-connection", "connected", timeout=30_000
            )

        # The end ends it for both.
        await advisor.get_by_test_id("end-conversation").click()
        for page in (advisor, candidate):
            await expect(page.get_by_test_id("call-ended")).to_be_visible()
    # Free for whatever comes next, not wrapping up for an hour.
    advisor_again = Browserless(balancer)  # type: ignore[arg-type]
    try:
        await advisor_again.log_in("a1@test.example")
        console = await advisor_again.socket()
        assert (await console.send("advisor.status", {"status": "available"}))["ok"]
        await console.close()
    finally:
        await advisor_again.aclose()


async def test_a_change_on_any_node_reaches_the_clients_of_every_node(
    cluster: HallCluster,
    hall: tuple[str, World],
    people: list[Browserless],
    peers: list[Any],
) -> None:
    world = hall[1]
    # Six hall visitors through the balancer: two on each node.
    onlookers = [(await placed(cluster, hall_peer(cluster, people), peers))[0] for _ in range(6)]
    assert connections(cluster) == [2, 2, 2]
    # The advisor of booth B pauses and comes back through each node in turn (straight to
    # it): every change reaches the onlookers of all three nodes.
    for node in cluster.nodes:
        advisor = visitor(node, people)
        await advisor.log_in("b1@test.example")
        console = await advisor.socket()
        assert (await console.send("advisor.status", {"status": "paused"}))["ok"]
        await await_until(
            lambda: all(paused(world.booth_b, p.state) for p in onlookers),
            f"the pause through {node.url} everywhere",
        )
        assert (await console.send("advisor.status", {"status": "available"}))["ok"]
        await await_until(
            lambda: not any(paused(world.booth_b, p.state) for p in onlookers),
            f"the return through {node.url} everywhere",
        )
        await console.close()
    # A request made on one node is in the queue of an advisor on another, at once.
    candidate = await signed_in_candidate(cluster.nodes[0], people, f"een-{uuid.uuid4().hex[:6]}")
    advisor = visitor(cluster.nodes[2], people)
    await advisor.log_in("b1@test.example")
    me, console = await candidate.socket(), await advisor.socket()
    peers += [me, console]
    reply = await me.send("request.create", {"booth_id": world.booth_b, "client_key": "k1"})
    assert reply["ok"], reply
    request_id = reply["data"]["request_id"]
    await console.next_event(
        "console.state",
        where=lambda d: any(r["request_id"] == request_id for r in d["queue"]),
        timeout=DEADLINE,
    )
    assert (await me.send("request.cancel", {"request_id": request_id}))["ok"]
    await console.next_event(
        "console.state",
        where=lambda d: all(r["request_id"] != request_id for r in d["queue"]),
        timeout=DEADLINE,
    )
    assert all(await asyncio.gather(*(p.in_sync() for p in onlookers)))


# -- 2. a node dies in the middle of the event -------------------------------------------------


async def test_a_node_killed_mid_event_loses_nothing_and_every_timer_fires_once(
    cluster: HallCluster,
    hall: tuple[str, World],
    people: list[Browserless],
    peers: list[Any],
) -> None:
    url, world = hall
    # The node that handles the deadlines is the one killed, on purpose.
    victim = await holder_node(cluster, url, set(range(len(cluster.nodes))))
    others = [i for i in range(len(cluster.nodes)) if i != victim]
    tag = uuid.uuid4().hex[:6]

    async def candidate_peer(name: str) -> ReconnectingPeer:
        made = await signed_in_candidate(cluster.balancer, people, f"{name}-{tag}")
        return await ReconnectingPeer(made, first=0.2, cap=1.0).start()

    async def wait_at_booth_b(peer: ReconnectingPeer, key: str) -> tuple[ReconnectingPeer, int]:
        reply = await peer.send("request.create", {"booth_id": world.booth_b, "client_key": key})
        assert reply["ok"], reply
        return peer, reply["data"]["request_id"]

    advisor = visitor(cluster.balancer, people)
    await advisor.log_in("a1@test.example")
    placed_on: dict[int, list[ReconnectingPeer]] = {i: [] for i in range(len(cluster.nodes))}

    async def place(opening: Awaitable[ReconnectingPeer]) -> ReconnectingPeer:
        peer, node = await placed(cluster, opening, peers)
        placed_on[node].append(peer)
        return peer

    # On the node to be killed: the candidate and the advisor of the conversation, a hall
    # onlooker, two candidates waiting at booth B (nobody there takes them) and two who
    # will ask as it dies. The same on the other nodes, except the conversation.
    waiting: list[tuple[ReconnectingPeer, int]] = []
    latecomers: list[ReconnectingPeer] = []
    with only_to(cluster, victim):
        me = await place(candidate_peer("gesprek"))
        console = await place(ReconnectingPeer(advisor, first=0.2, cap=1.0).start())
        await place(hall_peer(cluster, people))
        for n in range(2):
            waiting.append(await wait_at_booth_b(await place(candidate_peer(f"wacht{n}")), "w"))
            latecomers.append(await place(candidate_peer(f"laat{n}")))
    assert len(placed_on[victim]) == 7, {i: len(p) for i, p in placed_on.items()}
    for n in range(2, 6):
        await place(hall_peer(cluster, people))
        waiting.append(await wait_at_booth_b(await place(candidate_peer(f"wacht{n}")), "w"))
        latecomers.append(await place(candidate_peer(f"laat{n}")))
    assert all(placed_on[i] for i in others), {i: len(p) for i, p in placed_on.items()}

    # The conversation starts; its warning and end come after the kill.
    reply = await me.send("request.create", {"booth_id": world.booth_a, "client_key": "gesprek"})
    assert reply["ok"], reply
    request_id = reply["data"]["request_id"]
    await await_until(
        lambda: any(r["request_id"] == request_id for r in console.state["console"]["queue"]),
        "the request in the advisor's queue",
    )
    accepted = await console.send("request.accept", {"request_id": request_id})
    assert accepted["ok"], accepted
    conversation_id = accepted["data"]["conversation_id"]
    # Requests on the wire as the node dies: those answered ok must be kept.
    in_flight = [
        asyncio.create_task(
            peer.send("request.create", {"booth_id": world.booth_b, "client_key": "laat"})
        )
        for peer in latecomers
    ]
    await asyncio.sleep(0)
    before = {"me": me.state["me"]["rev"], "console": console.state["console"]["rev"]}
    cluster.nodes[victim].stop(signal.SIGKILL)
    [row] = await query(
        url, "SELECT warned_at, time_up_at FROM conversations WHERE id = ?", (conversation_id,)
    )
    assert row == {"warned_at": None, "time_up_at": None}, "a timer fired before the kill"
    results = await asyncio.gather(*in_flight, return_exceptions=True)

    # HAProxy takes the node out; its clients come back through the balancer, to the
    # others, and get the whole state again; the others kept their connection.
    cluster.balancer.wait_for_states(
        {cluster.names[victim]: "DOWN", **{cluster.names[i]: "UP" for i in others}}, DEADLINE
    )
    everyone = [p for group in placed_on.values() for p in group]
    await all_in_sync(everyone, within=DEADLINE)
    moved = placed_on[victim]
    assert all(p.connects == 2 for p in moved), [p.connects for p in moved]
    assert all(p.connects == 1 for i in others for p in placed_on[i])
    assert sum(connections(cluster, others)) == len(everyone)
    # A revision never goes back: what they hold now is no older than what they had.
    assert me.state["me"]["rev"] >= before["me"]
    assert console.state["console"]["rev"] >= before["console"]
    assert me.state["me"]["conversation"]["id"] == conversation_id
    assert console.state["console"]["conversation"]["id"] == conversation_id

    # The deadlines lease moves to a node that is still there, by itself.
    await holder_node(cluster, url, set(others))

    # Both timers fire, once: each reaches the candidate and the advisor once, and is
    # recorded once.
    await await_until(
        lambda: all(
            pushes_of(p, "conversation.time_up", conversation_id) >= 1 for p in (me, console)
        ),
        "the time up after the kill",
        timeout=DEADLINE + LENGTH,
    )
    # Anything sent twice would come at about the same moment; give it that moment.
    await asyncio.sleep(2.0)
    for peer in (me, console):
        assert pushes_of(peer, "conversation.warning", conversation_id) == 1
        assert pushes_of(peer, "conversation.time_up", conversation_id) == 1
    [row] = await query(
        url,
        "SELECT warned_at, time_up_at, ends_at FROM conversations WHERE id = ?",
        (conversation_id,),
    )
    assert row["warned_at"] is not None and row["time_up_at"] is not None
    assert row["warned_at"] >= row["ends_at"] - WARNING and row["time_up_at"] >= row["ends_at"]

    # Nothing acknowledged is lost: every request answered ok is waiting in the database.
    for peer, number in waiting:
        [stored] = await query(url, "SELECT status FROM requests WHERE id = ?", (number,))
        assert stored["status"] == "waiting"
        assert peer.state["me"]["request"]["id"] == number
    acknowledged = [r for r in results if isinstance(r, dict) and r.get("ok")]
    for reply in acknowledged:
        [stored] = await query(
            url, "SELECT status FROM requests WHERE id = ?", (reply["data"]["request_id"],)
        )
        assert stored["status"] == "waiting"
    # Those cut off before their answer send the same request again (same key): each
    # candidate ends up with exactly one, whether or not the first got through.
    for peer, result in zip(latecomers, results, strict=True):
        again = await peer.send("request.create", {"booth_id": world.booth_b, "client_key": "laat"})
        assert again["ok"], again
        if isinstance(result, dict) and result.get("ok"):
            assert again["data"] == {**result["data"], "created": False}
    await invariants_hold(url)

    # Clean up for the next tests: the conversation ends, the advisor is free, the
    # requests are withdrawn; the node comes back and HAProxy puts it in again.
    assert (await console.send("conversation.end", {"conversation_id": conversation_id}))["ok"]
    assert (await console.send("advisor.status", {"status": "available"}))["ok"]
    for peer in [w[0] for w in waiting] + latecomers:
        mine = peer.state["me"]["request"]
        if mine is not None and mine["status"] == "waiting":
            assert (await peer.send("request.cancel", {"request_id": mine["id"]}))["ok"]
    cluster.nodes[victim].process = None
    cluster.nodes[victim].start()
    cluster.balancer.wait_for_states({cluster.names[victim]: "UP"}, DEADLINE)


# -- 3. the database goes away and comes back ------------------------------------------------

TRY_AGAIN = "probeer het over een paar seconden opnieuw"


async def test_while_postgresql_is_down_the_hall_says_try_again_and_recovers_by_itself(
    cluster: HallCluster,
    hall: tuple[str, World],
    pg: PostgresServer,
    people: list[Browserless],
    peers: list[Any],
) -> None:
    url, world = hall
    tag = uuid.uuid4().hex[:6]
    # A candidate straight on node 1 (HAProxy cuts the sockets of the nodes it takes out,
    # so only a direct socket stays open through the outage), and onlookers through the
    # balancer.
    direct = await signed_in_candidate(cluster.nodes[0], people, f"direct-{tag}")
    me = await direct.socket()
    peers.append(me)
    onlookers = [(await placed(cluster, hall_peer(cluster, people), peers))[0] for _ in range(3)]
    refused_key = f"refused-{tag}"

    pg.stop(signal.SIGKILL)  # a crash
    try:
        # An action: refused with "try again", not "something went wrong".
        reply = await me.send(
            "request.create",
            {"booth_id": world.booth_a, "client_key": refused_key},
            timeout=DEADLINE,
        )
        assert not reply["ok"], reply
        assert reply["error"]["code"] == "server.unavailable", reply
        # A page, straight from a node: the hall's own 503 page with "try again".
        page = await direct.http.get("/mijn-verzoek")
        assert page.status_code == 503, page.text
        assert "Even geduld" in page.text and TRY_AGAIN in page.text
        assert page.headers["retry-after"]
        # Every node's /readyz fails, so HAProxy takes them all out of `hall`; with no node
        # ready it sends visitors to the nodes that are alive (`hall_alive`), and a page
        # through the balancer is the hall's own "try again" page, not the balancer's.
        cluster.balancer.wait_for_states(dict.fromkeys(cluster.names, "DOWN"), DEADLINE)
        for node in cluster.nodes:
            assert httpx.get(f"{node.url}/readyz", timeout=10).status_code == 503
        async with httpx.AsyncClient(timeout=10) as client:
            through = await client.get(f"{cluster.balancer.url}/")
        assert through.status_code == 503
        assert "Even geduld" in through.text and TRY_AGAIN in through.text
        assert "No server is available" not in through.text
    finally:
        pg.start()  # the same port and data, after crash recovery

    # The nodes come back by themselves: ready, in again, and the same socket's next
    # action goes through; nothing of the refused one was written.
    cluster.balancer.wait_for_states(dict.fromkeys(cluster.names, "UP"), DEADLINE)
    for node in cluster.nodes:
        assert httpx.get(f"{node.url}/readyz", timeout=10).status_code == 200
    rows = await query(url, "SELECT id FROM requests WHERE client_key = ?", (refused_key,))
    assert rows == []
    reply = await me.send("request.create", {"booth_id": world.booth_a, "client_key": "after"})
    assert reply["ok"], reply
    request_id = reply["data"]["request_id"]
    assert (await direct.http.get("/mijn-verzoek")).status_code == 200
    # The onlookers the balancer cut reconnect and are in sync, and see the new request.
    await all_in_sync(onlookers, within=DEADLINE)
    assert all(p.connects >= 2 for p in onlookers), [p.connects for p in onlookers]
    # A newcomer through the balancer acts as usual.
    newcomer = await signed_in_candidate(cluster.balancer, people, f"nieuw-{tag}")
    socket = await newcomer.socket()
    peers.append(socket)
    second = await socket.send("request.create", {"booth_id": world.booth_a, "client_key": "n"})
    assert second["ok"], second
    await invariants_hold(url)
    assert (await me.send("request.cancel", {"request_id": request_id}))["ok"]
    cancel = {"request_id": second["data"]["request_id"]}
    assert (await socket.send("request.cancel", cancel))["ok"]


# -- 4. Redis goes away and comes back -----------------------------------------------------------


async def test_after_a_redis_restart_clients_resync_and_nothing_is_lost(
    cluster: HallCluster,
    hall: tuple[str, World],
    redis: RedisServer,
    people: list[Browserless],
    peers: list[Any],
) -> None:
    world = hall[1]
    # The advisor on node 1 and onlookers on nodes 2 and 3, straight (they stay connected
    # to their node while HAProxy has it out), and onlookers through the balancer.
    advisor = visitor(cluster.nodes[0], people)
    await advisor.log_in("b1@test.example")
    console = await ReconnectingPeer(advisor, first=0.2, cap=1.0).start()
    peers.append(console)
    direct = []
    for node in cluster.nodes[1:]:
        peer = await ReconnectingPeer(visitor(node, people), first=0.2, cap=1.0).start()
        peers.append(peer)
        direct.append(peer)
    through = [(await placed(cluster, hall_peer(cluster, people), peers))[0] for _ in range(3)]
    onlookers = direct + through

    redis.stop()
    try:
        # Without Redis no node is ready: HAProxy takes them all out.
        cluster.balancer.wait_for_states(dict.fromkeys(cluster.names, "DOWN"), DEADLINE)
        # What is done meanwhile is stored (the database answers); only its news is late.
        await console.wait_connected(DEADLINE)
        reply = await console.send("advisor.status", {"status": "paused"})
        assert reply["ok"], reply
    finally:
        redis.start()  # the same port, empty

    # Each node finds it missed news and has its clients resynchronise: the onlookers of
    # the other nodes see the pause, the ones through the balancer once it lets them in.
    cluster.balancer.wait_for_states(dict.fromkeys(cluster.names, "UP"), DEADLINE)
    await await_until(
        lambda: all(paused(world.booth_b, p.state) for p in onlookers), "the pause everywhere"
    )
    assert all(p.connects >= 2 for p in direct), [p.connects for p in direct]
    await all_in_sync([console, *onlookers], within=DEADLINE)
    # News flows again between the nodes, without reconnecting.
    connects = [p.connects for p in onlookers]
    await console.wait_connected(DEADLINE)
    assert (await console.send("advisor.status", {"status": "available"}))["ok"]
    await await_until(
        lambda: not any(paused(world.booth_b, p.state) for p in onlookers), "the return everywhere"
    )
    assert [p.connects for p in onlookers] == connects


# -- 5. the call in real browsers, the two sides on different nodes ---------------------------


@contextlib.asynccontextmanager
async def conversations_of(url: str, seconds: int, warning: int) -> AsyncIterator[None]:
    """The event's conversation length for the while (read at each accept), then back."""
    db = await Database.open(url, migrate=False)
    try:
        event = await load_event(db)
        async with db.transaction() as tx:
            longer = dataclasses.replace(
                event, conversation_seconds=seconds, warning_seconds=warning
            )
            await save_event(tx, longer)
        try:
            yield
        finally:
            async with db.transaction() as tx:
                await save_event(tx, event)
    finally:
        await db.close()


def watch(page: Page, who: str) -> None:
    """What a page logs, loads and hears on its socket, with the time: shown with a failure,
    it tells which push reached the page and which page load did not end."""

    def say(text: str) -> None:
        print(f"{time.strftime('%H:%M:%S')}.{int(time.time() * 1000) % 1000:03d} [{who}] {text}")

    def frames(socket: WebSocket) -> None:
        say(f"socket {socket.url} opened")
        socket.on("framereceived", lambda payload: say(f"heard {str(payload)[:240]}"))
        socket.on("close", lambda _: say(f"socket {socket.url} closed"))

    page.on("console", lambda message: say(f"console {message.text}"))
    page.on("websocket", frames)
    page.on("request", lambda r: say(f"{r.method} {r.url}") if r.is_navigation_request() else None)
    page.on(
        "response",
        lambda r: say(f"{r.status} {r.url}") if r.request.is_navigation_request() else None,
    )
    page.on("requestfailed", lambda r: say(f"failed {r.url}: {r.failure}"))


@contextlib.contextmanager
def logs_shown_on_failure(cluster: HallCluster) -> Iterator[None]:
    """With a failure, what every node and the balancer logged meanwhile (their files are
    gone by the time anyone reads the report)."""
    paths = [node.log_path for node in cluster.nodes] + [cluster.balancer.log_path]
    offsets = {path: path.stat().st_size if path.exists() else 0 for path in paths}
    try:
        yield
    except BaseException:
        for path in paths:
            text = path.read_bytes()[offsets[path] :].decode(errors="replace")
            quiet = ("/readyz", "/healthz", "/metrics", "/static/")
            lines = [line for line in text.splitlines() if not any(q in line for q in quiet)]
            print(f"--- {path.name} ---", *lines[-150:], sep="\n")
        raise


async def remaining(page: Page) -> int:
    value = await page.get_by_test_id("countdown").get_attribute("data-remaining")
    assert value is not None
    return int(value)


async def on_node(
    cluster: HallCluster, node: int, page_load: Awaitable[Any], expected: list[int]
) -> None:
    """Load a page while only ``node`` takes new visitors, until the nodes hold ``expected``
    sockets (the page's among them)."""
    with only_to(cluster, node):
        await page_load
        await await_until(lambda: connections(cluster) == expected, f"sockets {expected}")
