"""``/metrics`` against a real server on loopback: who may read it, and figures that follow
what happens in the hall."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.livekit import Browserless, LiveServer, World, seed_world

TOKEN = "metrics-token-for-the-tests-0123"
BEARER = {"Authorization": f"Bearer {TOKEN}"}

Figures = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def server(world_db: tuple[Path, World], tmp_path: Path) -> Iterator[LiveServer]:
    """The test hall, with a metrics token configured."""
    live = LiveServer(world_db[0], tmp_path / "server.log", env={"INZOOMEN_METRICS_TOKEN": TOKEN})
    live.start()
    try:
        yield live
    finally:
        live.stop()


def parse(text: str) -> Figures:
    figures: Figures = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            figures[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return figures


def value(figures: Figures, name: str, **labels: str) -> float:
    return figures[(name, frozenset(labels.items()))]


async def scrape(visitor: Browserless, headers: dict[str, str] | None = None) -> Figures:
    response = await visitor.http.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["cache-control"] == "no-store"
    return parse(response.text)


async def until(
    check: Callable[[Figures], bool], visitor: Browserless, timeout: float = 5
) -> Figures:
    """Scrape until ``check(figures)`` holds (the server counts a closed socket a moment
    after the client saw it close)."""
    deadline = time.monotonic() + timeout
    while True:
        figures = await scrape(visitor, BEARER)
        if check(figures) or time.monotonic() > deadline:
            return figures
        await asyncio.sleep(0.05)


async def test_anonymous_and_wrong_tokens_are_refused(new_visitor) -> None:
    visitor: Browserless = new_visitor()
    for headers in (
        None,
        {"Authorization": "Bearer wrong-token-of-the-same-size-x"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": "Bearer"},
        {"Authorization": f"Basic {TOKEN}"},
    ):
        response = await visitor.http.get("/metrics", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert "inzoomen_" not in response.text and "process_" not in response.text


async def test_candidates_and_advisors_are_refused(new_visitor) -> None:
    candidate: Browserless = new_visitor()
    await candidate.sign_in_candidate()
    advisor: Browserless = new_visitor()
    await advisor.log_in("a1@test.example")
    for visitor in (candidate, advisor):
        response = await visitor.http.get("/metrics")
        assert response.status_code == 403
        assert response.headers["cache-control"] == "no-store"
        assert "inzoomen_" not in response.text and "process_" not in response.text


async def test_moderator_and_token_may_read(server: LiveServer, new_visitor) -> None:
    moderator: Browserless = new_visitor()
    await moderator.log_in("mod@test.example")
    by_session = await scrape(moderator)
    by_token = await scrape(new_visitor(), BEARER)
    for figures in (by_session, by_token):
        assert server.process is not None
        info = [labels for name, labels in figures if name == "inzoomen_process_info"]
        assert dict(info[0])["pid"] == str(server.process.pid)
        assert value(figures, "inzoomen_requests_waiting") == 0
        assert value(figures, "inzoomen_booth_requests_waiting", booth="zorg-a") == 0
        assert value(figures, "inzoomen_booth_requests_waiting", booth="bouw-b") == 0
        assert value(figures, "inzoomen_conversations_running") == 0
        assert value(figures, "inzoomen_advisors", status="offline") == 3
        assert value(figures, "process_resident_memory_bytes") > 0
    # A moderator's session does not make a wrong token right.
    wrong = await moderator.http.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


async def test_figures_follow_the_hall(new_visitor, world: World) -> None:
    scraper: Browserless = new_visitor()
    advisor: Browserless = new_visitor()
    await advisor.log_in("a1@test.example")
    console = await advisor.socket()
    watcher = await new_visitor().socket()
    figures = await scrape(scraper, BEARER)
    assert value(figures, "inzoomen_connections", role="advisor") == 1
    assert value(figures, "inzoomen_connections", role="anonymous") == 1
    assert value(figures, "inzoomen_connections", role="candidate") == 0
    assert value(figures, "inzoomen_advisors", status="available") == 1
    assert value(figures, "inzoomen_booth_advisors_present", booth="zorg-a") == 1
    assert value(figures, "inzoomen_booth_advisors_present", booth="bouw-b") == 0
    assert value(figures, "inzoomen_longest_wait_seconds") == 0

    candidate: Browserless = new_visitor()
    await candidate.sign_in_candidate("Sanne de Vries")
    me = await candidate.socket()
    reply = await me.send("request.create", {"booth_id": world.booth_a, "client_key": "m1"})
    assert reply["ok"], reply
    figures = await scrape(scraper, BEARER)
    assert value(figures, "inzoomen_connections", role="candidate") == 1
    assert value(figures, "inzoomen_requests_waiting") == 1
    assert value(figures, "inzoomen_booth_requests_waiting", booth="zorg-a") == 1
    assert value(figures, "inzoomen_booth_requests_waiting", booth="bouw-b") == 0
    assert 0 <= value(figures, "inzoomen_longest_wait_seconds") < 30
    assert value(figures, "inzoomen_requests_today", status="waiting") == 1

    accepted = await console.send("request.accept", {"request_id": reply["data"]["request_id"]})
    assert accepted["ok"], accepted
    figures = await scrape(scraper, BEARER)
    assert value(figures, "inzoomen_conversations_running") == 1
    assert value(figures, "inzoomen_conversations_overtime") == 0
    assert value(figures, "inzoomen_conversations_started_today") == 1
    assert value(figures, "inzoomen_conversations_started_total") == 1
    assert value(figures, "inzoomen_requests_waiting") == 0
    assert value(figures, "inzoomen_longest_wait_seconds") == 0
    assert value(figures, "inzoomen_requests_today", status="accepted") == 1
    assert value(figures, "inzoomen_advisors", status="in_conversation") == 1
    assert value(figures, "inzoomen_advisors", status="available") == 0

    await me.close()
    await watcher.close()
    figures = await until(
        lambda f: (
            value(f, "inzoomen_connections", role="candidate") == 0
            and value(f, "inzoomen_connections", role="anonymous") == 0
        ),
        scraper,
    )
    assert value(figures, "inzoomen_connections", role="candidate") == 0
    assert value(figures, "inzoomen_connections", role="anonymous") == 0
    assert value(figures, "inzoomen_connections", role="advisor") == 1
    await console.close()


@pytest.fixture
async def quick_hall(tmp_path: Path) -> AsyncIterator[tuple[LiveServer, World]]:
    """A hall of its own whose conversations last 2 s, with the metrics token."""
    path = tmp_path / "quick.db"
    world = await seed_world(path, conversation_seconds=2, warning_seconds=1)
    env = {"INZOOMEN_METRICS_TOKEN": TOKEN}
    live = LiveServer(path, tmp_path / "quick-server.log", env=env)
    live.start()
    try:
        yield live, world
    finally:
        live.stop()


async def test_overtime_until_the_advisor_ends(quick_hall: tuple[LiveServer, World]) -> None:
    server, world = quick_hall
    scraper, advisor, candidate = (Browserless(server) for _ in range(3))
    try:
        await advisor.log_in("a1@test.example")
        console = await advisor.socket()
        await candidate.sign_in_candidate()
        me = await candidate.socket()
        reply = await me.send("request.create", {"booth_id": world.booth_a, "client_key": "q"})
        request_id = reply["data"]["request_id"]
        accepted = await console.send("request.accept", {"request_id": request_id})
        assert accepted["ok"], accepted
        figures = await until(lambda f: value(f, "inzoomen_conversations_overtime") == 1, scraper)
        assert value(figures, "inzoomen_conversations_overtime") == 1
        assert value(figures, "inzoomen_conversations_running") == 1
        conversation_id = accepted["data"]["conversation_id"]
        ended = await console.send("conversation.end", {"conversation_id": conversation_id})
        assert ended["ok"], ended
        figures = await scrape(scraper, BEARER)
        assert value(figures, "inzoomen_conversations_overtime") == 0
        assert value(figures, "inzoomen_conversations_running") == 0
        assert value(figures, "inzoomen_conversations_started_today") == 1
        await me.close()
        await console.close()
    finally:
        for visitor in (scraper, advisor, candidate):
            await visitor.aclose()
