"""uvicorn's sans-I/O WebSocket protocol, plus a way for the app to write without awaiting.

Through ASGI every message to a client is an awaited ``send``, so fanning one message out to
thousands of clients needs thousands of awaits (or a task per client). This protocol offers
the app, through the ASGI scope extension ``inzoomen.push``, a plain function that frames the
text and hands it to the connection's transport at once, as ``websockets.broadcast()`` does.

The transport's write buffer is the connection's bounded send buffer: when a client does not
read and its buffer grows past ``PUSH_BUFFER_BYTES``, the connection is closed with 1013 (try
again later); the client reconnects and gets a fresh snapshot.

It extends uvicorn's internals (``conn``, ``transport``, ``queue``, ``loop``, ``close_sent``…),
which are not a public interface: ``push_protocol()`` offers it only when uvicorn has the
sans-I/O implementation (0.35 and newer) with those attributes. Without it (an older or
newer uvicorn that changed them, or another ASGI server) the app falls back to a bounded
queue and a task per connection; see ``app.web.socket``. Both paths close a client that falls too
far behind with 1013 (tests/test_push_contract.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from websockets.http11 import Request

try:
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
except ImportError:  # uvicorn before 0.35
    WebSocketsSansIOProtocol = None  # type: ignore[assignment,misc]

EXTENSION = "inzoomen.push"
PUSH_BUFFER_BYTES = 512 * 1024
CLOSE_TRY_AGAIN = 1013
# After a slow client was sent its close frame, wait this long for it before cutting it off.
ABORT_AFTER_SECONDS = 2.0

log = logging.getLogger("inzoomen.ws")

# What Pusher uses of uvicorn's protocol, checked on the class before it is offered.
_INTERNALS = (
    "conn",
    "transport",
    "queue",
    "loop",
    "close_sent",
    "disconnected",
    "handshake_complete",
    "handle_connect",
)


class Pusher:
    """Writes frames straight to one connection. Kept small: one per connection."""

    __slots__ = ("_protocol", "dropped", "on_drop")

    def __init__(self, protocol: PushProtocol) -> None:
        self._protocol = protocol
        self.dropped = False
        # Called when the connection is dropped for falling behind.
        self.on_drop: Callable[[], None] | None = None

    def push(self, text: str) -> bool:
        """Frame and write ``text``; False when the connection is gone or was just dropped
        for falling behind."""
        protocol = self._protocol
        if protocol.close_sent or protocol.disconnected or not protocol.handshake_complete:
            return False
        protocol.conn.send_text(text.encode())
        protocol.transport.write(b"".join(protocol.conn.data_to_send()))
        if protocol.transport.get_write_buffer_size() > PUSH_BUFFER_BYTES:
            self.drop(CLOSE_TRY_AGAIN)
            if self.on_drop is not None:
                self.on_drop()
            return False
        return True

    def drop(self, code: int) -> None:
        """Close this connection now, without waiting for the client."""
        protocol = self._protocol
        if protocol.close_sent or protocol.disconnected:
            return
        self.dropped = True
        protocol.conn.send_close(code)
        protocol.transport.write(b"".join(protocol.conn.data_to_send()))
        protocol.close_sent = True
        protocol.queue.put_nowait({"type": "websocket.disconnect", "code": code})
        transport = protocol.transport
        protocol.loop.call_later(ABORT_AFTER_SECONDS, transport.abort)


def _attributes_used(cls: type[Any]) -> set[str]:
    """The attribute names the class's own methods read or set (``self.conn = …``)."""
    names: set[str] = set()
    for member in vars(cls).values():
        code = getattr(member, "__code__", None)
        if code is not None:
            names.update(code.co_names)
    return names | set(vars(cls))


def push_protocol() -> type[Any] | None:
    """uvicorn's ``ws`` protocol class that offers ``inzoomen.push``, or None when this
    uvicorn cannot carry it (then uvicorn's own protocol and the app's fallback serve)."""
    if WebSocketsSansIOProtocol is None:
        return None
    missing = set(_INTERNALS) - _attributes_used(WebSocketsSansIOProtocol)
    if missing:
        log.warning(
            "uvicorn's WebSocket protocol lacks %s: messages go through the fallback queue",
            ", ".join(sorted(missing)),
        )
        return None
    return PushProtocol


if WebSocketsSansIOProtocol is not None:

    class PushProtocol(WebSocketsSansIOProtocol):
        def handle_connect(self, event: Request) -> None:
            super().handle_connect(event)
            scope: Any = getattr(self, "scope", None)
            if scope is not None and not self.close_sent:
                scope["extensions"][EXTENSION] = Pusher(self)
