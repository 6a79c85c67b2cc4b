"""The hub: topics, one encoding per publish, slow subscribers never block, listeners."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from app.live import hub as hub_module
from app.live.hub import MemoryHub


async def test_publish_reaches_only_the_topic() -> None:
    hub = MemoryHub()
    with (
        hub.local.subscribed(["hall"]) as everyone,
        hub.local.subscribed(["candidate:1"]) as one,
    ):
        await hub.publish("candidate:1", "me.state", {"x": 1})
        await hub.publish("hall", "hall.delta", {"v": 2})
        assert [json.loads(m)["event"] for m in one.drain()] == ["me.state"]
        assert [json.loads(m)["event"] for m in everyone.drain()] == ["hall.delta"]


async def test_a_broadcast_is_encoded_once_and_shared() -> None:
    hub = MemoryHub()
    with hub.local.subscribed(["hall"]) as a, hub.local.subscribed(["hall"]) as b:
        await hub.publish("hall", "hall.delta", {"v": 1, "name": "Stand"})
        (text_a,), (text_b,) = a.drain(), b.drain()
        assert text_a is text_b  # the very same string object, not two encodings


async def test_a_slow_subscriber_overflows_without_blocking_others() -> None:
    hub = MemoryHub()
    with (
        hub.local.subscribed(["hall"], buffer=3) as slow,
        hub.local.subscribed(["hall"], buffer=100) as fast,
    ):
        for i in range(10):
            await asyncio.wait_for(hub.publish("hall", "hall.delta", {"i": i}), 0.1)
        assert slow.overflowed
        assert len(slow.drain()) == 3
        assert len(fast.drain()) == 10
        assert not fast.overflowed


async def test_subscriptions_clean_up_on_exit_and_on_error() -> None:
    hub = MemoryHub()
    with hub.local.subscribed(["hall", "booth:1"]):
        assert hub.local.count("hall") == 1
    assert hub.local.count("hall") == 0
    try:
        with hub.local.subscribed(["hall"]):
            raise RuntimeError("connection lost")
    except RuntimeError:
        pass
    assert hub.local.count("hall") == 0 and hub.local.count("booth:1") == 0


async def test_listeners_hear_internal_topics_and_clients_do_not() -> None:
    hub = MemoryHub()
    heard: list[tuple[str, Any]] = []
    hub.listen("deadlines.wake", lambda event, data: heard.append((event, data)))
    with hub.local.subscribed(["hall", "moderators"]) as client:
        await hub.publish("deadlines.wake", "deadlines.wake", {})
        assert heard == [("deadlines.wake", {})]
        assert client.drain() == []


async def test_a_failing_listener_does_not_stop_the_others() -> None:
    hub = MemoryHub()
    heard: list[str] = []

    def broken(event: str, data: Any) -> None:
        raise ValueError("bug in a listener")

    hub.listen("hall.views", broken)
    hub.listen("hall.views", lambda event, data: heard.append(event))
    await hub.publish("hall.views", "hall.views", {})
    assert heard == ["hall.views"]


async def test_a_large_fanout_yields_to_other_work_between_chunks() -> None:
    hub = MemoryHub()
    clients = hub_module.CHUNK * 3 + 1
    order: list[str] = []

    async def other_work() -> None:
        order.append("other")

    with contextlib.ExitStack() as stack:
        inboxes = [stack.enter_context(hub.local.subscribed(["hall"])) for _ in range(clients)]
        other = asyncio.get_running_loop().create_task(other_work())
        written = await hub.local.deliver_chunked("hall", "x")
        order.append("delivered")
        await other
    assert written == clients
    assert all(inbox.drain() == ["x"] for inbox in inboxes)
    # The other task ran while the fan-out was still going, not after it.
    assert order == ["other", "delivered"]


async def test_end_all_asks_every_client_to_reconnect() -> None:
    hub = MemoryHub()
    with hub.local.subscribed(["hall"]) as a, hub.local.subscribed(["staff:1"]) as b:
        assert hub.local.end_all() == 2
        assert a.overflowed and b.overflowed
        assert await a.get() is None
