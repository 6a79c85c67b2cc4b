"""Rating a conversation in real Chromium: the advisor ends it, the rating form appears on
the candidate's page without a reload, the candidate rates it 4 with a comment over the
socket and is thanked; the moderator's report shows that booth's average."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.a11ykit import CheckedBrowser
from tests.browserkit import log_in, zoom_in_and_accept
from tests.livekit import LiveServer, World

pytestmark = pytest.mark.browser

COMMENT = "Duidelijk advies <b>over</b> BBL, dank!"


async def test_rate_after_the_conversation_ends(
    server: LiveServer, world: World, checked_browser: CheckedBrowser
) -> None:
    browser = checked_browser
    candidate = await (await browser.new_context(viewport={"width": 360, "height": 740})).new_page()
    advisor = await (await browser.new_context()).new_page()
    await zoom_in_and_accept(server, world, candidate, advisor)
    await expect(candidate.get_by_test_id("rate")).to_have_count(0)

    navigations: list[str] = []
    candidate.on("framenavigated", lambda frame: navigations.append(frame.url))
    await advisor.get_by_test_id("end-conversation").click()

    # The form appears live: a fieldset with its legend, real radio inputs 1-5.
    group = candidate.get_by_role("group", name=re.compile("Hoe vond je het gesprek"))
    await expect(group).to_be_visible()
    await expect(group.get_by_role("radio")).to_have_count(5)
    await browser.check(candidate, "rating form")
    comment = candidate.get_by_label("Opmerking (mag leeg blijven)")
    await expect(comment).to_have_attribute("maxlength", "1000")
    await group.get_by_role("radio", name=re.compile(r"\b4$")).check()
    await comment.fill(COMMENT)
    await candidate.get_by_test_id("rate-submit").click()

    thanks = candidate.get_by_test_id("rated")
    await expect(thanks).to_contain_text("Bedankt voor je beoordeling!")
    await expect(candidate.get_by_test_id("rated-rating")).to_have_text("4")
    await expect(candidate.get_by_test_id("rated-comment")).to_have_text(COMMENT)
    await expect(candidate.get_by_test_id("rate")).to_be_hidden()
    await expect(thanks).to_be_focused()
    await browser.check(candidate, "rated")
    assert navigations == [], f"the page was reloaded: {navigations}"

    # After a reload the page still shows the rating given, and no form.
    await candidate.reload()
    await expect(candidate.get_by_test_id("rated-rating")).to_have_text("4")
    await expect(candidate.get_by_test_id("rate")).to_be_hidden()

    moderator = await (await browser.new_context()).new_page()
    await log_in(moderator, server, "mod@test.example")
    await moderator.goto(f"{server.url}/rapport")
    row = moderator.get_by_test_id(f"booth-row-{world.booth_a}")
    average = row.locator('[data-field="rating"]')
    await expect(average).to_have_text(re.compile(r"^\s*4([,.]0)?\s*$"))
