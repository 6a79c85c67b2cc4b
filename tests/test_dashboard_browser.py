"""The moderator's dashboard in real Chromium against a real server: an alert appears by
itself when a queue builds up at a booth with nobody there, and the live view can be paused
(nothing changes while paused, even as new states arrive) and resumed (the latest state at
once). Pages are checked with axe-core (the ``checked_browser`` fixture)."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest
from playwright.async_api import Page, WebSocket, expect

from tests.a11ykit import CheckedBrowser
from tests.browserkit import log_in
from tests.livekit import Browserless, LiveServer, World

pytestmark = pytest.mark.browser


async def _queue(visitor: Browserless, booth_id: int, name: str, email: str) -> None:
    await visitor.sign_in_candidate(name, email)
    token = await visitor.csrf(f"/inzoomen/{booth_id}")
    response = await visitor.http.post(
        f"/inzoomen/{booth_id}", data={"csrf": token, "question": "", "client_key": email}
    )
    assert response.status_code == 303, response.text[-500:]


class Frames:
    """The overview states the page's WebSocket received, as the browser got them."""

    def __init__(self, page: Page) -> None:
        self.states: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()
        page.on("websocket", self._socket)

    def _socket(self, socket: WebSocket) -> None:
        socket.on("framereceived", self._frame)

    def _frame(self, payload: str | bytes) -> None:
        try:
            frame = json.loads(payload)
        except ValueError:
            return
        if isinstance(frame, dict) and frame.get("event") == "overview.state":
            self.states.append(frame["data"])
            self.arrived.set()

    async def wait_for(self, where: Any, timeout: float = 15) -> dict[str, Any]:
        async def wait() -> dict[str, Any]:
            while True:
                for state in self.states:
                    if where(state):
                        return state
                self.arrived.clear()
                await self.arrived.wait()

        return await asyncio.wait_for(wait(), timeout)


async def test_an_alert_appears_by_itself_and_the_view_pauses(
    server: LiveServer, world: World, checked_browser: CheckedBrowser, new_visitor: Any
) -> None:
    context = await checked_browser.new_context()
    page = await context.new_page()
    frames = Frames(page)
    await log_in(page, server, "mod@test.example")
    await expect(page).to_have_url(re.compile("/moderator$"))
    await expect(page.get_by_test_id("live-status")).to_have_attribute("data-state", "connected")

    # Both booths are scheduled open and nobody is there yet; nobody waits.
    await expect(page.get_by_test_id("alert-nobody_present")).to_have_count(2)
    await expect(page.get_by_test_id("alert-no_advisor")).to_have_count(0)
    await expect(page.get_by_test_id("total-waiting")).to_have_text("0")

    # A candidate queues at booth B: the alert comes up with no reload, and is announced.
    await _queue(new_visitor(), world.booth_b, "Sanne de Vries", "sanne@example.nl")
    alert = page.get_by_test_id("alert-no_advisor")
    await expect(alert).to_have_count(1, timeout=10_000)
    await expect(alert).to_have_attribute("data-booth-id", str(world.booth_b))
    await expect(alert).to_contain_text("Bouwbedrijf B")
    await expect(alert.get_by_role("link")).to_have_attribute(
        "href", f"/moderator/ingrijpen#stand-{world.booth_b}"
    )
    await expect(page.get_by_test_id("announcer")).to_contain_text("Nieuwe melding")
    await expect(page.get_by_test_id("total-waiting")).to_have_text("1")
    await checked_browser.check(page, "dashboard with an alert")

    # Paused: a second candidate queues at booth A; the state arrives but is not shown.
    pause = page.get_by_test_id("pause")
    await expect(pause).to_have_attribute("aria-pressed", "false")
    await pause.click()
    await expect(pause).to_have_attribute("aria-pressed", "true")
    await expect(page.get_by_test_id("paused-note")).to_be_visible()
    await checked_browser.check(page, "dashboard paused")
    await _queue(new_visitor(), world.booth_a, "Mo Bakker", "mo@example.nl")
    await frames.wait_for(lambda s: s["totals"]["waiting"] == 2)
    # ...and so does the next periodic push (the time moved on, nothing else).
    seen = len(frames.states)
    await frames.wait_for(lambda s: frames.states.index(s) >= seen)
    await expect(page.get_by_test_id("total-waiting")).to_have_text("1")
    await expect(page.get_by_test_id("alert-no_advisor")).to_have_count(1)

    # Resumed: the latest state at once.
    await pause.click()
    await expect(pause).to_have_attribute("aria-pressed", "false")
    await expect(page.get_by_test_id("total-waiting")).to_have_text("2", timeout=1_000)
    await expect(page.get_by_test_id("alert-no_advisor")).to_have_count(2, timeout=1_000)
    await expect(page.get_by_test_id("paused-note")).to_be_hidden()
    await expect(page.get_by_test_id("chart-day")).to_be_visible()
    await context.close()
