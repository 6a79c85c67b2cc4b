"""The in-memory hub: topics, one encoding per publish, slow subscribers never block."""

from __future__ import annotations

import asyncio
import json

from app.hub import MemoryHub


async def test_publish_reaches_only_the_topic() -> None:
    hub = MemoryHub()
    async with hub.subscribe(["hall"]) as everyone, hub.subscribe(["candidate:1"]) as one:
        await hub.publish("candidate:1", "me.state", {"x": 1})
        await hub.publish("hall", "hall.booth", {"id": 2})
        assert [json.loads(m)["event"] for m in one.drain()] == ["me.state"]
        assert [json.loads(m)["event"] for m in everyone.drain()] == ["hall.booth"]


async def test_a_broadcast_is_encoded_once_and_shared() -> None:
    hub = MemoryHub()
    async with hub.subscribe(["hall"]) as a, hub.subscribe(["hall"]) as b:
        await hub.publish("hall", "hall.booth", {"id": 1, "name": "Stand"})
        (text_a,), (text_b,) = a.drain(), b.drain()
        assert text_a is text_b  # the very same string object, not two encodings


async def test_a_slow_subscriber_overflows_without_blocking_others() -> None:
    hub = MemoryHub()
    async with (
        hub.subscribe(["hall"], buffer=3) as slow,
        hub.subscribe(["hall"], buffer=100) as fast,
    ):
        for i in range(10):
            await asyncio.wait_for(hub.publish("hall", "hall.booth", {"i": i}), 0.1)
        assert slow.overflowed.is_set()
        assert len(slow.drain()) == 3
        assert len(fast.drain()) == 10
        assert not fast.overflowed.is_set()


async def test_subscriptions_clean_up_on_exit_and_on_error() -> None:
    hub = MemoryHub()
    async with hub.subscribe(["hall", "booth:1"]):
        assert hub.subscriber_count("hall") == 1
    assert hub.subscriber_count("hall") == 0
    try:
        async with hub.subscribe(["hall"]):
            raise RuntimeError("connection lost")
    except RuntimeError:
        pass
    assert hub.subscriber_count("hall") == 0 and hub.subscriber_count("booth:1") == 0
