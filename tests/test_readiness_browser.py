"""Readiness in real Chromium: the candidate who is next is asked "Ben je er klaar voor?"
with the time stated in words and counted down, and a flashing tab title; they confirm and
the advisor's console shows "klaar"; after acceptance the join button goes through the
server and the console shows that they joined. And one no-show: a candidate who lets the
prompt pass twice is told kindly that their place was given up."""

from __future__ import annotations

import re
import sqlite3

import pytest
from playwright.async_api import expect

from tests.a11ykit import CheckedBrowser
from tests.browserkit import log_in, sign_in
from tests.livekit import LiveServer, World

# What the stand-in video service shows: a small page that is itself accessible (the
# checked browser runs axe on every page it loads).
VIDEO_PAGE = '<!doctype html><html lang="nl"><title>Video</title><main><p>Video</p></main></html>'


pytestmark = pytest.mark.browser

ASKED_TITLE = re.compile(r"^\(!\) Ben je er klaar voor\?")


async def test_the_prompt_is_confirmed_and_the_console_shows_klaar(
    server: LiveServer, world: World, checked_browser: CheckedBrowser
) -> None:
    browser = checked_browser
    advisor = await (await browser.new_context()).new_page()
    candidate_ctx = await browser.new_context(viewport={"width": 360, "height": 740})
    candidate = await candidate_ctx.new_page()
    await log_in(advisor, server, "a1@test.example")
    await sign_in(
        candidate, server, "Sanne de Vries", "sanne@example.nl", f"/inzoomen/{world.booth_a}"
    )
    await candidate.get_by_role("button", name="Inzoomen").click()
    await expect(candidate).to_have_url(re.compile("/mijn-verzoek$"))

    # The advisor is free: Sanne is asked, with the limit in words and a countdown.
    prompt = candidate.get_by_test_id("ready-prompt")
    await expect(prompt).to_be_visible()
    await expect(prompt.get_by_role("heading")).to_have_text("Ben je er klaar voor?")
    await expect(candidate.get_by_test_id("ready-limit")).to_contain_text("Je hebt 60 seconden")
    await expect(candidate.get_by_test_id("ready-countdown")).to_contain_text(
        re.compile(r"00:[45]\d|01:00")
    )
    await expect(candidate.get_by_test_id("more-time")).to_be_visible()
    # The tab title flashes while the prompt is unanswered.
    await expect(candidate).to_have_title(ASKED_TITLE)
    await expect(candidate).not_to_have_title(ASKED_TITLE)
    await expect(candidate).to_have_title(ASKED_TITLE)
    await browser.check(candidate, "readiness prompt")

    item = advisor.get_by_test_id("queue-item")
    await expect(item.get_by_test_id("ready-asked-tag")).to_be_visible()
    await expect(item.get_by_test_id("ready-tag")).to_be_hidden()

    await candidate.get_by_test_id("ready").click()
    await expect(candidate.get_by_test_id("ready-done")).to_be_visible()
    await expect(prompt).to_be_hidden()
    await expect(candidate).not_to_have_title(ASKED_TITLE)
    await candidate.wait_for_timeout(1200)
    await expect(candidate).not_to_have_title(ASKED_TITLE)  # the flashing stopped

    # The console shows "klaar" by itself.
    await expect(item.get_by_test_id("ready-tag")).to_have_text("klaar")
    await expect(item.get_by_test_id("ready-asked-tag")).to_be_hidden()
    await browser.check(advisor, "console with a ready candidate")

    # Accepted: the console says the candidate has not joined yet; the join button goes
    # through the server and opens the call; then the console says they joined.
    await item.get_by_test_id("accept").click()
    joined = advisor.get_by_test_id("joined")
    await expect(joined).to_have_text("De kandidaat heeft het gesprek nog niet geopend.")
    button = candidate.get_by_test_id("video-link")
    await expect(button).to_be_visible()
    await expect(candidate.get_by_test_id("join-limit")).to_contain_text("120 seconden")
    # The video service of the test world does not exist: the browser gets a stand-in page.
    await candidate_ctx.route(
        re.compile(r"^https://meet\.example\.test/"),
        lambda route: route.fulfill(body=VIDEO_PAGE, content_type="text/html"),
    )
    async with candidate_ctx.expect_page() as popup_info:
        await button.click()
    popup = await popup_info.value
    await popup.wait_for_load_state()
    assert popup.url == await button.get_attribute("data-href")
    await expect(joined).to_have_text("De kandidaat is in het gesprek.")
    await expect(joined).to_have_attribute("data-joined", "yes")
    await popup.close()


async def test_letting_the_prompt_pass_twice_is_a_no_show(
    server: LiveServer, world: World, checked_browser: CheckedBrowser
) -> None:
    # Short limits, in the event's settings (the moderator's form allows 20 s and up).
    connection = sqlite3.connect(server.db_path)
    with connection:
        connection.execute("UPDATE event SET ready_seconds = 3, ready_step_back = 3")
    connection.close()
    browser = checked_browser
    advisor = await (await browser.new_context()).new_page()
    candidate = await (await browser.new_context()).new_page()
    await log_in(advisor, server, "a1@test.example")
    await sign_in(candidate, server, "Ada Weg", "ada@example.nl", f"/inzoomen/{world.booth_a}")
    await candidate.get_by_role("button", name="Inzoomen").click()
    await expect(candidate.get_by_test_id("ready-prompt")).to_be_visible()
    await expect(candidate.get_by_test_id("ready-limit")).to_contain_text("Je hebt 3 seconden")

    # Nobody answers: alone in line she is asked again, and after the second time her
    # request ends kindly; she may zoom in again.
    told = candidate.get_by_test_id("expired-no-show")
    await expect(told).to_be_visible(timeout=15_000)
    await expect(told).to_contain_text("We hebben je twee keer gevraagd")
    await expect(candidate).not_to_have_title(ASKED_TITLE)
    await expect(advisor.get_by_test_id("queue-item")).to_have_count(0)
    await browser.check(candidate, "no-show told")
    await candidate.get_by_test_id("back-to-hall").click()
    await expect(candidate).to_have_url(re.compile(r"/$"))
