"""Rate limits: the pure limiters with a fake clock, and against a real server process: a
flooding socket is answered ``rate.limited`` and then closed, a user's sockets share one
budget, connections are capped, and candidates make only so many requests a minute."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from app.core.ratelimit import ConnectionCap, MessageLimiter, SocketLimits, TokenBucket, UserBuckets
from tests.livekit import Browserless, LiveServer, Peer, World, csrf_from


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# -- pure ----------------------------------------------------------------------------------------


def test_bucket_allows_a_burst_then_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=20, burst=40, clock=clock)
    assert [bucket.take() for _ in range(40)] == [0.0] * 40
    wait = bucket.take()
    assert wait == pytest.approx(1 / 20)
    clock.now += 0.5  # ten tokens back
    assert [bucket.take() for _ in range(10)] == [0.0] * 10
    assert bucket.take() > 0
    clock.now += 1000
    assert bucket.tokens == 40  # never more than the burst


def test_bucket_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate=0, burst=10, clock=FakeClock())
    with pytest.raises(ValueError):
        TokenBucket(rate=1, burst=0, clock=FakeClock())


def test_a_refused_message_takes_no_token_and_a_flood_becomes_abuse() -> None:
    clock = FakeClock()
    limiter = MessageLimiter(TokenBucket(1, 2, clock), None, clock, strikes=3, strike_rate=1)
    assert limiter.admit().allowed and limiter.admit().allowed
    refused = [limiter.admit() for _ in range(4)]
    assert [v.allowed for v in refused] == [False] * 4
    assert [v.abusive for v in refused] == [False, False, False, True]
    assert refused[0].retry_after == pytest.approx(1.0)
    clock.now += 1.0
    assert limiter.admit().allowed  # refusals cost no tokens: one second brings one back


def test_connections_of_one_user_share_a_bucket() -> None:
    clock = FakeClock()
    users = UserBuckets(rate=1, burst=3, clock=clock)
    first = MessageLimiter(TokenBucket(10, 10, clock), users.acquire("u"), clock)
    second = MessageLimiter(TokenBucket(10, 10, clock), users.acquire("u"), clock)
    other = MessageLimiter(TokenBucket(10, 10, clock), users.acquire("v"), clock)
    assert first.admit().allowed and second.admit().allowed and first.admit().allowed
    assert not second.admit().allowed  # the user's three are spent, over two connections
    assert other.admit().allowed  # someone else is not affected
    users.release("u")
    assert len(users) == 2
    users.release("u")
    users.release("v")
    assert len(users) == 0


def test_connection_cap_per_key() -> None:
    cap = ConnectionCap(2)
    assert cap.try_open("a") and cap.try_open("a")
    assert not cap.try_open("a")
    assert cap.try_open("b")
    cap.close("a")
    assert cap.count("a") == 1 and cap.try_open("a")
    with pytest.raises(ValueError):
        ConnectionCap(0)


def test_socket_limits_use_the_address_cap_for_anonymous_visitors() -> None:
    limits = SocketLimits(
        rate=1, burst=1, user_rate=1, user_burst=1, per_user=1, per_ip=5, clock=FakeClock()
    )
    assert limits.cap_for(None) is limits.addresses
    assert limits.cap_for(("advisor", 3)) is limits.users
    assert limits.limiter(None).user is None
    assert limits.limiter(("advisor", 3)).user is not None
    limits.release(("advisor", 3))
    assert len(limits.user_buckets) == 0


# -- against a real server --------------------------------------------------------------------

LIMITS = {
    "INZOOMEN_WS_RATE": "5",
    "INZOOMEN_WS_BURST": "10",
    "INZOOMEN_WS_USER_RATE": "5",
    "INZOOMEN_WS_USER_BURST": "15",
    "INZOOMEN_WS_CONNECTIONS_PER_USER": "3",
    "INZOOMEN_WS_CONNECTIONS_PER_IP": "4",
    "INZOOMEN_REQUESTS_PER_MINUTE": "3",
}


@pytest.fixture
def limited(world_db: tuple[Path, World], tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(world_db[0], tmp_path / "limited.log", env=LIMITS)
    live.start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
async def people(limited: LiveServer) -> AsyncIterator[list[Browserless]]:
    made: list[Browserless] = []
    yield made
    for visitor in made:
        await visitor.aclose()


def person(server: LiveServer, people: list[Browserless]) -> Browserless:
    visitor = Browserless(server)
    people.append(visitor)
    return visitor


async def burst(peer: Peer, count: int, action: str = "clock.sync") -> list[dict[str, Any]]:
    """Send ``count`` commands at once and collect every reply."""
    return list(await asyncio.gather(*(peer.send(action) for _ in range(count))))


async def test_a_flood_is_answered_rate_limited_and_not_performed(
    limited: LiveServer, people: list[Browserless], world: World
) -> None:
    advisor = person(limited, people)
    await advisor.log_in("b1@test.example")
    peer = await advisor.socket()
    replies = list(
        await asyncio.gather(
            *(peer.send("advisor.status", {"status": "paused"}) for _ in range(14))
        )
    )
    ok = [r for r in replies if r["ok"]]
    refused = [r for r in replies if not r["ok"]]
    assert 10 <= len(ok) <= 11  # the burst, and at most one token refilled meanwhile
    assert len(ok) + len(refused) == 14
    for reply in refused:
        assert reply["error"]["code"] == "rate.limited"
        assert 0 < reply["error"]["retry_after"] <= 1
        assert "seconden" in reply["error"]["message"]
        assert "data" not in reply
    await asyncio.sleep(max(r["error"]["retry_after"] for r in refused) + 0.05)
    assert (await peer.send("clock.sync"))["ok"]
    await peer.close()


async def test_sustained_abuse_closes_the_socket_with_1008(
    limited: LiveServer, people: list[Browserless], world: World
) -> None:
    peer = await person(limited, people).socket()
    frame = json.dumps({"id": "x", "action": "clock.sync", "data": {}})
    with pytest.raises(ConnectionClosed):
        for _ in range(400):
            await peer.connection.send(frame)
        await asyncio.sleep(2)
        await peer.connection.send(frame)
    error = await peer.wait_closed()
    assert isinstance(error, ConnectionClosed) and error.rcvd is not None
    assert (error.rcvd.code, error.rcvd.reason) == (1008, "rate.limited")


async def test_a_users_sockets_share_one_budget(
    limited: LiveServer, people: list[Browserless], world: World
) -> None:
    moderator = person(limited, people)
    await moderator.log_in("mod@test.example")
    first, second = await moderator.socket(), await moderator.socket()
    replies = await asyncio.gather(burst(first, 10), burst(second, 10))
    ok = sum(1 for reply in replies[0] + replies[1] if reply["ok"])
    assert 15 <= ok <= 17  # the user's burst of 15 (each socket alone would allow 10)
    await first.close()
    await second.close()


async def close_reason(peer_or_url: Any, cookie: str | None, origin: str) -> tuple[int, str]:
    headers = {"Cookie": cookie} if cookie else {}
    async with connect(
        peer_or_url,
        origin=origin,  # type: ignore[arg-type]
        additional_headers=headers,
        compression=None,
    ) as connection:
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(connection.recv(), 5)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


async def test_connections_are_capped_per_user_and_per_address(
    limited: LiveServer, people: list[Browserless], world: World
) -> None:
    advisor = person(limited, people)
    await advisor.log_in("a1@test.example")
    open_ones = [await advisor.socket() for _ in range(3)]
    cookie = advisor.cookie_header()
    assert await close_reason(limited.ws_url, cookie, limited.url) == (
        4008,
        "connections.too_many",
    )
    await open_ones.pop().close()
    await asyncio.sleep(0.2)
    open_ones.append(await advisor.socket())  # room again after one closed
    # Another user is not affected; anonymous visitors count per address.
    anonymous = [await person(limited, people).socket() for _ in range(4)]
    assert await close_reason(limited.ws_url, None, limited.url) == (4008, "connections.too_many")
    for peer in open_ones + anonymous:
        await peer.close()


async def test_request_creation_is_limited_per_candidate_over_socket_and_form(
    limited: LiveServer, people: list[Browserless], world: World
) -> None:
    candidate = person(limited, people)
    await candidate.sign_in_candidate("Snelle Sanne", "snel@example.nl")
    peer = await candidate.socket()
    for n in range(3):
        made = await peer.send("request.create", {"booth_id": world.booth_a, "client_key": f"k{n}"})
        assert made["ok"], made
        again = await peer.send(
            "request.create", {"booth_id": world.booth_a, "client_key": f"k{n}"}
        )
        assert again["ok"] and again["data"]["created"] is False  # a repeat is never refused
        cancelled = await peer.send("request.cancel", {"request_id": made["data"]["request_id"]})
        assert cancelled["ok"], cancelled
    over = await peer.send("request.create", {"booth_id": world.booth_a, "client_key": "k3"})
    assert over["error"]["code"] == "rate.limited"
    page = await candidate.http.get(f"/inzoomen/{world.booth_a}")
    form = await candidate.http.post(
        f"/inzoomen/{world.booth_a}",
        data={"csrf": csrf_from(page.text), "client_key": "via-formulier", "question": ""},
    )
    assert form.status_code == 429
    assert "seconden" in form.text
    with sqlite3.connect(limited.db_path) as raw:
        assert raw.execute("SELECT COUNT(*) FROM requests").fetchone()[0] == 3
    await peer.close()
