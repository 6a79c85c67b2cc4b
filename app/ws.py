"""The one WebSocket endpoint: ``/ws``.

On connect the server checks the Origin, identifies the principal from the session cookie,
subscribes to the topics that principal may hear, and sends ``session.welcome`` and a full
``session.state``. A client that reconnects gets the same, so it is back in sync by itself.

Messages for a connection are written straight to its transport when the server offers that
(``app.wsprotocol``); otherwise they go through a bounded queue and a task per connection.
Either way, what is published while the snapshot is being read is held back and sent after
it; states carry revisions, so anything older than the snapshot is ignored by the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from urllib.parse import urlsplit

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from app import actions
from app.auth import Principal, principal_of
from app.deadlines import moments_passed
from app.errors import DomainError
from app.hub import DEFAULT_BUFFER, Sink, Subscription, encode
from app.protocol import EnvelopeError, parse_command, reply_error, reply_ok
from app.resources import Resources
from app.wsprotocol import EXTENSION, Pusher

log = logging.getLogger("inzoomen.ws")

CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_TRY_AGAIN = 1013


def origin_allowed(websocket: WebSocket, allowed: tuple[str, ...]) -> bool:
    origin = websocket.headers.get("origin")
    if origin is None:
        return False
    origin = origin.rstrip("/")
    if allowed:
        return origin in allowed
    host = websocket.headers.get("host", "")
    return urlsplit(origin).netloc == host and urlsplit(origin).scheme in ("http", "https")


def _person(principal: Principal) -> tuple[str, int | None]:
    return principal.role, principal.id


class Held:
    """A sink that holds messages until the snapshot was sent, then lets them through."""

    __slots__ = ("_held", "_target")

    def __init__(self, target: Pusher) -> None:
        self._target = target
        self._held: list[str] | None = []

    def deliver(self, message: str) -> None:
        held = self._held
        if held is None:
            self._target.push(message)
        elif len(held) < DEFAULT_BUFFER:
            held.append(message)
        else:
            self._held = None
            self._target.drop(CLOSE_TRY_AGAIN)
            if self._target.on_drop is not None:
                self._target.on_drop()

    def end(self) -> None:
        self._held = None
        self._target.drop(CLOSE_TRY_AGAIN)

    def release(self) -> None:
        held, self._held = self._held, None
        for message in held or ():
            self._target.push(message)


class Connection:
    def __init__(self, websocket: WebSocket, resources: Resources, principal: Principal):
        self.websocket = websocket
        self.resources = resources
        self.principal = principal
        self.pusher: Pusher | None = websocket.scope.get("extensions", {}).get(EXTENSION)
        self._send_lock = asyncio.Lock()

    async def send(self, text: str) -> None:
        if self.pusher is not None:
            self.pusher.push(text)
            return
        async with self._send_lock:
            await self.websocket.send_text(text)

    async def pump(self, subscription: Subscription) -> None:
        """Forward hub messages to this client until it overflows or goes away."""
        while True:
            message = await subscription.get()
            if message is None:
                self.resources.metrics.slow_client_dropped()
                await self.websocket.close(CLOSE_TRY_AGAIN)
                return
            await self.send(message)

    async def handle(self, text: str) -> None:
        now = self.resources.now
        command_id = None
        try:
            command = parse_command(text)
            command_id = command.id
            result = await actions.perform(
                self.resources, self.principal, command.action, command.data
            )
        except EnvelopeError as error:
            await self.send(reply_error(error.command_id, error, now()))
        except DomainError as error:
            await self.send(reply_error(command_id, error, now()))
        except Exception:
            log.exception("action failed")
            await self.send(reply_error(command_id, DomainError("server.error"), now()))
        else:
            await self.send(reply_ok(command.id, result, now()))


async def hall_socket(websocket: WebSocket) -> None:
    resources: Resources = websocket.app.state.resources
    settings = resources.settings
    if not origin_allowed(websocket, settings.allowed_origins):
        await websocket.close(CLOSE_POLICY)
        return
    principal = await principal_of(resources.db, websocket.session)
    await websocket.accept()
    connection = Connection(websocket, resources, principal)
    sink: Sink
    if connection.pusher is not None:
        connection.pusher.on_drop = resources.metrics.slow_client_dropped
        sink = held = Held(connection.pusher)
    else:
        sink = subscription = Subscription()
    metrics = resources.metrics
    metrics.connection_opened(principal.role)
    with resources.hub.local.attached(principal.topics, sink):
        state = await actions.personal_state(resources, principal)
        welcome = {
            "role": principal.role,
            "name": principal.name,
            "server_time": resources.now(),
        }
        await connection.send(encode("session.welcome", welcome))
        await connection.send(encode("session.state", state))
        for name, data in await moments_passed(resources.db, *_person(principal)):
            await connection.send(encode(name, data))
        if resources.presence is not None:
            await resources.presence.arrived(*_person(principal))
        if connection.pusher is not None:
            held.release()
            pump = None
        else:
            pump = asyncio.create_task(connection.pump(subscription))
        try:
            while pump is None or not pump.done():
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None:
                    error = EnvelopeError("protocol.bad_envelope")
                    await connection.send(reply_error(None, error, resources.now()))
                    continue
                if len(text.encode()) > settings.ws_max_message_bytes:
                    await websocket.close(CLOSE_TOO_BIG)
                    break
                await connection.handle(text)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            if pump is not None:
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await pump
            metrics.connection_closed(principal.role)
            if resources.presence is not None:
                await resources.presence.left(*_person(principal))
            if websocket.client_state == WebSocketState.CONNECTED:
                with contextlib.suppress(Exception):
                    await websocket.close()
