"""The live hub: fan-out of events to topics.

Topics used by the hall:

- ``hall``: everyone with the hall open, signed in or not;
- ``booth:<id>``: the advisors of one booth;
- ``staff:<id>``: one advisor or moderator;
- ``candidate:<id>``: one candidate;
- ``moderators``: every moderator.

``publish`` encodes a message once and hands the same text to every subscriber's bounded
buffer without awaiting anyone; a subscriber whose buffer is full is marked overflowed and
its connection is closed so that it resynchronises on reconnect. The in-memory backend
serves one process; other backends implement the same interface.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

DEFAULT_BUFFER = 256


def encode(event: str, data: Any) -> str:
    return json.dumps({"event": event, "data": data}, separators=(",", ":"), ensure_ascii=False)


class Subscription:
    """One connection's inbox. ``get`` returns the next encoded message, or None once the
    subscriber fell so far behind that its buffer filled: it should then be disconnected."""

    def __init__(self, topics: Iterable[str], buffer: int = DEFAULT_BUFFER) -> None:
        self.topics = frozenset(topics)
        self._buffer = buffer
        # One place more than the buffer, for the marker that ends the subscription.
        self._inbox: asyncio.Queue[str | None] = asyncio.Queue(maxsize=buffer + 1)
        self.overflowed = asyncio.Event()

    def deliver(self, message: str) -> None:
        if self.overflowed.is_set():
            return
        if self._inbox.qsize() >= self._buffer:
            self.overflowed.set()
            self._inbox.put_nowait(None)
            return
        self._inbox.put_nowait(message)

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


class Hub(Protocol):
    async def publish(self, topic: str, event: str, data: Any) -> None: ...

    def subscribe(
        self, topics: Iterable[str], buffer: int = DEFAULT_BUFFER
    ) -> AbstractAsyncContextManager[Subscription]: ...


class MemoryHub:
    """Fan-out inside one process."""

    def __init__(self) -> None:
        self._topics: dict[str, set[Subscription]] = {}
        self.published = 0

    async def publish(self, topic: str, event: str, data: Any) -> None:
        self.publish_encoded(topic, encode(event, data))

    def publish_encoded(self, topic: str, message: str) -> None:
        self.published += 1
        for subscription in tuple(self._topics.get(topic, ())):
            subscription.deliver(message)

    def subscriber_count(self, topic: str) -> int:
        return len(self._topics.get(topic, ()))

    @asynccontextmanager
    async def subscribe(
        self, topics: Iterable[str], buffer: int = DEFAULT_BUFFER
    ) -> AsyncIterator[Subscription]:
        subscription = Subscription(topics, buffer)
        for topic in subscription.topics:
            self._topics.setdefault(topic, set()).add(subscription)
        try:
            yield subscription
        finally:
            for topic in subscription.topics:
                members = self._topics.get(topic)
                if members is not None:
                    members.discard(subscription)
                    if not members:
                        del self._topics[topic]
