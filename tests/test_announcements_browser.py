"""Announcements in real Chromium: the moderator posts one through the form, and a
candidate's open page shows it by itself; the candidate closes it for themselves, a new one
shows again, and one the moderator ends leaves every open page. Advisors also see the
advisors' own ones; candidates never do. Pages are checked with axe-core."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from tests.a11ykit import CheckedBrowser
from tests.browserkit import log_in, sign_in
from tests.livekit import LiveServer, World

pytestmark = pytest.mark.browser


async def post(moderator: Page, server: LiveServer, text: str, advisors: bool = False) -> None:
    await moderator.goto(f"{server.url}/moderator/mededelingen")
    await moderator.get_by_label("Tekst van de mededeling").fill(text)
    audience = "Alleen de adviseurs" if advisors else "Iedereen in de hal"
    await moderator.get_by_label(audience).check()
    await moderator.get_by_role("button", name="Mededeling plaatsen").click()
    await expect(moderator.get_by_test_id("announcement-done")).to_be_visible()


def banner(page: Page, text: str):  # type: ignore[no-untyped-def]
    return page.get_by_test_id("announcements").get_by_test_id("announcement").filter(has_text=text)


async def test_an_announcement_reaches_open_pages_and_can_be_closed(
    server: LiveServer, world: World, checked_browser: CheckedBrowser
) -> None:
    browser = checked_browser
    candidate = await (await browser.new_context(viewport={"width": 360, "height": 740})).new_page()
    advisor = await (await browser.new_context()).new_page()
    moderator = await (await browser.new_context()).new_page()
    visitor = await (await browser.new_context()).new_page()

    await sign_in(candidate, server, "Mo", "mo@example.nl", f"/inzoomen/{world.booth_a}")
    await candidate.get_by_role("button", name="Inzoomen").click()
    await expect(candidate).to_have_url(re.compile("/mijn-verzoek$"))
    await expect(candidate.get_by_test_id("live-status")).to_have_attribute(
        "data-state", "connected"
    )
    await log_in(advisor, server, "b1@test.example")
    await expect(advisor.get_by_test_id("live-status")).to_have_attribute("data-state", "connected")
    await visitor.goto(server.url)
    await expect(visitor.get_by_test_id("live-status")).to_have_attribute("data-state", "connected")
    await log_in(moderator, server, "mod@test.example")
    await candidate.get_by_test_id("nav-my-data").focus()

    await post(moderator, server, "Om 15:00 begint de pauze. <b>Tot straks!</b>")
    await post(moderator, server, "Adviseurs: koffie in zaal 2", advisors=True)
    await browser.check(moderator, "announcements page with two live")

    # Every open page shows the one for everyone by itself, as text, in a polite status.
    everyone = "Om 15:00 begint de pauze. <b>Tot straks!</b>"
    for page in (candidate, advisor, visitor):
        await expect(banner(page, everyone)).to_be_visible()
        await expect(banner(page, everyone).get_by_test_id("announcement-text")).to_have_text(
            everyone
        )
    region = candidate.get_by_test_id("announcements")
    await expect(region).to_have_attribute("role", "status")
    await expect(region).to_have_attribute("aria-live", "polite")
    await expect(candidate.locator("#announcements b")).to_have_count(0)
    # The focus stayed where it was: nobody was pulled to the banner.
    await expect(candidate.get_by_test_id("nav-my-data")).to_be_focused()
    # The advisors' one reaches the advisor, never the candidate or the visitor.
    await expect(banner(advisor, "koffie in zaal 2")).to_be_visible()
    await expect(advisor.get_by_test_id("announcement").first).to_contain_text("koffie in zaal 2")
    for page in (candidate, visitor):
        assert "koffie in zaal 2" not in await page.content()
    await browser.check(candidate, "my request with an announcement")

    # The candidate closes it: gone here, in their other tab, and after a reload.
    other_tab = await candidate.context.new_page()
    await other_tab.goto(server.url)
    await expect(banner(other_tab, everyone)).to_be_visible()
    await banner(candidate, everyone).get_by_role("button", name=re.compile("Sluiten")).click()
    await expect(banner(candidate, everyone)).to_have_count(0)
    await expect(banner(other_tab, everyone)).to_have_count(0)
    await other_tab.close()
    await candidate.reload()
    await expect(candidate.get_by_test_id("live-status")).to_have_attribute(
        "data-state", "connected"
    )
    await expect(banner(candidate, everyone)).to_have_count(0)
    # Closed for them only: the visitor still sees it.
    await expect(banner(visitor, everyone)).to_be_visible()

    # A new one shows again; ended, it leaves every open page by itself.
    await post(moderator, server, "De stand van Bouwbedrijf B sluit om 16:00.")
    for page in (candidate, advisor, visitor):
        await expect(banner(page, "Bouwbedrijf B sluit")).to_be_visible()
    live = moderator.get_by_test_id("live-announcement").filter(has_text="Bouwbedrijf B sluit")
    await live.get_by_role("button", name=re.compile("Beëindigen")).click()
    await expect(moderator.get_by_test_id("ended-announcement")).to_contain_text(
        "Bouwbedrijf B sluit"
    )
    for page in (candidate, advisor, visitor):
        await expect(banner(page, "Bouwbedrijf B sluit")).to_have_count(0)

    # A page without a live script of its own hears them too.
    await candidate.get_by_test_id("nav-my-data").click()
    await expect(candidate).to_have_url(re.compile("/mijn-gegevens$"))
    await expect(candidate.get_by_test_id("live-status")).to_have_attribute(
        "data-state", "connected"
    )
    await post(moderator, server, "Nog tien minuten open.")
    await expect(banner(candidate, "Nog tien minuten open.")).to_be_visible()
