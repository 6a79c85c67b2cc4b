"""The hall feed: views in revision order, versioned deltas, snapshots from memory."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from app.live.hall_feed import HallFeed
from app.live.hub import LocalFanout


def booth(booth_id: int, **fields: Any) -> dict[str, Any]:
    return {"id": booth_id, "name": f"Stand {booth_id}", "queue_length": 0, **fields}


def feed_with(*views: dict[str, Any]) -> tuple[HallFeed, LocalFanout]:
    fanout = LocalFanout()
    feed = HallFeed(fanout, clock=lambda: 100.0)
    feed.offer(views, rev=1, at=10.0, complete=True, event={"name": "Beurs"})
    return feed, fanout


async def deltas(fanout: LocalFanout, feed: HallFeed) -> list[dict[str, Any]]:
    with fanout.subscribed(["hall"]) as inbox:
        await feed.push_pending()
        return [json.loads(m)["data"] for m in inbox.drain()]


async def test_snapshot_is_the_whole_hall_in_order_with_its_version() -> None:
    feed, _ = feed_with(booth(2), booth(1))
    snapshot = feed.snapshot()
    assert [b["id"] for b in snapshot["booths"]] == [2, 1]
    assert snapshot["event"] == {"name": "Beurs"}
    assert snapshot["v"] == 0


async def test_a_change_is_pushed_once_as_the_next_version() -> None:
    feed, fanout = feed_with(booth(1), booth(2))
    await deltas(fanout, feed)  # the first fill
    feed.offer([booth(2, queue_length=3)], rev=2, at=11.0)
    (delta,) = await deltas(fanout, feed)
    assert delta == {"v": 2, "booths": [booth(2, queue_length=3)], "removed": []}
    assert feed.snapshot()["v"] == 2
    assert feed.snapshot()["booths"][1]["queue_length"] == 3
    assert await deltas(fanout, feed) == []  # nothing new, nothing sent


async def test_an_older_view_arriving_later_is_ignored() -> None:
    feed, fanout = feed_with(booth(1))
    await deltas(fanout, feed)
    feed.offer([booth(1, queue_length=5)], rev=7, at=20.0)
    feed.offer([booth(1, queue_length=4)], rev=6, at=21.0)  # read before rev 7
    (delta,) = await deltas(fanout, feed)
    assert delta["booths"] == [booth(1, queue_length=5)]
    # The same revision read later (time moved on) does count.
    feed.offer([booth(1, queue_length=5, wait_minutes=2)], rev=7, at=30.0)
    (delta,) = await deltas(fanout, feed)
    assert delta["booths"][0]["wait_minutes"] == 2


async def test_changes_between_pushes_are_coalesced_latest_wins() -> None:
    feed, fanout = feed_with(booth(1), booth(2))
    await deltas(fanout, feed)
    for rev, length in enumerate(range(1, 6), start=2):
        feed.offer([booth(1, queue_length=length)], rev=rev, at=10.0 + rev)
    feed.offer([booth(2, queue_length=9)], rev=8, at=19.0)
    (delta,) = await deltas(fanout, feed)
    assert sorted((b["id"], b["queue_length"]) for b in delta["booths"]) == [(1, 5), (2, 9)]


async def test_an_unchanged_view_is_not_pushed() -> None:
    feed, fanout = feed_with(booth(1))
    await deltas(fanout, feed)
    feed.offer([booth(1)], rev=5, at=50.0)
    assert await deltas(fanout, feed) == []


async def test_a_complete_read_removes_booths_that_are_gone() -> None:
    feed, fanout = feed_with(booth(1), booth(2), booth(3))
    await deltas(fanout, feed)
    feed.offer([booth(3), booth(1)], rev=4, at=40.0, complete=True)
    (delta,) = await deltas(fanout, feed)
    assert delta["removed"] == [2]
    assert [b["id"] for b in feed.snapshot()["booths"]] == [3, 1]


async def test_the_push_time_is_measured_from_the_change() -> None:
    observed: list[float] = []
    now = [100.0]
    fanout = LocalFanout()
    feed = HallFeed(fanout, observe=observed.append, clock=lambda: now[0])
    feed.offer([booth(1)], rev=1, at=99.0, changed_at=99.5)
    now[0] = 100.25
    await feed.push_pending()
    assert observed == [0.75]


async def test_run_pushes_by_itself_when_a_change_arrives() -> None:
    feed, fanout = feed_with(booth(1))
    with fanout.subscribed(["hall"]) as inbox:
        task = asyncio.create_task(feed.run())
        try:
            first = json.loads(await asyncio.wait_for(inbox.get(), 2) or "")
            feed.offer([booth(1, queue_length=1)], rev=2, at=11.0)
            second = json.loads(await asyncio.wait_for(inbox.get(), 2) or "")
        finally:
            task.cancel()
    assert (first["data"]["v"], second["data"]["v"]) == (1, 2)
