"""The push path's contract, on both of its paths: a client that stops reading is closed with
1013 (try again later) instead of holding the server's memory.

The fast path is ``inzoomen serve``, whose uvicorn protocol writes frames straight to the
transport (app/web/push_transport.py). The fallback is the same app under uvicorn's own WebSocket
protocol, as any other ASGI server would run it (a bounded queue and a task per connection,
app/web/socket.py). The slow reader is a real client whose socket is not read while the advisor
sends it large call signals; then it reads everything it was sent, up to the close frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from app.domain.video import CALL_PATH
from app.web.push_transport import push_protocol
from tests.livekit import Browserless, LiveServer, Peer, World, seed_world

TOKEN = "contract-metrics-token-0123456789"
ENV = {
    # The advisor sends far faster than a person would; nothing else is measured here.
    "INZOOMEN_WS_RATE": "100000",
    "INZOOMEN_WS_BURST": "100000",
    "INZOOMEN_WS_USER_RATE": "100000",
    "INZOOMEN_WS_USER_BURST": "100000",
    "INZOOMEN_METRICS_TOKEN": TOKEN,
}
# An offer close to the largest the server passes on (calls.SDP_MAX).
SDP = "v=0\r\n" + "a=x-filler:" + "x" * 23_000 + "\r\n"
BATCH = 10
MOST = 1200


class FallbackServer(LiveServer):
    """The hall's app factory under plain uvicorn with its own WebSocket protocol."""

    def command(self) -> list[str]:
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "app.web.server:app_from_environment",
        ]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--ws", "websockets-sansio"]
        return [*command, "--no-access-log"]


async def call_scene(
    server: LiveServer, world: World, people: list[Browserless]
) -> tuple[Browserless, Peer, str]:
    """A running conversation with the built-in call: the candidate (signed in, no socket
    yet), the advisor's socket, and the call's token."""
    candidate, advisor = Browserless(server), Browserless(server)
    people += [candidate, advisor]
    await candidate.sign_in_candidate("Sanne de Vries", "sanne@example.nl")
    await advisor.log_in("a1@test.example")
    c, a = await candidate.socket(), await advisor.socket()
    made = await c.send("request.create", {"booth_id": world.booth_a, "client_key": "k1"})
    assert made["ok"], made
    taken = await a.send("request.accept", {"request_id": made["data"]["request_id"]})
    assert taken["ok"], taken
    mine = await c.next_event("me.state", where=lambda d: d.get("conversation"))
    await c.close()
    return candidate, a, mine["conversation"]["video_url"][len(CALL_PATH) :]


async def stalled_socket(server: LiveServer, visitor: Browserless) -> ClientConnection:
    """A connection whose owner reads nothing: a small receive buffer, and websockets stops
    reading the socket once one message waits."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
    return await connect(
        server.ws_url,
        sock=sock,
        origin=server.url,  # type: ignore[arg-type]
        additional_headers={"Cookie": visitor.cookie_header()},
        compression=None,
        max_queue=1,
        ping_interval=None,
    )


async def dropped(server: LiveServer) -> float:
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
        page = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert page.status_code == 200, page.text
    for line in page.text.splitlines():
        if line.startswith("inzoomen_slow_clients_dropped_total "):
            return float(line.split()[1])
    raise AssertionError("no inzoomen_slow_clients_dropped_total in /metrics")


async def read_to_the_end(slow: ClientConnection) -> tuple[int, int | None]:
    """Everything the server sent, then how the connection ended."""
    received = 0
    with contextlib.suppress(ConnectionClosed):
        while True:
            await asyncio.wait_for(slow.recv(), timeout=30)
            received += 1
    assert slow.close_code is not None or slow.protocol.close_rcvd is not None
    code = slow.protocol.close_rcvd.code if slow.protocol.close_rcvd is not None else None
    return received, code


@pytest.fixture(params=["fast", "fallback"])
async def hall(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[str, LiveServer, World]]:
    path = tmp_path / "push.db"
    world = await seed_world(path, video_provider="builtin")
    kind = str(request.param)
    server_class = LiveServer if kind == "fast" else FallbackServer
    server = server_class(path, tmp_path / f"{kind}.log", env={**os.environ, **ENV})
    server.start()
    try:
        yield kind, server, world
    finally:
        server.stop()


async def test_a_client_that_stops_reading_is_closed_with_1013(
    hall: tuple[str, LiveServer, World], people: list[Browserless]
) -> None:
    kind, server, world = hall
    candidate, advisor, token = await call_scene(server, world, people)
    slow = await stalled_socket(server, candidate)
    sent = 0
    while sent < MOST:
        replies = await asyncio.gather(
            *(
                advisor.send(
                    "call.signal",
                    {"token": token, "kind": "offer", "peer": f"adv{sent + i}", "sdp": SDP},
                )
                for i in range(BATCH)
            )
        )
        assert all(reply["ok"] for reply in replies), replies[0]
        sent += BATCH
        # The fast path drops the client as soon as it falls behind (and cuts it off two
        # seconds later, so read at once); the fallback closes it when its queue overflows,
        # which it can only say once the client reads again: send well past that.
        if kind == "fast" and await dropped(server) >= 1:
            break
    received, code = await read_to_the_end(slow)
    assert code == 1013, f"{kind}: closed with {code} after {received} of {sent} messages"
    assert received < sent, f"{kind}: every message arrived; the client was never behind"
    assert await dropped(server) == 1
    # The server is fine: the advisor's connection still works, and the candidate gets a
    # fresh state on reconnecting.
    again = await candidate.socket()
    assert again.state is not None
    assert (await advisor.send("session.sync", {}))["ok"]
    await again.close()


def test_the_fast_path_is_offered_by_the_locked_uvicorn() -> None:
    """The lock's uvicorn carries the fast path; a uvicorn that changed the internals it uses
    would be served by the fallback above, not crash."""
    assert push_protocol() is not None
