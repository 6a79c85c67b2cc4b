"""Several hall nodes behind Debian's HAProxy running the very configuration in
docs/deploy/haproxy.cfg.

Three ``inzoomen serve`` nodes on one database share live updates through a real Redis; the
balancer in front of them must spread the live WebSockets, pass what the nodes need to know
about the visitor (and nothing a visitor made up), take a node out when it stops answering
its readiness check, cut the sockets it held so their clients reconnect to the others at
once, and put it back when it answers again. The cluster is shared by the tests of this
module: each test leaves every node running and up.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.haproxykit import HallCluster, connections
from tests.livekit import Browserless, Peer, ReconnectingPeer, World, seed_world
from tests.rediskit import RedisServer, unique_prefix

METRICS_TOKEN = "balancer-test-metrics-token-0123"
# A generous bound for what takes a second or two (a node is out after two failed checks).
DEADLINE = 30.0


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, World]:
    path = tmp_path_factory.mktemp("balancer-db") / "hall.db"
    return path, asyncio.run(seed_world(path))


@pytest.fixture(scope="module")
def cluster(
    hall: tuple[Path, World], redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HallCluster]:
    env = {
        "INZOOMEN_REDIS_URL": redis_server.url,
        "INZOOMEN_REDIS_PREFIX": unique_prefix("balancer"),
        "INZOOMEN_METRICS_TOKEN": METRICS_TOKEN,
    }
    with HallCluster(hall[0], tmp_path_factory.mktemp("balancer"), count=3, env=env) as running:
        yield running


@pytest.fixture(autouse=True)
def every_node_up(cluster: HallCluster) -> Iterator[None]:
    """Each test starts with every node running, up in HAProxy and holding no sockets (a
    test that failed half-way may have left one stopped or frozen)."""
    for node in cluster.nodes:
        if node.process is not None and node.process.poll() is None:
            os.kill(node.process.pid, signal.SIGCONT)
        else:
            node.process = None
            node.start()
    cluster.balancer.wait_for_states(dict.fromkeys(cluster.names, "UP"), DEADLINE)
    wait_until(lambda: connections(cluster) == [0] * len(cluster.nodes), "no sockets left")
    yield


@pytest.fixture
async def people(cluster: HallCluster) -> AsyncIterator[list[Browserless]]:
    """Visitors of the balancer; closed at the end."""
    made: list[Browserless] = []
    yield made
    for visitor in made:
        await visitor.aclose()


def visitor(cluster: HallCluster, people: list[Browserless]) -> Browserless:
    # Browserless only needs the ``url`` and ``ws_url`` of what it talks to.
    made = Browserless(cluster.balancer)  # type: ignore[arg-type]
    people.append(made)
    return made


def wait_until(check: Any, what: str, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.1)


async def await_until(check: Any, what: str, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        await asyncio.sleep(0.1)


def paused(booth_id: int, state: dict[str, Any]) -> bool:
    booths = state.get("hall", {}).get("booths", [])
    return any(
        view["id"] == booth_id and view["advisors"][0]["status"] == "paused" for view in booths
    )


async def test_pages_and_sockets_go_through_and_spread_over_the_nodes(
    cluster: HallCluster, hall: tuple[Path, World], people: list[Browserless]
) -> None:
    world = hall[1]
    guest = visitor(cluster, people)
    page = await guest.http.get("/")
    assert page.status_code == 200
    assert "Zorggroep A" in page.text
    # Nine visitors open the hall one after the other: the node with the fewest sockets
    # gets each next one.
    peers = [await ReconnectingPeer(visitor(cluster, people)).start() for _ in range(9)]
    try:
        counts = connections(cluster)
        assert sum(counts) == 9, counts
        assert min(counts) >= 2, f"not spread over the nodes: {counts}"
        # An advisor's pause, through whichever node, reaches the clients of every node.
        advisor = visitor(cluster, people)
        await advisor.log_in("b1@test.example")
        console = await advisor.socket()
        assert (await console.send("advisor.status", {"status": "paused"}))["ok"]
        await await_until(
            lambda: all(paused(world.booth_b, p.state) for p in peers), "the pause everywhere"
        )
        assert (await console.send("advisor.status", {"status": "available"}))["ok"]
        await console.close()
    finally:
        for peer in peers:
            await peer.close()


async def test_the_nodes_see_the_visitor_and_not_what_the_visitor_claims(
    cluster: HallCluster,
) -> None:
    """The nodes trust 127.0.0.1, where HAProxy connects from; the visitor comes from
    127.0.0.3 and claims another address and https."""
    claims = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.3")
    async with httpx.AsyncClient(transport=transport, timeout=10) as client:
        through = [
            await client.get(f"{cluster.balancer.url}/?through={i}", headers=claims)
            for i in range(len(cluster.nodes))
        ]
    # Straight to a node, from the address it trusts, the same claims are believed: the
    # checks below can tell.
    async with httpx.AsyncClient(timeout=10) as client:
        direct = await client.get(f"{cluster.nodes[0].url}/?direct=1", headers=claims)
    assert all(response.status_code == 200 for response in [*through, direct])
    assert "strict-transport-security" in direct.headers
    assert not any("strict-transport-security" in r.headers for r in through)
    logs = "".join(node.log() for node in cluster.nodes)
    assert '203.0.113.9:0 - "GET /?direct=1 ' in logs
    for i in range(len(cluster.nodes)):
        assert f'127.0.0.3:0 - "GET /?through={i} ' in logs


async def test_a_killed_node_is_taken_out_and_its_clients_move_to_the_others(
    cluster: HallCluster, people: list[Browserless]
) -> None:
    balancer = cluster.balancer
    peers = [
        await ReconnectingPeer(visitor(cluster, people), first=0.2, cap=1.0).start()
        for _ in range(6)
    ]
    try:
        held = connections(cluster)
        assert held == [2, 2, 2], held
        cluster.nodes[1].stop(signal.SIGKILL)
        balancer.wait_for_states({"node1": "UP", "node2": "DOWN", "node3": "UP"}, DEADLINE)
        # The two clients of the killed node reconnected through the balancer, to the
        # others, and got the whole state again; the rest kept their connection.
        await await_until(
            lambda: (
                sum(p.connects for p in peers) >= 8 and all(p.connected.is_set() for p in peers)
            ),
            "the killed node's clients back",
        )
        moved = [p for p in peers if p.connects == 2]
        assert len(moved) == 2, [p.connects for p in peers]
        assert all("hall" in p.state and p.welcome for p in moved)
        assert all(p.connects == 1 for p in peers if p not in moved)
        assert connections(cluster, [0, 2]) == [3, 3]
        # New visitors go to the nodes that are up.
        newcomers = [await visitor(cluster, people).socket() for _ in range(2)]
        assert sum(connections(cluster, [0, 2])) == 8
        # Started again, it answers its checks and is back in; having no sockets, it gets
        # the next visitor.
        cluster.nodes[1].start()
        balancer.wait_for_states({"node2": "UP"}, DEADLINE)
        newcomers.append(await visitor(cluster, people).socket())
        assert connections(cluster) == [4, 1, 4]
        for socket in newcomers:
            await socket.close()
    finally:
        for peer in peers:
            await peer.close()


async def quiet_socket(cluster: HallCluster) -> Peer:
    """A hall socket through the balancer that never pings: only the balancer (or the node)
    can end it, however long the node stays silent."""
    balancer = cluster.balancer
    connection = await connect(
        balancer.ws_url,
        origin=balancer.url,  # type: ignore[arg-type]
        ping_interval=None,
        compression=None,
    )
    peer = Peer(connection)
    peer.welcome = await peer.next_event("session.welcome")
    peer.state = await peer.next_event("session.state")
    return peer


async def test_a_frozen_node_is_taken_out_and_its_sockets_are_cut(
    cluster: HallCluster,
) -> None:
    """A node that hangs keeps its TCP connections open; only HAProxy's
    ``on-marked-down shutdown-sessions`` frees its clients before the hour's tunnel timeout."""
    balancer = cluster.balancer
    peers = [await quiet_socket(cluster) for _ in range(6)]
    frozen = cluster.nodes[2]
    assert frozen.process is not None
    assert connections(cluster) == [2, 2, 2]
    os.kill(frozen.process.pid, signal.SIGSTOP)
    try:
        balancer.wait_for_states({"node1": "UP", "node2": "UP", "node3": "DOWN"}, DEADLINE)
        # Still frozen: whatever closes its two sockets is the balancer.
        await await_until(
            lambda: sum(p.closed is not None for p in peers) == 2, "the frozen node's sockets cut"
        )
        assert frozen.process.poll() is None
        # Their clients come back through the balancer, to the nodes that answer.
        for i, peer in enumerate(peers):
            if peer.closed is not None:
                peers[i] = await quiet_socket(cluster)
        assert all(p.closed is None for p in peers)
        assert connections(cluster, [0, 1]) == [3, 3]
    finally:
        os.kill(frozen.process.pid, signal.SIGCONT)
    balancer.wait_for_states({"node3": "UP"}, DEADLINE)
    for peer in peers:
        await peer.close()
