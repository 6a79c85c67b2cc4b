"""The moderator steps in, in real Chromium: the step-in page's forms move a waiting
candidate and close a booth, and the candidate's open page and the hall show it by
themselves, without a reload."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.a11ykit import CheckedBrowser
from tests.browserkit import log_in, sign_in
from tests.livekit import Browserless, LiveServer, World
from tests.test_accessibility import survey

pytestmark = pytest.mark.browser


async def join(server: LiveServer, name: str, email: str, booth_id: int) -> None:
    """A candidate asks for a conversation at the booth, from another device."""
    other = Browserless(server)
    try:
        await other.sign_in_candidate(name, email)
        peer = await other.socket()
        made = await peer.send("request.create", {"booth_id": booth_id, "client_key": email})
        assert made["ok"], made
        await peer.close()
    finally:
        await other.aclose()


async def test_a_moved_candidate_and_a_closed_booth_are_shown_live(
    server: LiveServer, world: World, checked_browser: CheckedBrowser
) -> None:
    browser = checked_browser
    moderator = await (await browser.new_context()).new_page()
    await log_in(moderator, server, "mod@test.example")
    await moderator.goto(server.url + "/moderator/ingrijpen")
    hall = await (await browser.new_context()).new_page()
    await hall.goto(server.url + "/")
    await expect(hall.get_by_test_id(f"zoom-in-{world.booth_b}")).to_be_visible()

    phone = await browser.new_context(viewport={"width": 360, "height": 740})
    candidate = await phone.new_page()
    await sign_in(
        candidate, server, "Sanne de Vries", "sanne@example.nl", f"/inzoomen/{world.booth_a}"
    )
    await candidate.get_by_role("button", name="Inzoomen").click()
    await expect(candidate).to_have_url(re.compile("/mijn-verzoek$"))
    await expect(candidate.get_by_test_id("position")).to_contain_text("nummer 1")

    # The step-in page, open all along, shows the new request by itself.
    await expect(moderator.locator(f"#stand-{world.booth_a}")).to_contain_text("Sanne")
    # At a phone's width, with text at 200 % and at the reflow width, nothing is lost.
    await survey(browser, moderator, "step-in page with a waiting request")
    booth_a = moderator.locator(f"#stand-{world.booth_a}")
    await booth_a.get_by_label("Naar", exact=True).select_option(
        label="Bouwbedrijf B: de eerste die vrij is"
    )
    await booth_a.get_by_role("button", name=re.compile("^Verplaatsen.*Sanne$")).click()
    await expect(moderator.get_by_test_id("step-done")).to_contain_text("verplaatst")
    await expect(moderator.locator(f"#stand-{world.booth_b}")).to_contain_text("Sanne")

    # The candidate's open page follows: the new booth, the same place, and why.
    await expect(candidate.get_by_test_id("moved")).to_be_visible()
    await expect(candidate.get_by_test_id("state-waiting")).to_contain_text("Bouwbedrijf B")
    await expect(candidate.get_by_test_id("position")).to_contain_text("nummer 1")

    # While the moderator has a form open, a change elsewhere does not move the page under
    # their hands: a notice offers to refresh instead.
    booth_b = moderator.locator(f"#stand-{world.booth_b}")
    await booth_b.get_by_test_id(re.compile("^block-toggle-r")).click()
    await join(server, "Kees Klaassen", "kees@example.nl", world.booth_a)
    await expect(moderator.get_by_test_id("step-in-stale")).to_be_visible()
    await expect(booth_b.get_by_test_id(re.compile("^confirm-block-r"))).to_be_visible()
    await expect(moderator.locator(f"#stand-{world.booth_a}")).not_to_contain_text("Kees")
    await moderator.get_by_test_id("step-in-stale").get_by_role("link").click()
    await expect(moderator.locator(f"#stand-{world.booth_a}")).to_contain_text("Kees")

    # Closing a booth asks for the tick, naming how many wait there; the server checks it.
    booth_b = moderator.locator(f"#stand-{world.booth_b}")
    await booth_b.get_by_test_id(f"booth-close-toggle-{world.booth_b}").click()
    count = booth_b.get_by_test_id(f"booth-close-count-{world.booth_b}")
    await expect(count).to_contain_text("1 kandidaat wacht bij deze stand.")
    await expect(count).to_contain_text("komt niet terug als je de stand weer opent")
    await booth_b.get_by_test_id(f"booth-close-{world.booth_b}").click()
    await expect(moderator.get_by_test_id("error-summary")).to_contain_text(
        "Vink aan dat je het zeker weet."
    )
    booth_b = moderator.locator(f"#stand-{world.booth_b}")
    await expect(booth_b).to_have_attribute("data-closed", "0")
    # Someone joins while the moderator reads: the tick for one does not close on two.
    await join(server, "Lotte Smit", "lotte@example.nl", world.booth_b)
    await booth_b.get_by_test_id(f"confirm-booth-close-{world.booth_b}").check()
    await booth_b.get_by_test_id(f"booth-close-{world.booth_b}").click()
    await expect(moderator.get_by_test_id("error-summary")).to_contain_text(
        "bij Bouwbedrijf B wachten nu 2 kandidaten"
    )
    booth_b = moderator.locator(f"#stand-{world.booth_b}")
    await expect(booth_b).to_have_attribute("data-closed", "0")
    await expect(booth_b.get_by_test_id(f"booth-close-count-{world.booth_b}")).to_contain_text(
        "2 kandidaten wachten bij deze stand."
    )
    await browser.check(moderator, "step-in page asking again to close a booth")
    await booth_b.get_by_test_id(f"confirm-booth-close-{world.booth_b}").check()
    await booth_b.get_by_test_id(f"booth-close-{world.booth_b}").click()
    await expect(moderator.get_by_test_id(f"booth-closed-{world.booth_b}")).to_be_visible()
    await expect(moderator.get_by_test_id("step-done")).to_have_text(
        "De stand is gesloten. 2 wachtende kandidaten hebben bericht gekregen."
    )

    # Told kindly, with the booth that is open, by itself.
    await expect(candidate.get_by_test_id("booth-closed-title")).to_be_visible()
    await expect(candidate.get_by_test_id("booth-closed")).to_contain_text("Bouwbedrijf B")
    suggestion = candidate.get_by_test_id("suggestions").get_by_role("link", name="Zorggroep A")
    await expect(suggestion).to_have_attribute("href", f"/inzoomen/{world.booth_a}")
    await browser.check(candidate, "request ended because the booth closed")
    # The hall shows the booth closed, without its button.
    await expect(hall.get_by_test_id(f"opening-{world.booth_b}")).to_have_text(
        "Gesloten door de organisatie"
    )
    await expect(hall.get_by_test_id(f"zoom-in-{world.booth_b}")).to_be_hidden()
    # Nor a queue or a waiting time: "Direct aan de beurt" would contradict "Gesloten".
    await expect(hall.get_by_test_id(f"wait-{world.booth_b}")).to_be_hidden()
    await expect(hall.get_by_test_id(f"zoom-in-{world.booth_a}")).to_be_visible()
    await expect(hall.get_by_test_id(f"wait-{world.booth_a}")).to_be_visible()

    # The audit log holds both steps, newest first.
    await moderator.goto(server.url + "/moderator/logboek")
    rows = moderator.get_by_test_id("audit-entry")
    await expect(rows).to_have_count(2)
    await expect(rows.nth(0)).to_contain_text("Stand gesloten")
    await expect(rows.nth(1)).to_contain_text("Verzoek verplaatst")
    await survey(browser, moderator, "audit log")

    # Closing the event asks for the ticked confirmation, checked by the server.
    await moderator.goto(server.url + "/moderator/ingrijpen")
    await moderator.get_by_test_id("event-close").click()
    await expect(moderator.get_by_test_id("error-summary")).to_contain_text(
        "Vink aan dat je het zeker weet."
    )
    await expect(moderator.get_by_test_id("event-state")).to_have_attribute("data-open", "1")
    await moderator.get_by_test_id("confirm-event-close").check()
    await moderator.get_by_test_id("event-close").click()
    await expect(moderator.get_by_test_id("event-state")).to_have_attribute("data-open", "0")
    await expect(hall.get_by_test_id(f"opening-{world.booth_a}")).to_have_text(
        "Het evenement is gesloten"
    )
    await expect(hall.get_by_test_id(f"zoom-in-{world.booth_a}")).to_be_hidden()


async def test_closing_a_booth_without_scripts_asks_to_confirm_and_asks_again(
    server: LiveServer, world: World, checked_browser: CheckedBrowser
) -> None:
    """The same confirmation in a browser that runs no scripts: the disclosure, the tick and
    the number are plain HTML, checked by the server."""
    browser = checked_browser
    context = await browser.new_context(java_script_enabled=False)
    moderator = await context.new_page()
    await log_in(moderator, server, "mod@test.example")
    await moderator.goto(server.url + "/moderator/ingrijpen")
    booth_a = moderator.locator(f"#stand-{world.booth_a}")
    await booth_a.get_by_test_id(f"booth-close-toggle-{world.booth_a}").click()
    await expect(booth_a.get_by_test_id(f"booth-close-count-{world.booth_a}")).to_have_text(
        "Er wacht nu niemand bij deze stand. Zolang hij gesloten is, kan niemand een gesprek "
        "aanvragen."
    )
    await booth_a.get_by_test_id(f"booth-close-{world.booth_a}").click()
    await expect(moderator.get_by_test_id("error-summary")).to_contain_text(
        "Vink aan dat je het zeker weet."
    )
    await join(server, "Sanne de Vries", "sanne@example.nl", world.booth_a)
    booth_a = moderator.locator(f"#stand-{world.booth_a}")
    await booth_a.get_by_test_id(f"confirm-booth-close-{world.booth_a}").check()
    await booth_a.get_by_test_id(f"booth-close-{world.booth_a}").click()
    await expect(moderator.get_by_test_id("error-summary")).to_contain_text(
        "bij Zorggroep A wacht nu 1 kandidaat, meer dan je hebt bevestigd"
    )
    booth_a = moderator.locator(f"#stand-{world.booth_a}")
    await expect(booth_a).to_have_attribute("data-closed", "0")
    await expect(booth_a.get_by_test_id(f"booth-close-count-{world.booth_a}")).to_contain_text(
        "1 kandidaat wacht bij deze stand."
    )
    await booth_a.get_by_test_id(f"confirm-booth-close-{world.booth_a}").check()
    await booth_a.get_by_test_id(f"booth-close-{world.booth_a}").click()
    await expect(moderator.get_by_test_id(f"booth-closed-{world.booth_a}")).to_be_visible()
    await expect(moderator.get_by_test_id("step-done")).to_have_text(
        "De stand is gesloten. 1 wachtende kandidaat heeft bericht gekregen."
    )
