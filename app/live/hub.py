"""The live hub: fan-out of events to topics, inside one process or across processes.

Topics heard by clients:

- ``hall``: everyone with the hall open, signed in or not (fed by ``app.live.hall_feed``);
- ``booth:<id>``: the advisors of one booth;
- ``staff:<id>``: one advisor or moderator;
- ``candidate:<id>``: one candidate;
- ``moderators``: every moderator.

Internal topics (``hall.views``, ``deadlines.wake``) are heard by listeners inside each
process, never by clients.

A message is encoded once and handed to every subscriber's ``Sink``. A sink never blocks the
publisher: it writes into the connection's bounded send buffer, and a connection whose
buffer is full is closed (1013) so that it resynchronises on reconnect.

The interface every hub offers (``Hub``):

- ``publish(topic, event, data)``: send one event to a topic, in every process;
- ``local.subscribed(topics)`` / ``local.attached(topics, sink)``: subscribe a connection of
  this process to topics for as long as the block runs; leaving the block unsubscribes it;
- ``listen(topic, listener)``: call a function of this process for every event of a topic.

What happens once a message reaches a process is the same for every hub and lives in
``LocalDelivery``: listeners first (they may update state that the clients then read), then
the connections subscribed to the topic. ``MemoryHub`` serves one process and hands each
published message straight to its ``LocalDelivery``. ``RedisHub`` (``app.live.redis_hub``)
only adds the transport: it publishes through Redis, and each process holds one Redis
subscription whose messages go to its own ``LocalDelivery``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

log = logging.getLogger("inzoomen.hub")

DEFAULT_BUFFER = 256
# A fan-out to more sinks than this yields to the event loop between chunks, so that a
# request or a reply does not wait for ten thousand hall clients.
CHUNK = 256

Listener = Callable[[str, Any], None]


def encode(event: str, data: Any) -> str:
    return json.dumps({"event": event, "data": data}, separators=(",", ":"), ensure_ascii=False)


class Sink(Protocol):
    """Where one connection's messages go. ``deliver`` never waits; ``end`` closes the
    connection so that the client reconnects and resynchronises."""

    def deliver(self, message: str) -> None: ...

    def end(self) -> None: ...


class Subscription:
    """A sink that queues messages for a task that forwards them (the pump).

    ``get`` returns the next message, or None once the subscriber fell so far behind that its
    buffer filled: it should then be disconnected. Used where the server cannot write to a
    connection without awaiting it.
    """

    def __init__(self, buffer: int = DEFAULT_BUFFER) -> None:
        self._buffer = buffer
        # One place more than the buffer, for the marker that ends the subscription.
        self._inbox: asyncio.Queue[str | None] = asyncio.Queue(maxsize=buffer + 1)
        self.overflowed = False

    def deliver(self, message: str) -> None:
        if self.overflowed:
            return
        if self._inbox.qsize() >= self._buffer:
            self.overflowed = True
            self._inbox.put_nowait(None)
            return
        self._inbox.put_nowait(message)

    def end(self) -> None:
        if not self.overflowed:
            self.overflowed = True
            self._inbox.put_nowait(None)

    def drain(self) -> list[str]:
        """Take every message queued now, without waiting."""
        taken = []
        while not self._inbox.empty():
            message = self._inbox.get_nowait()
            if message is not None:
                taken.append(message)
        return taken

    async def get(self) -> str | None:
        return await self._inbox.get()


class LocalFanout:
    """The sinks of this process, by topic."""

    def __init__(self) -> None:
        self._topics: dict[str, set[Sink]] = {}
        self.delivered = 0

    def deliver(self, topic: str, message: str) -> None:
        sinks = self._topics.get(topic)
        if not sinks:
            return
        for sink in tuple(sinks):
            sink.deliver(message)
        self.delivered += len(sinks)

    async def deliver_chunked(self, topic: str, message: str) -> int:
        """Deliver to every sink of a large topic, yielding to the loop between chunks.

        Sinks that join while this runs may miss the message; they got a snapshot that is at
        least as new. Returns the number of sinks written to.
        """
        sinks = tuple(self._topics.get(topic, ()))
        for start in range(0, len(sinks), CHUNK):
            if start:
                await asyncio.sleep(0)
            for sink in sinks[start : start + CHUNK]:
                sink.deliver(message)
        self.delivered += len(sinks)
        return len(sinks)

    def count(self, topic: str) -> int:
        return len(self._topics.get(topic, ()))

    def end_all(self) -> int:
        """Ask every client of this process to reconnect (after it may have missed events)."""
        sinks = {sink for members in self._topics.values() for sink in members}
        for sink in sinks:
            sink.end()
        return len(sinks)

    @contextmanager
    def subscribed(
        self, topics: Iterable[str], buffer: int = DEFAULT_BUFFER
    ) -> Iterator[Subscription]:
        """A queued subscription to these topics, for as long as the block runs."""
        subscription = Subscription(buffer)
        with self.attached(topics, subscription):
            yield subscription

    @contextmanager
    def attached(self, topics: Iterable[str], sink: Sink) -> Iterator[None]:
        names = frozenset(topics)
        for topic in names:
            self._topics.setdefault(topic, set()).add(sink)
        try:
            yield
        finally:
            for topic in names:
                members = self._topics.get(topic)
                if members is not None:
                    members.discard(sink)
                    if not members:
                        del self._topics[topic]


class Hub(Protocol):
    local: LocalFanout

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Return when the hub can carry messages now; raise when it cannot (readiness)."""
        ...

    async def publish(self, topic: str, event: str, data: Any) -> None: ...

    def listen(self, topic: str, listener: Listener) -> None: ...


class Listeners:
    """In-process consumers of internal topics."""

    def __init__(self) -> None:
        self._by_topic: dict[str, list[Listener]] = {}

    def add(self, topic: str, listener: Listener) -> None:
        self._by_topic.setdefault(topic, []).append(listener)

    def wants(self, topic: str) -> bool:
        return topic in self._by_topic

    def call(self, topic: str, event: str, data: Any) -> None:
        for listener in self._by_topic.get(topic, ()):
            try:
                listener(event, data)
            except Exception:
                log.exception("listener for %s failed", topic)


def decode(message: str) -> tuple[str, Any]:
    """The event and data of a message made by ``encode``."""
    decoded = json.loads(message)
    return decoded["event"], decoded["data"]


class LocalDelivery:
    """Hands a message that reached this process to its listeners, then to its connections.

    Each side is computed only when someone wants it: a message is encoded only when a
    connection listens to its topic, and decoded only when a listener does.
    """

    def __init__(self) -> None:
        self.local = LocalFanout()
        self._listeners = Listeners()

    def listen(self, topic: str, listener: Listener) -> None:
        self._listeners.add(topic, listener)

    def receive(self, topic: str, event: str, data: Any) -> None:
        """A message given as event and data (published in this process)."""
        self._hand_out(topic, lambda: (event, data), lambda: encode(event, data))

    def receive_encoded(self, topic: str, message: str) -> None:
        """A message already encoded (arrived from another process)."""
        self._hand_out(topic, lambda: decode(message), lambda: message)

    def _hand_out(
        self,
        topic: str,
        decoded: Callable[[], tuple[str, Any]],
        encoded: Callable[[], str],
    ) -> None:
        # Listeners first: they may change what the clients then read.
        if self._listeners.wants(topic):
            self._listeners.call(topic, *decoded())
        if self.local.count(topic):
            self.local.deliver(topic, encoded())


class MemoryHub(LocalDelivery):
    """Fan-out inside one process."""

    def __init__(self) -> None:
        super().__init__()
        self.published = 0

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def ping(self) -> None:
        return None  # nothing outside this process to reach

    async def publish(self, topic: str, event: str, data: Any) -> None:
        self.published += 1
        self.receive(topic, event, data)
