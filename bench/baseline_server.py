"""The baseline for the fan-out benchmark: the least a Python WebSocket server can do.

A bare ``websockets`` asyncio server (compression off) that speaks just enough of the hall
protocol for the same load clients and driver: on connect it sends a ``session.welcome`` and
a ``session.state``; on the command ``advisor.status`` it puts the new status and the
current time into a copy of a real hall frame (the template, captured from our
server), encodes it once and hands it to ``websockets.asyncio.server.broadcast`` for every
open connection, then replies. No database, no snapshots, no per-client queues.

It stops by itself after ``--max-seconds``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import time
from pathlib import Path
from typing import Any

from websockets.asyncio.server import ServerConnection, broadcast, serve


def encode(frame: dict[str, Any]) -> str:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


class Baseline:
    def __init__(self, template: dict[str, Any], advisor_id: int) -> None:
        self.template = template
        self.advisor_id = advisor_id
        self.connections: set[ServerConnection] = set()

    def change(self, status: str) -> None:
        frame = json.loads(json.dumps(self.template))
        data = frame["data"]
        for booth in data.get("booths", [data]):
            for advisor in booth["advisors"]:
                if advisor["id"] == self.advisor_id:
                    advisor["status"] = status
                    advisor["since"] = time.time()
        broadcast(self.connections, encode(frame))

    async def handler(self, connection: ServerConnection) -> None:
        self.connections.add(connection)
        try:
            welcome = {"role": "anonymous", "name": None, "server_time": time.time()}
            await connection.send(encode({"event": "session.welcome", "data": welcome}))
            await connection.send(encode({"event": "session.state", "data": {}}))
            async for message in connection:
                command = json.loads(message)
                data = command.get("data") or {}
                if command.get("action") == "advisor.status":
                    self.change(str(data.get("status")))
                reply = {
                    "id": command.get("id"),
                    "ok": True,
                    "data": {"status": data.get("status")},
                    "server_time": time.time(),
                }
                await connection.send(encode(reply))
        except Exception:
            pass
        finally:
            self.connections.discard(connection)


async def run(args: argparse.Namespace) -> None:
    template = json.loads(Path(args.template).read_text())
    baseline = Baseline(template, args.advisor_id)
    async with serve(
        baseline.handler,
        "127.0.0.1",
        args.port,
        compression=None,
        backlog=4096,
        max_size=2**16,
    ):
        print(json.dumps({"type": "ready", "port": args.port}), flush=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.Event().wait(), args.max_seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--template", required=True, help="a hall.booth frame, as JSON")
    parser.add_argument("--advisor-id", type=int, required=True)
    parser.add_argument("--max-seconds", type=float, default=300.0, help="hard stop")
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
