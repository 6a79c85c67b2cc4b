"""The hub across processes, against a real redis-server on loopback.

Two ``RedisHub`` objects with the same URL and prefix stand for two worker processes. Every
wait is bounded; that nothing arrived is shown by a marker published afterwards arriving
first, since one Redis connection receives messages in the order Redis handled them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from app.live.hub import encode
from app.live.redis_hub import RedisHub
from tests.rediskit import RedisServer, unique_prefix

WAIT = 5.0


class Collector:
    """A sink, as a connection would be, that keeps what it is given."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[str] = asyncio.Queue()
        self.ended = False

    def deliver(self, message: str) -> None:
        self.inbox.put_nowait(message)

    def end(self) -> None:
        self.ended = True

    async def take(self, count: int, timeout: float = WAIT) -> list[str]:
        """The next ``count`` messages, as delivered."""

        async def gather() -> list[str]:
            return [await self.inbox.get() for _ in range(count)]

        return await asyncio.wait_for(gather(), timeout)


@asynccontextmanager
async def running(
    url: str, prefix: str, on_gap: Callable[[], Awaitable[None]] | None = None
) -> AsyncIterator[RedisHub]:
    hub = RedisHub(url, prefix)
    if on_gap is not None:
        hub.set_on_gap(on_gap)
    await hub.start()
    try:
        yield hub
    finally:
        await hub.close()


def gap_flag() -> tuple[asyncio.Event, Callable[[], Awaitable[None]]]:
    flag = asyncio.Event()

    async def on_gap() -> None:
        flag.set()

    return flag, on_gap


async def test_a_message_reaches_the_sinks_of_both_processes_in_publish_order(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    hall_a, hall_b, booth_b = Collector(), Collector(), Collector()
    async with (
        running(redis_server.url, redis_prefix) as a,
        running(redis_server.url, redis_prefix) as b,
    ):
        with (
            a.local.attached(["hall"], hall_a),
            b.local.attached(["hall", "moderators"], hall_b),
            b.local.attached(["booth:7"], booth_b),
        ):
            expected = []
            for i in range(30):
                data = {"i": i, "name": "Zorggroep één"}
                await (a if i % 2 == 0 else b).publish("hall", "hall.booth", data)
                expected.append(encode("hall.booth", data))
            marker = encode("overview.state", {"marker": True})
            await a.publish("moderators", "overview.state", {"marker": True})
            await b.publish("booth:7", "booth.state", {"marker": True})

            assert await hall_a.take(30) == expected
            # Once each, though the sink listens to two topics, and nothing else before the
            # marker.
            assert await hall_b.take(31) == [*expected, marker]
            # The booth's sink heard none of the hall's messages.
            assert await booth_b.take(1) == [encode("booth.state", {"marker": True})]
            assert hall_a.inbox.empty()
    assert (a.published, b.published) == (16, 16)
    assert a.received == b.received == 32
    assert not (hall_a.ended or hall_b.ended or booth_b.ended)


async def test_a_listener_gets_event_and_data_decoded_in_every_process(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    heard_a: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    heard_b: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    data = {"booths": [1, 2], "text": "wachttijd ± 5 min", "nested": {"ok": True}}
    async with (
        running(redis_server.url, redis_prefix) as a,
        running(redis_server.url, redis_prefix) as b,
    ):
        a.listen("deadlines.wake", lambda event, value: heard_a.put_nowait((event, value)))
        b.listen("deadlines.wake", lambda event, value: heard_b.put_nowait((event, value)))
        await b.publish("deadlines.wake", "deadlines.wake", data)
        await a.publish("deadlines.wake", "deadlines.wake", {})
        for heard in (heard_a, heard_b):
            assert await asyncio.wait_for(heard.get(), WAIT) == ("deadlines.wake", data)
            assert await asyncio.wait_for(heard.get(), WAIT) == ("deadlines.wake", {})


async def test_another_prefix_hears_nothing(redis_server: RedisServer, redis_prefix: str) -> None:
    mine, theirs = Collector(), Collector()
    async with (
        running(redis_server.url, redis_prefix) as hub,
        running(redis_server.url, unique_prefix("another-hall")) as other,
    ):
        assert hub.channel != other.channel
        with hub.local.attached(["hall"], mine), other.local.attached(["hall"], theirs):
            await hub.publish("hall", "hall.booth", {"from": "mine"})
            await other.publish("hall", "hall.booth", {"from": "theirs"})
            await hub.publish("hall", "hall.booth", {"from": "mine", "last": True})
            assert await theirs.take(1) == [encode("hall.booth", {"from": "theirs"})]
            assert await mine.take(2) == [
                encode("hall.booth", {"from": "mine"}),
                encode("hall.booth", {"from": "mine", "last": True}),
            ]
    assert other.received == 1


async def test_after_a_redis_restart_the_hub_resubscribes_and_reports_the_gap(
    tmp_path: Path, redis_prefix: str
) -> None:
    """A server of this test's own, since it is stopped and started again."""
    with RedisServer(directory=tmp_path / "redis") as server:
        port = server.port
        gap_a, on_gap_a = gap_flag()
        gap_b, on_gap_b = gap_flag()
        sink_a, sink_b = Collector(), Collector()
        async with AsyncExitStack() as stack:
            a = await stack.enter_async_context(running(server.url, redis_prefix, on_gap_a))
            b = await stack.enter_async_context(running(server.url, redis_prefix, on_gap_b))
            stack.enter_context(a.local.attached(["hall"], sink_a))
            stack.enter_context(b.local.attached(["hall"], sink_b))

            await a.publish("hall", "hall.booth", {"n": 0})
            for sink in (sink_a, sink_b):
                assert await sink.take(1) == [encode("hall.booth", {"n": 0})]
            assert not gap_a.is_set() and not gap_b.is_set()

            server.stop()
            # While Redis is away a publish is lost, but never fails the caller: the change
            # it tells of was already committed.
            await a.publish("hall", "hall.booth", {"n": "lost"})
            assert a.publish_failures == 1
            server.start()
            assert server.port == port

            await asyncio.wait_for(asyncio.gather(gap_a.wait(), gap_b.wait()), 15)
            assert (a.gaps, b.gaps) == (1, 1)

            # Both processes publish again over the connections they already had, and
            # both hear everything, in order.
            later = [encode("hall.booth", {"n": n}) for n in (1, 2, 3, 4)]
            for n in (1, 2, 3, 4):
                await (a if n % 2 else b).publish("hall", "hall.booth", {"n": n})
            for sink in (sink_a, sink_b):
                assert await sink.take(4) == later
            assert (a.gaps, b.gaps) == (1, 1)
