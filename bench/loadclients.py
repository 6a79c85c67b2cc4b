"""One load-client process for the fan-out benchmark.

Run by ``bench/fanout.py`` (not by hand): it opens ``--count`` hall connections to one
server, waits on each for ``session.welcome`` and ``session.state``, prints one JSON line
``{"type": "ready", ...}`` on stdout, and from then on records, per connection, when each
hall frame (``hall.delta`` from ours, ``hall.booth`` from the baseline) carrying a new status
of the watched advisor arrives. The status' ``since`` (the server's clock at the change)
identifies the change.

It stops when a line ``stop`` arrives on stdin or after ``--max-seconds``, whichever comes
first, writes what it saw as JSON to ``--out`` and exits without closing the connections
politely (the server sees them go at once).

``--lean``: instead of the ``websockets`` client, a minimal one on a plain asyncio protocol
(the HTTP upgrade, unmasked frames in, pong and close answered). It records the same way
with less CPU per frame (on the 2-core test machine 13-25 us instead of 15-35 us; most of
the rest is the kernel's loopback and asyncio's per-read work), so that the clients keep up
a little longer when the server is pushed hard.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect

HALL_FRAMES = ('{"event":"hall.booth"', '{"event":"hall.delta"')


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


class Seen:
    """What one connection has seen of the watched advisor."""

    __slots__ = ("last", "receipts", "since")

    def __init__(self) -> None:
        self.last = float("-inf")
        self.since: set[float] = set()
        # [since (the change's server time), receipt time] in arrival order
        self.receipts: list[list[float]] = []


class Recorder:
    """What all connections of this process received."""

    def __init__(self, advisor_id: int) -> None:
        self.advisor_id = advisor_id
        # per connection: [since (the change's server time), receipt time] in arrival order
        self.receipts: list[list[list[float]]] = []
        self.out_of_order = 0
        self.closed_early = 0
        self.recording = True

    def since_of(self, text: str) -> float | None:
        data = json.loads(text)["data"]
        for booth in data.get("booths", (data,)):
            for advisor in booth.get("advisors", ()):
                if advisor.get("id") == self.advisor_id:
                    return float(advisor["since"])
        return None

    def track(self) -> Seen:
        seen = Seen()
        self.receipts.append(seen.receipts)
        return seen

    def note(self, seen: Seen, message: str, now: float) -> None:
        """One text message of a connection, received at ``now``: note a new change once."""
        if not message.startswith(HALL_FRAMES):
            return
        since = self.since_of(message)
        if since is None or since in seen.since:
            return  # the same status again (another booth change): not a new change
        seen.since.add(since)
        if since < seen.last:
            self.out_of_order += 1
        seen.last = max(seen.last, since)
        if self.recording:
            seen.receipts.append([since, now])

    def closed(self) -> None:
        if self.recording:
            self.closed_early += 1

    async def listen(self, connection: ClientConnection) -> None:
        """Read one connection until it closes; note each new change once."""
        seen = self.track()
        try:
            async for message in connection:
                if isinstance(message, str):
                    self.note(seen, message, time.time())
        except Exception:
            pass
        self.closed()


def masked_frame(opcode: int, payload: bytes) -> bytes:
    """A client frame (clients must mask), for the few we send: pong and close."""
    mask = os.urandom(4)
    length = len(payload)
    if length < 126:
        header = bytes((0x80 | opcode, 0x80 | length))
    else:
        header = bytes((0x80 | opcode, 0x80 | 126)) + length.to_bytes(2, "big")
    key = int.from_bytes((mask * (length // 4 + 1))[:length], "big") if length else 0
    body = (int.from_bytes(payload, "big") ^ key).to_bytes(length, "big") if length else b""
    return header + mask + body


class LeanClient(asyncio.Protocol):
    """One hall connection on a bare asyncio protocol: the opening handshake, then server
    frames parsed by hand (the server does not mask); pings get their pong, a close frame
    its echo. Text messages after ``session.welcome`` and ``session.state`` go to the
    recorder."""

    def __init__(self, recorder: Recorder, request: bytes) -> None:
        self.recorder = recorder
        self.request = request
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.upgraded = False
        self.greetings = 0  # session.welcome and session.state, before ready
        self.buffer = b""
        self.fragments: list[bytes] = []
        self.seen: Seen | None = None
        self.open = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.open = True
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed during the handshake"))
        elif self.seen is not None:
            self.recorder.closed()

    def data_received(self, data: bytes) -> None:
        now = time.time()
        buffer = self.buffer + data if self.buffer else data
        if not self.upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                self.buffer = buffer
                return
            status = buffer[: buffer.find(b"\r\n")]
            if not status.startswith(b"HTTP/1.1 101"):
                assert self.transport is not None
                self.transport.close()
                if not self.opened.done():
                    self.opened.set_exception(ConnectionError(status.decode(errors="replace")))
                return
            self.upgraded = True
            buffer = buffer[end + 4 :]
        at, size = 0, len(buffer)
        while size - at >= 2:
            first, length = buffer[at], buffer[at + 1] & 0x7F
            start = at + 2
            if length == 126:
                if size - at < 4:
                    break
                length = int.from_bytes(buffer[at + 2 : at + 4], "big")
                start = at + 4
            elif length == 127:
                if size - at < 10:
                    break
                length = int.from_bytes(buffer[at + 2 : at + 10], "big")
                start = at + 10
            if size - start < length:
                break
            self.frame(first, buffer[start : start + length], now)
            at = start + length
        self.buffer = buffer[at:] if at < size else b""

    def frame(self, first: int, payload: bytes, now: float) -> None:
        opcode = first & 0x0F
        if opcode >= 8:  # control frames
            assert self.transport is not None
            if opcode == 9:
                self.transport.write(masked_frame(10, payload))
            elif opcode == 8:
                self.transport.write(masked_frame(8, payload[:2]))
                self.transport.close()
            return
        if not first & 0x80:  # a fragment; the last one carries FIN
            self.fragments.append(payload)
            return
        if self.fragments:
            payload = b"".join([*self.fragments, payload])
            self.fragments = []
        if opcode == 2:
            return
        if self.seen is not None:
            self.recorder.note(self.seen, payload.decode(), now)
            return
        self.greetings += 1
        if self.greetings == 2:
            self.seen = self.recorder.track()
            if not self.opened.done():
                self.opened.set_result(None)


async def open_lean(recorder: Recorder, url: str, origin: str, cookie: str | None) -> LeanClient:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    lines = [
        f"GET {parts.path or '/'} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}",
        "Sec-WebSocket-Version: 13",
        f"Origin: {origin}",
    ]
    if cookie:
        lines.append(f"Cookie: {cookie}")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    loop = asyncio.get_running_loop()
    transport, client = await asyncio.wait_for(
        loop.create_connection(lambda: LeanClient(recorder, request), host, port), 30
    )
    try:
        await asyncio.wait_for(client.opened, 30)
    except BaseException:
        transport.close()
        raise
    return client


async def open_one(url: str, origin: str, cookie: str | None) -> ClientConnection:
    headers = {"Cookie": cookie} if cookie else None
    connection = await connect(
        url,
        origin=origin,  # type: ignore[arg-type]
        additional_headers=headers,
        compression=None,
        ping_interval=None,
        open_timeout=30,
        max_size=2**20,
    )
    for _ in range(2):  # session.welcome, then session.state
        await asyncio.wait_for(connection.recv(), 30)
    return connection


async def run(args: argparse.Namespace) -> None:
    hard = raise_fd_limit()
    recorder = Recorder(args.advisor_id)
    started = time.monotonic()
    deadline = started + args.max_seconds
    gate = asyncio.Semaphore(args.concurrency)
    connections: list[object] = []
    still_open: list[Callable[[], bool]] = []
    listeners: list[asyncio.Task[None]] = []
    failures: list[str] = []

    async def one() -> None:
        async with gate:
            if time.monotonic() > deadline:
                return
            try:
                if args.lean:
                    client = await open_lean(recorder, args.url, args.origin, args.cookie)
                    connections.append(client)
                    still_open.append(lambda: client.open)
                    return
                connection = await open_one(args.url, args.origin, args.cookie)
            except Exception as error:
                failures.append(f"{type(error).__name__}: {error}")
                return
            connections.append(connection)
            task = asyncio.create_task(recorder.listen(connection))
            listeners.append(task)
            still_open.append(lambda: not task.done())

    connect_started = time.time()
    await asyncio.gather(*(one() for _ in range(args.count)))
    ready = {
        "type": "ready",
        "connected": len(connections),
        "failed": len(failures),
        "first_errors": sorted(set(failures))[:3],
        "connect_seconds": round(time.time() - connect_started, 3),
        "fd_limit": hard,
        "pid": os.getpid(),
    }
    print(json.dumps(ready), flush=True)

    loop = asyncio.get_running_loop()
    stdin_line = loop.run_in_executor(None, sys.stdin.readline)
    remaining = max(0.0, deadline - time.monotonic())
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(stdin_line), remaining)
    recorder.recording = False
    result = {
        "connected": len(connections),
        "failed": len(failures),
        "still_open": sum(1 for is_open in still_open if is_open()),
        "closed_early": recorder.closed_early,
        "out_of_order": recorder.out_of_order,
        "receipts": recorder.receipts,
    }
    Path(args.out).write_text(json.dumps(result))
    print(json.dumps({"type": "done"}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="ws://127.0.0.1:PORT/ws")
    parser.add_argument("--origin", required=True, help="http://127.0.0.1:PORT")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--advisor-id", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--cookie", default=None)
    parser.add_argument("--concurrency", type=int, default=100, help="connects in flight")
    parser.add_argument("--max-seconds", type=float, default=300.0, help="hard stop")
    parser.add_argument(
        "--lean", action="store_true", help="a minimal client instead of websockets'"
    )
    args = parser.parse_args()
    asyncio.run(run(args))
    sys.stdout.flush()
    os._exit(0)  # skip closing thousands of sockets one by one


if __name__ == "__main__":
    main()
