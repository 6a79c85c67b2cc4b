"""Notes in the advisor's console, in real Chromium: typed, kept while the console updates
live, saved over the socket, and found again on the conversation's page."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.a11ykit import CheckedBrowser
from tests.browserkit import sign_in, zoom_in_and_accept
from tests.livekit import LiveServer, World

pytestmark = pytest.mark.browser


async def test_notes_survive_live_updates_and_are_saved(
    server: LiveServer, world: World, checked_browser: CheckedBrowser
) -> None:
    browser = checked_browser
    candidate = await (await browser.new_context(viewport={"width": 360, "height": 740})).new_page()
    advisor = await (await browser.new_context()).new_page()
    await zoom_in_and_accept(server, world, candidate, advisor)

    notes = advisor.get_by_label("Notities", exact=True)
    await notes.fill("Wil BBL in de zorg.\nBelt volgende week terug.")
    # Someone else joins the queue: the console updates live and the typing stays.
    other = await (await browser.new_context()).new_page()
    await sign_in(other, server, "Kees", "kees@example.nl", f"/inzoomen/{world.booth_a}")
    await other.get_by_role("button", name="Inzoomen").click()
    await expect(advisor.get_by_test_id("queue-item")).to_contain_text("Kees")
    await expect(notes).to_have_value("Wil BBL in de zorg.\nBelt volgende week terug.")

    await advisor.get_by_test_id("save-notes").click()
    await expect(advisor.get_by_test_id("notes-saved")).to_have_text("Notities opgeslagen.")
    await expect(advisor).to_have_url(re.compile("/adviseur$"))  # saved without leaving
    await browser.check(advisor, "console with notes")

    # The candidate's page never shows them.
    await candidate.reload()
    await expect(candidate.get_by_test_id("video-link")).to_be_visible()
    assert "Belt volgende week terug" not in await candidate.content()

    # Ending still works from a panel the console built live (both forms carry the id).
    await advisor.get_by_test_id("end-conversation").click()
    await expect(advisor.get_by_test_id("no-conversation")).to_be_visible()
    await expect(candidate.locator("#my-request")).to_contain_text("afgelopen")

    # The conversation's page, from the booth's list, holds them.
    await advisor.reload()
    await advisor.get_by_test_id("conversation-link").first.click()
    await expect(advisor.get_by_test_id("notes")).to_have_value(
        "Wil BBL in de zorg.\nBelt volgende week terug."
    )
    await browser.check(advisor, "conversation page")
