"""A real hall on loopback for tests: a seeded SQLite file, a uvicorn process, and clients
that speak HTTP and the WebSocket protocol the way a browser does."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from websockets.asyncio.client import ClientConnection, connect

from app.domain import accounts, booths
from app.domain.event import Event, add_day, save_event
from app.storage.db import Database

PASSWORD = "test-password-123"
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class World:
    """What a test hall holds: two booths, three advisors, a moderator."""

    booth_a: int
    booth_b: int
    advisor_a1: int
    advisor_a2: int
    advisor_b1: int
    moderator: int
    emails: dict[int, str] = field(default_factory=dict)


async def seed_world(
    path: Path | str,
    *,
    conversation_seconds: int = 600,
    warning_seconds: int = 120,
    video_provider: str = "jitsi",
) -> World:
    db = await Database.open(path)
    today = datetime.now(ZoneInfo("Europe/Amsterdam")).date()
    tomorrow = today + timedelta(days=1)
    try:
        async with db.transaction() as tx:
            await save_event(
                tx,
                Event(
                    name="Testbeurs",
                    timezone="Europe/Amsterdam",
                    conversation_seconds=conversation_seconds,
                    warning_seconds=warning_seconds,
                    video_provider=video_provider,
                    video_base_url="https://meet.example.test",
                ),
            )
            # Today and tomorrow: a run that crosses midnight finds the hall still open.
            for day in (today, tomorrow):
                await add_day(tx, day, "00:00", "24:00")
            a = await booths.create_booth(
                tx,
                slug="zorg-a",
                name="Zorggroep A",
                kind="employer",
                sector="zorg",
                offers=("bbl", "vacature"),
            )
            b = await booths.create_booth(
                tx,
                slug="bouw-b",
                name="Bouwbedrijf B",
                kind="employer",
                sector="bouw",
                offers=("omscholing",),
                position=1,
            )
            ids = {}
            for key, booth_id, email in (
                ("a1", a, "a1@test.example"),
                ("a2", a, "a2@test.example"),
                ("b1", b, "b1@test.example"),
            ):
                ids[key] = await accounts.create_staff(
                    tx,
                    email=email,
                    name=f"Adviseur {key.upper()}",
                    role="advisor",
                    password=PASSWORD,
                    booth_id=booth_id,
                )
            ids["mod"] = await accounts.create_staff(
                tx, email="mod@test.example", name="Moderator", role="moderator", password=PASSWORD
            )
            for booth_id in (a, b):
                for day in (today, tomorrow):
                    await booths.add_slot(tx, booth_id, day, "00:00", "24:00")
    finally:
        await db.close()
    world = World(a, b, ids["a1"], ids["a2"], ids["b1"], ids["mod"])
    world.emails = {
        ids["a1"]: "a1@test.example",
        ids["a2"]: "a2@test.example",
        ids["b1"]: "b1@test.example",
        ids["mod"]: "mod@test.example",
    }
    return world


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """``inzoomen serve`` in its own process, on a loopback port, on a given database file."""

    def __init__(
        self,
        db_path: Path | str,
        log_path: Path,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
    ) -> None:
        self.db_path = db_path
        self.log_path = log_path
        self.args = args
        self.port = free_port()
        self.env = {**os.environ, "INZOOMEN_ENV": "development", **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None
        # The tree the server runs from (a benchmark may run an older release's).
        self.cwd = ROOT

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def command(self) -> list[str]:
        """What starts the server: ``inzoomen serve`` on this port and database file."""
        command = [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1"]
        return [*command, "--port", str(self.port), *self.database_args(), *self.args]

    def database_env(self) -> dict[str, str]:
        if str(self.db_path).startswith("postgresql://"):
            return {"INZOOMEN_DATABASE_URL": str(self.db_path)}
        return {"INZOOMEN_DB": str(self.db_path)}

    def database_args(self) -> list[str]:
        """The database flag: ``--db FILE``, or ``--database-url URL`` for a database server."""
        if str(self.db_path).startswith("postgresql://"):
            return ["--database-url", str(self.db_path)]
        return ["--db", str(self.db_path)]

    def start(self, timeout: float = 20.0) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                cwd=self.cwd,
                env={**self.env, **self.database_env()},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early; see {self.log_path}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"server did not become healthy; see {self.log_path}")

    def __enter__(self) -> LiveServer:
        """``with LiveServer(...) as live:``: started, and stopped when the block ends."""
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no csrf field on the page"
    return match.group(1)


class Browserless:
    """An HTTP client with a cookie jar, signing in the way the forms do."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.http = httpx.AsyncClient(base_url=server.url, follow_redirects=False, timeout=10)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def csrf(self, path: str = "/aanmelden") -> str:
        return csrf_from((await self.http.get(path)).text)

    async def sign_in_candidate(
        self, name: str = "Sanne de Vries", email: str = "sanne@example.nl"
    ) -> None:
        token = await self.csrf("/aanmelden")
        response = await self.http.post(
            "/aanmelden",
            data={
                "csrf": token,
                "name": name,
                "email": email,
                "phone": "",
                "consent": "yes",
                "next": "/",
            },
        )
        assert response.status_code == 303, response.text

    async def log_in(self, email: str, password: str = PASSWORD) -> None:
        token = await self.csrf("/inloggen")
        response = await self.http.post(
            "/inloggen", data={"csrf": token, "email": email, "password": password}
        )
        assert response.status_code == 303, response.text

    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.http.cookies.jar)

    async def socket(self, origin: str | None = None) -> Peer:
        headers = {}
        cookie = self.cookie_header()
        if cookie:
            headers["Cookie"] = cookie
        connection = await connect(
            self.server.ws_url,
            origin=origin or self.server.url,  # type: ignore[arg-type]
            additional_headers=headers,
            compression=None,
        )
        peer = Peer(connection)
        peer.welcome = await peer.next_event("session.welcome")
        peer.state = await peer.next_event("session.state")
        return peer


class Peer:
    """One WebSocket connection: commands with replies, and the pushed events.

    A reader task sorts incoming frames: replies go to whoever waits for that id (or to
    ``orphans`` when the server could not read an id), pushes go to ``events``.
    """

    _ids = itertools.count(1)

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.events: list[dict[str, Any]] = []
        self.welcome: dict[str, Any] = {}
        self.state: dict[str, Any] = {}
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._orphans: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._arrived = asyncio.Condition()
        self.closed: Exception | None = None
        self._reader = asyncio.create_task(self._read_all())

    async def _read_all(self) -> None:
        try:
            async for raw in self.connection:
                frame = json.loads(raw)
                if "event" in frame:
                    async with self._arrived:
                        self.events.append(frame)
                        self._arrived.notify_all()
                elif frame.get("id") in self._waiting:
                    self._waiting.pop(frame["id"]).set_result(frame)
                else:
                    await self._orphans.put(frame)
        except Exception as error:  # the connection closed with an error code
            self.closed = error
        else:
            self.closed = ConnectionError("closed")
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(self.closed)
        async with self._arrived:
            self._arrived.notify_all()

    async def send(
        self, action: str, data: dict[str, Any] | None = None, timeout: float = 5
    ) -> dict[str, Any]:
        """Send a command and return its reply."""
        command_id = f"t{next(self._ids)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[command_id] = future
        await self.connection.send(
            json.dumps({"id": command_id, "action": action, "data": data or {}})
        )
        return await asyncio.wait_for(future, timeout)

    async def orphan_reply(self, timeout: float = 5) -> dict[str, Any]:
        """The next reply that carries no id of ours (an unreadable command)."""
        return await asyncio.wait_for(self._orphans.get(), timeout)

    async def next_event(self, name: str, timeout: float = 5, where: Any = None) -> dict[str, Any]:
        """The next pushed event with this name (and matching ``where(data)``); events
        before it are consumed."""

        def find() -> dict[str, Any] | None:
            for i, frame in enumerate(self.events):
                if frame["event"] == name and (where is None or where(frame["data"])):
                    del self.events[: i + 1]
                    return frame["data"]  # type: ignore[no-any-return]
            if self.closed is not None:
                raise self.closed
            return None

        async def wait() -> dict[str, Any]:
            async with self._arrived:
                while (found := find()) is None:
                    await self._arrived.wait()
                return found

        return await asyncio.wait_for(wait(), timeout)

    async def wait_closed(self, timeout: float = 5) -> Exception | None:
        await asyncio.wait_for(asyncio.shield(self._reader), timeout)
        return self.closed

    async def close(self) -> None:
        await self.connection.close()
        await self._reader


async def fire(
    peer: Peer, action: str, data: dict[str, Any] | None = None
) -> asyncio.Future[dict[str, Any]]:
    """Put a command on the wire without waiting for its reply; the future holds the reply.

    Fire several commands (on one or many peers) and then await the futures to have them
    reach the server at the same instant."""
    command_id = f"t{next(Peer._ids)}"
    future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
    peer._waiting[command_id] = future
    await peer.connection.send(json.dumps({"id": command_id, "action": action, "data": data or {}}))
    return future


STATE_PARTS = {"me.state": "me", "console.state": "console", "overview.state": "overview"}


class ReconnectingPeer:
    """A protocol client that keeps itself connected and in order the way
    ``static/js/live.js`` does.

    It reconnects by itself after the connection drops (the server restarts, is killed, or
    closes it), waiting a random time between 0 and a cap that doubles from ``first`` up to
    ``cap`` seconds (full jitter). On every (re)connect it takes ``session.welcome`` and
    ``session.state`` as its whole state. After that it applies pushes in order: a state
    (``me``, ``console``, ``overview``) with a lower ``rev`` than the one it holds is
    ignored; a ``hall.delta`` it already has is ignored; one that skips a version means it
    missed something, so it asks for ``session.sync`` and replaces its state (``gaps``).

    ``pushes`` keeps every push with the local time it arrived, for tests of timers.
    """

    def __init__(
        self,
        visitor: Browserless,
        *,
        first: float = 0.5,
        cap: float = 30.0,
        rng: Any = None,
    ) -> None:
        import random

        self.visitor = visitor
        self.first = first
        self.cap = cap
        self.rng = rng or random.Random()
        self.state: dict[str, Any] = {}
        self.welcome: dict[str, Any] = {}
        self.pushes: list[tuple[float, str, Any]] = []
        self.connects = 0
        self.gaps = 0
        self.connected = asyncio.Event()
        self.closing = False
        self._connection: ClientConnection | None = None
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Condition()
        self._resyncs: set[asyncio.Task[None]] = set()
        # The close code of each connection that ended (None: cut without a close frame).
        self.close_codes: list[int | None] = []
        self._hold_until = 0.0

    async def start(self, timeout: float = 10) -> ReconnectingPeer:
        self._task = asyncio.create_task(self._run())
        await self.wait_connected(timeout)
        return self

    async def wait_connected(self, timeout: float = 10) -> None:
        await asyncio.wait_for(self.connected.wait(), timeout)

    async def _run(self) -> None:
        attempt = 0
        while not self.closing:
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except Exception:
                pass
            self.connected.clear()
            self._connection = None
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(ConnectionError("connection lost"))
            self._waiting.clear()
            if self.closing:
                return
            if self.welcome:
                attempt = 0
                self.welcome = {}
            hold = self._hold_until - time.monotonic()
            if hold > 0:
                # The network is away; when it is back, try at once (as live.js does).
                await asyncio.sleep(hold)
                continue
            limit = min(self.cap, self.first * 2**attempt)
            attempt += 1
            await asyncio.sleep(self.rng.random() * limit)

    async def _session(self) -> None:
        headers = {}
        cookie = self.visitor.cookie_header()
        if cookie:
            headers["Cookie"] = cookie
        server = self.visitor.server
        async with connect(
            server.ws_url,
            origin=server.url,  # type: ignore[arg-type]
            additional_headers=headers,
            compression=None,
            open_timeout=5,
        ) as connection:
            self._connection = connection
            try:
                async for raw in connection:
                    frame = json.loads(raw)
                    if "event" in frame:
                        await self._push(frame["event"], frame.get("data"))
                    else:
                        future = self._waiting.pop(str(frame.get("id")), None)
                        if future is not None and not future.done():
                            future.set_result(frame)
            finally:
                self.close_codes.append(connection.close_code)

    def drop(self, seconds: float) -> None:
        """The network goes away for ``seconds``: the connection is cut without a close
        handshake, and no reconnect is tried until the time is over."""
        self._hold_until = time.monotonic() + seconds
        connection = self._connection
        if connection is not None:
            connection.transport.abort()

    async def _push(self, name: str, data: Any) -> None:
        self.pushes.append((time.time(), name, data))
        if name == "session.welcome":
            self.welcome = data
            self.connects += 1
        elif name == "session.state":
            self.state = data
            self.connected.set()
        elif name == "hall.delta" and "hall" in self.state:
            hall = self.state["hall"]
            if data["v"] <= hall["v"]:
                return
            if data["v"] > hall["v"] + 1:
                self.gaps += 1
                task = asyncio.create_task(self.resync())
                self._resyncs.add(task)
                task.add_done_callback(self._resyncs.discard)
                return
            booths = {b["id"]: b for b in hall["booths"]}
            for booth in data["booths"]:
                booths[booth["id"]] = booth
            for gone in data["removed"]:
                booths.pop(gone, None)
            order = [b["id"] for b in hall["booths"]] + [
                b["id"] for b in data["booths"] if b["id"] not in {x["id"] for x in hall["booths"]}
            ]
            hall["booths"] = [booths[i] for i in order if i in booths]
            hall["v"] = data["v"]
        elif name in STATE_PARTS:
            part = STATE_PARTS[name]
            held = self.state.get(part)
            if held is None or data.get("rev", 0) >= held.get("rev", 0):
                self.state[part] = data
        async with self._changed:
            self._changed.notify_all()

    async def resync(self) -> None:
        with contextlib.suppress(Exception):
            reply = await self.send("session.sync")
            if reply.get("ok"):
                self.state = reply["data"]

    async def send(
        self, action: str, data: dict[str, Any] | None = None, timeout: float = 10
    ) -> dict[str, Any]:
        """Send a command on the current connection and return its reply; ConnectionError
        when there is no connection or it drops before the reply."""
        connection = self._connection
        if connection is None or not self.connected.is_set():
            raise ConnectionError("not connected")
        command_id = f"r{next(Peer._ids)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[command_id] = future
        try:
            await connection.send(
                json.dumps({"id": command_id, "action": action, "data": data or {}})
            )
        except Exception as error:
            self._waiting.pop(command_id, None)
            raise ConnectionError("connection lost") from error
        return await asyncio.wait_for(future, timeout)

    def pushed(self, name: str, where: Any = None) -> list[tuple[float, Any]]:
        """Every push with this name (and matching ``where(data)``), with its arrival time."""
        return [
            (at, data)
            for at, event, data in self.pushes
            if event == name and (where is None or where(data))
        ]

    async def in_sync(self) -> bool:
        """Whether what this client holds equals a fresh ``session.sync`` of the server
        (see ``comparable``)."""
        reply = await self.send("session.sync")
        return bool(reply["ok"]) and comparable(self.state) == comparable(reply["data"])

    async def close(self) -> None:
        self.closing = True
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


def comparable(state: dict[str, Any]) -> Any:
    """A state without what follows the clock rather than the stored state: ``rev`` (the
    revision a view was read at), and a candidate's own estimated wait, which is computed
    afresh on every read."""

    def clean(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: clean(v, k) for k, v in value.items() if k != "rev"}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    state = clean(state)
    request = (state.get("me") or {}).get("request")
    if request is not None:
        request.pop("wait_minutes", None)
    return state


def db_value(path: Path, sql: str, params: tuple[Any, ...] = ()) -> Any:
    """One value read from a hall's database file, read-only (None when there is no row)."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = connection.execute(sql, params).fetchone()
        return None if row is None else row[0]
    finally:
        connection.close()
