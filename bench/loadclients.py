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
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import sys
import time
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect

HALL_FRAMES = ('{"event":"hall.booth"', '{"event":"hall.delta"')


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


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

    async def listen(self, connection: ClientConnection) -> None:
        """Read one connection until it closes; note each new change once."""
        last = float("-inf")
        seen: set[float] = set()
        receipts: list[list[float]] = []
        self.receipts.append(receipts)
        try:
            async for message in connection:
                now = time.time()
                if not isinstance(message, str) or not message.startswith(HALL_FRAMES):
                    continue
                since = self.since_of(message)
                if since is None or since in seen:
                    continue  # the same status again (another booth change): not a new change
                seen.add(since)
                if since < last:
                    self.out_of_order += 1
                last = max(last, since)
                if self.recording:
                    receipts.append([since, now])
        except Exception:
            pass
        if self.recording:
            self.closed_early += 1


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
    connections: list[ClientConnection] = []
    listeners: list[asyncio.Task[None]] = []
    failures: list[str] = []

    async def one() -> None:
        async with gate:
            if time.monotonic() > deadline:
                return
            try:
                connection = await open_one(args.url, args.origin, args.cookie)
            except Exception as error:
                failures.append(f"{type(error).__name__}: {error}")
                return
            connections.append(connection)
            listeners.append(asyncio.create_task(recorder.listen(connection)))

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
        "still_open": sum(1 for t in listeners if not t.done()),
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
    args = parser.parse_args()
    asyncio.run(run(args))
    sys.stdout.flush()
    os._exit(0)  # skip closing thousands of sockets one by one


if __name__ == "__main__":
    main()
