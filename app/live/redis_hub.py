"""The hub across processes: every message goes through one Redis channel.

Each process publishes to the channel and holds exactly one subscription to it; what arrives
is handed to that process's ``LocalDelivery`` (its listeners, then its connections). A
message published by a process reaches its own clients the same way as everyone else's, so
every process sees the messages of the channel in the same order.

When the subscription breaks (Redis restarted, network trouble), the process subscribes
again with backoff. Messages published meanwhile are lost to it, so afterwards it calls
``on_gap``: the server then reads the hall again and asks its clients to resynchronise.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from app.live.hub import LocalDelivery, encode

log = logging.getLogger("inzoomen.hub")

SEPARATOR = "\n"
RETRY_MAX_SECONDS = 5.0
PING_TIMEOUT_SECONDS = 2.0


class RedisHub(LocalDelivery):
    """The transport through Redis; local delivery is ``LocalDelivery``'s."""

    def __init__(
        self,
        url: str,
        prefix: str,
        on_gap: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__()
        # RESP2: over RESP3 redis-py turns on maintenance notifications and then no longer
        # drops pooled connections that Redis closed, so a publish after a restart failed.
        self._redis = aioredis.from_url(url, decode_responses=True, protocol=2)
        self.channel = f"{prefix}:live"
        self._on_gap = on_gap
        self._reader: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self.published = 0
        self.received = 0
        self.gaps = 0
        self.publish_failures = 0

    def set_on_gap(self, on_gap: Callable[[], Awaitable[None]]) -> None:
        self._on_gap = on_gap

    async def start(self) -> None:
        """Subscribe before anything is published, so this process misses nothing."""
        await self._redis.ping()
        self._reader = asyncio.create_task(self._read(), name="redis-hub")
        await asyncio.wait_for(self._subscribed.wait(), timeout=10)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._redis.aclose()

    async def ping(self) -> None:
        """Redis answers PING within ``PING_TIMEOUT_SECONDS``; raises otherwise. A probe
        must answer the load balancer even when Redis went silent rather than away."""
        await asyncio.wait_for(self._redis.ping(), PING_TIMEOUT_SECONDS)

    async def publish(self, topic: str, event: str, data: Any) -> None:
        """Publish to every process. When Redis cannot be reached the message is lost (the
        change itself was committed); the subscription's gap makes every process resync its
        clients once Redis is back."""
        self.published += 1
        try:
            await self._redis.publish(self.channel, topic + SEPARATOR + encode(event, data))
        except (RedisError, OSError) as error:
            self.publish_failures += 1
            log.warning("could not publish %s to redis: %s", event, error)

    def dispatch(self, payload: str) -> None:
        topic, _, message = payload.partition(SEPARATOR)
        self.received += 1
        self.receive_encoded(topic, message)

    async def _read(self) -> None:
        failures = 0
        while True:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                # Live only once Redis confirmed the subscription.
                while True:
                    item = await pubsub.get_message(timeout=None)
                    if item is not None and item["type"] == "subscribe":
                        break
                if failures:
                    log.warning("subscribed to %s again", self.channel)
                    self.gaps += 1
                    if self._on_gap is not None:
                        await self._on_gap()
                failures = 0
                self._subscribed.set()
                while True:
                    item = await pubsub.get_message(timeout=None)
                    if item is not None and item["type"] == "message":
                        self.dispatch(item["data"])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as error:
                failures += 1
                delay = random.uniform(0, min(RETRY_MAX_SECONDS, 0.1 * 2**failures))
                log.warning("redis subscription lost (%s); retrying in %.1f s", error, delay)
                await asyncio.sleep(delay)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
