"""The end of the ten minutes in real Chromium: at the warning the advisor's console shows
the choices (extend, book a follow-up), one click extends, and the countdowns on both the
advisor's and the candidate's page count to the new end at once."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.a11ykit import CheckedBrowser
from tests.browserkit import zoom_in_and_accept
from tests.livekit import LiveServer, World, seed_world

pytestmark = pytest.mark.browser

# Conversations of 60 s with the warning at 57 s left: the choices come after 3 s.
LENGTH = 60
WARNING = 57


@pytest.fixture
async def hall(tmp_path: Path) -> AsyncIterator[tuple[LiveServer, World]]:
    path = tmp_path / "extend.db"
    world = await seed_world(path, conversation_seconds=LENGTH, warning_seconds=WARNING)
    live = LiveServer(path, tmp_path / "extend-server.log")
    live.start()
    try:
        yield live, world
    finally:
        live.stop()


async def remaining(page: Page) -> int:
    value = await page.get_by_test_id("countdown").get_attribute("data-remaining")
    assert value is not None
    return int(value)


async def test_one_click_at_the_warning_extends_both_timers(
    hall: tuple[LiveServer, World], checked_browser: CheckedBrowser
) -> None:
    server, world = hall
    browser = checked_browser
    candidate = await (await browser.new_context(viewport={"width": 360, "height": 740})).new_page()
    advisor = await (await browser.new_context()).new_page()
    await zoom_in_and_accept(server, world, candidate, advisor)

    choices = advisor.get_by_test_id("end-choices")
    # Not before the warning; then the two choices, one click each.
    assert await remaining(advisor) > WARNING
    await expect(choices).to_be_hidden()
    await expect(choices).to_be_visible(timeout=10_000)
    extend = choices.get_by_role("button", name="Verlengen met 5 minuten")
    follow_up = choices.get_by_role("link", name="Vervolgafspraak maken")
    await expect(extend).to_be_visible()
    conversation_id = await advisor.get_by_test_id("conversation").get_attribute(
        "data-conversation-id"
    )
    await expect(follow_up).to_have_attribute(
        "href", f"/adviseur/vervolgafspraak?gesprek={conversation_id}"
    )
    await expect(advisor.get_by_test_id("extend-waiting")).to_be_hidden()
    await browser.check(advisor, "console with the choices at the warning")
    before = await remaining(candidate)
    assert before <= WARNING
    end_text = (
        await candidate.get_by_test_id("state-conversation")
        .locator('[data-field="ends-at"]')
        .text_content()
    )

    await extend.click()
    # Both countdowns count to the new end at once (5 minutes later), without a reload.
    for page in (advisor, candidate):
        await expect(page.get_by_test_id("countdown")).to_have_attribute(
            "data-remaining", re.compile(r"^3[0-5][0-9]$"), timeout=3_000
        )
        await expect(page.get_by_test_id("countdown")).not_to_have_class(re.compile("warning"))
    assert 300 < await remaining(candidate) <= before + 300
    await expect(
        candidate.get_by_test_id("state-conversation").locator('[data-field="ends-at"]')
    ).not_to_have_text(end_text or "")
    # Out of the warning again: the choices go away until the new warning.
    await expect(choices).to_be_hidden()
    await expect(advisor).to_have_url(re.compile("/adviseur$"))

    # A reload of either page shows the new end from the server.
    await candidate.reload()
    assert await remaining(candidate) > 300
    await advisor.reload()
    assert await remaining(advisor) > 300
    await expect(advisor.get_by_test_id("end-choices")).to_be_hidden()
