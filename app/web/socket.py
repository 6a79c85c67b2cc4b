"""The one WebSocket endpoint: ``/ws``.

On connect the server checks the Origin, identifies the principal from the session cookie,
subscribes to the topics that principal may hear, and sends ``session.welcome`` and a full
``session.state``. A client that reconnects gets the same, so it is back in sync by itself.

Messages for a connection are written straight to its transport when the server offers that
(``app.web.push_transport``); otherwise they go through a bounded queue and a task per connection.
Either way, what is published while the snapshot is being read is held back and sent after
it; states carry revisions, so anything older than the snapshot is ignored by the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from starlette.responses import PlainTextResponse
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from app.commands import actions
from app.commands.envelope import EnvelopeError, parse_command, reply_error, reply_ok
from app.core.errors import DomainError
from app.core.ratelimit import MessageLimiter, SocketLimits
from app.domain.principals import Identity, Principal, identify
from app.live import topics
from app.live.deadlines import moments_passed
from app.live.hall_feed import TOPIC as HALL_TOPIC
from app.live.hub import DEFAULT_BUFFER, Sink, Subscription, encode
from app.live.resources import Resources
from app.web.push_transport import EXTENSION, Pusher

log = logging.getLogger("inzoomen.ws")

CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_TRY_AGAIN = 1013
# The session behind the socket ended (signed out, password changed, expired): sign in again.
CLOSE_SESSION_ENDED = 4001
# Too many simultaneous connections for this user or address.
CLOSE_TOO_MANY = 4008
_REVOKED_PREFIX = f'{{"event":"{topics.REVOKED_EVENT}",'


def socket_limits(websocket: WebSocket) -> SocketLimits:
    """The WebSocket limits of this process, made on first use from the settings."""
    state = websocket.app.state
    limits: SocketLimits | None = getattr(state, "socket_limits", None)
    if limits is None:
        settings = websocket.app.state.resources.settings
        limits = state.socket_limits = SocketLimits(
            rate=settings.ws_rate,
            burst=settings.ws_burst,
            user_rate=settings.ws_user_rate,
            user_burst=settings.ws_user_burst,
            per_user=settings.ws_connections_per_user,
            per_ip=settings.ws_connections_per_ip,
            clock=time.monotonic,
        )
    return limits


class Guarded:
    """A sink that watches for ``session.revoked`` on the principal's own topic: when it
    names this connection's session (or every session), the socket is closed instead."""

    __slots__ = ("_on_revoked", "_session_id", "_target")

    def __init__(self, target: Sink, session_id: int | None, on_revoked: Callable[[str], None]):
        self._target = target
        self._session_id = session_id
        self._on_revoked = on_revoked

    def deliver(self, message: str) -> None:
        if message.startswith(_REVOKED_PREFIX):
            data = json.loads(message)["data"]
            if data.get("session") in (None, self._session_id):
                self._on_revoked(str(data.get("reason") or "session.ended"))
            return
        self._target.deliver(message)

    def end(self) -> None:
        self._target.end()


def origin_allowed(websocket: WebSocket, allowed: tuple[str, ...]) -> bool:
    origin = websocket.headers.get("origin")
    if origin is None:
        return False
    origin = origin.rstrip("/")
    if allowed:
        return origin in allowed
    host = websocket.headers.get("host", "")
    # The page's own origin: same host and port, and the scheme the socket came in with
    # (https for wss, also behind a proxy that says so), so http://host cannot pass for
    # https://host.
    scheme = "https" if websocket.scope.get("scheme") in ("wss", "https") else "http"
    parts = urlsplit(origin)
    return parts.netloc == host and parts.scheme == scheme


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
        self.ended: str | None = None
        self._closing: asyncio.Task[None] | None = None

    def end_session(self, reason: str) -> None:
        """Refuse every further command and close with 4001 (from a hub delivery)."""
        if self.ended is not None:
            return
        self.ended = reason

        async def close() -> None:
            with contextlib.suppress(Exception):
                await self.websocket.close(CLOSE_SESSION_ENDED, f"session.ended: {reason}")

        self._closing = asyncio.get_running_loop().create_task(close())

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


async def session_lives(resources: Resources, websocket: WebSocket) -> bool:
    return (await identify(resources.db, websocket.session, resources.now())).session is not None


def reply_limited(text: str, retry_after: float, now: float) -> str:
    """The refusal of a command over the rate: ``rate.limited`` with ``retry_after``
    seconds; the command is not performed."""
    try:
        command_id: str | None = parse_command(text).id
    except EnvelopeError as error:
        command_id = error.command_id
    seconds = max(1, int(retry_after + 0.999))
    reply = json.loads(reply_error(command_id, DomainError("rate.limited", seconds=seconds), now))
    reply["error"]["retry_after"] = round(retry_after, 3)
    return json.dumps(reply, separators=(",", ":"), ensure_ascii=False)


async def hall_socket(websocket: WebSocket) -> None:
    resources: Resources = websocket.app.state.resources
    settings = resources.settings
    if not origin_allowed(websocket, settings.allowed_origins):
        if "websocket.http.response" in websocket.scope.get("extensions", {}):
            # Refused before the socket opens: HTTP 403, with the security headers.
            await websocket.send_denial_response(PlainTextResponse("Forbidden", 403))
        else:
            await websocket.close(CLOSE_POLICY)
        return
    identity = await identify(resources.db, websocket.session, resources.now())
    principal = identity.principal
    limits = socket_limits(websocket)
    user = None if principal.role == "anonymous" else (principal.role, principal.id)
    cap_key = user if user is not None else (websocket.client.host if websocket.client else "")
    cap = limits.cap_for(user)
    await websocket.accept()
    if not cap.try_open(cap_key):
        await websocket.close(CLOSE_TOO_MANY, "connections.too_many")
        return
    limiter = limits.limiter(user)
    try:
        await _serve(websocket, resources, identity, limiter)
    finally:
        cap.close(cap_key)
        limits.release(user)


async def _serve(
    websocket: WebSocket, resources: Resources, identity: Identity, limiter: MessageLimiter
) -> None:
    settings = resources.settings
    principal = identity.principal
    connection = Connection(websocket, resources, principal)
    expires_at = identity.session.expires_at if identity.session else None
    session_id = identity.session.id if identity.session else None
    sink: Sink
    if connection.pusher is not None:
        connection.pusher.on_drop = resources.metrics.slow_client_dropped
        sink = held = Held(connection.pusher)
    else:
        sink = subscription = Subscription()
    # Only a person's own topics can carry the end of their session, so the hall (every
    # broadcast, to every connection) goes to the sink directly, without the check.
    own = [topic for topic in topics.of(principal) if topic != HALL_TOPIC]
    guarded = Guarded(sink, session_id, connection.end_session)
    metrics = resources.metrics
    metrics.connection_opened(principal.role)
    local = resources.hub.local
    with local.attached([HALL_TOPIC], sink), local.attached(own, guarded):
        if identity.session is not None and not await session_lives(resources, websocket):
            # Ended between the look-up and listening for its end: close at once.
            connection.end_session("logout")
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
                if connection.ended is not None:
                    continue
                if expires_at is not None and resources.now() >= expires_at:
                    connection.end_session("expired")
                    continue
                verdict = limiter.admit()
                if not verdict.allowed:
                    if verdict.abusive:
                        await websocket.close(CLOSE_POLICY, "rate.limited")
                        break
                    await connection.send(reply_limited(text, verdict.retry_after, resources.now()))
                    continue
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
