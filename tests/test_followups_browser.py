"""Follow-ups in real Chromium: the advisor books from the console in a few clicks, the
candidate finds it on "Mijn afspraken", downloads the calendar file and asks to reschedule;
the advisor's console shows that without a reload."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from playwright.async_api import expect

from tests.a11ykit import CheckedBrowser
from tests.browserkit import zoom_in_and_accept
from tests.livekit import LiveServer, World

pytestmark = pytest.mark.browser


async def test_book_from_the_console_see_download_and_ask_to_reschedule(
    server: LiveServer, world: World, checked_browser: CheckedBrowser, tmp_path: Path
) -> None:
    browser = checked_browser
    candidate = await (
        await browser.new_context(viewport={"width": 360, "height": 740}, accept_downloads=True)
    ).new_page()
    advisor = await (await browser.new_context()).new_page()
    await zoom_in_and_accept(server, world, candidate, advisor)
    await advisor.get_by_label("Notities", exact=True).fill("Zoekt BBL, geheim")
    await advisor.get_by_test_id("save-notes").click()
    await expect(advisor.get_by_test_id("notes-saved")).to_have_text("Notities opgeslagen.")

    # From the running conversation: the form, prefilled; a message, and book.
    await advisor.get_by_test_id("book-follow-up").click()
    await expect(advisor).to_have_url(re.compile(r"/adviseur/vervolgafspraak\?gesprek=\d+$"))
    await expect(advisor.get_by_test_id("follow-up-notes")).to_have_text("Zoekt BBL, geheim")
    await browser.check(advisor, "booking form")
    when = (datetime.now(ZoneInfo("Europe/Amsterdam")) + timedelta(days=2)).replace(
        hour=14, minute=30
    )
    await advisor.get_by_label("Datum en tijd").fill(when.strftime("%Y-%m-%dT%H:%M"))
    await advisor.get_by_label("Bericht aan de kandidaat").fill("Neem je cv mee.")
    await advisor.get_by_test_id("follow-up-submit").click()
    await expect(advisor.get_by_test_id("done")).to_have_text("De vervolgafspraak is geboekt.")
    await expect(advisor.get_by_test_id("follow-up-status")).to_have_text("Geboekt")
    await browser.check(advisor, "follow-up page")

    # The console lists it; it stays open (no reload from here on).
    await advisor.goto(f"{server.url}/adviseur")
    item = advisor.get_by_test_id("follow-up-item")
    await expect(item).to_have_count(1)
    await expect(item.get_by_test_id("follow-up-status")).to_have_text("Geboekt")
    await expect(advisor.get_by_test_id("live-status")).to_have_attribute("data-state", "connected")

    # The candidate: "Mijn afspraken" from the navigation.
    await candidate.goto(f"{server.url}/mijn-verzoek")
    await candidate.get_by_test_id("my-appointments-link").click()
    appointment = candidate.get_by_test_id("appointment")
    await expect(appointment).to_contain_text("14:30")
    await expect(appointment).to_contain_text("30 minuten")
    await expect(appointment.get_by_test_id("appointment-with")).to_contain_text("Zorggroep A")
    await expect(appointment.get_by_test_id("appointment-message")).to_have_text("Neem je cv mee.")
    assert "geheim" not in await candidate.content()
    await browser.check(candidate, "my appointments")

    async with candidate.expect_download() as download_info:
        await appointment.get_by_test_id("appointment-ics").click()
    download = await download_info.value
    saved = tmp_path / "afspraak.ics"
    await download.save_as(saved)
    calendar = Calendar.from_ical(saved.read_bytes())
    event = next(c for c in calendar.walk() if c.name == "VEVENT")
    assert event.decoded("DTSTART").strftime("%Y-%m-%d %H:%M") == when.strftime("%Y-%m-%d %H:%M")
    assert "Zorggroep A" in str(event.get("SUMMARY")) + str(event.get("DESCRIPTION"))

    # Ask to reschedule, with a message; the console shows it at once.
    await appointment.get_by_test_id("ask-toggle").click()
    await appointment.get_by_label("Bericht aan de adviseur").fill("Kan het een uur later?")
    await appointment.get_by_test_id("ask-submit").click()
    await expect(candidate.get_by_test_id("done")).to_have_text(
        "Je vraag om de afspraak te verzetten is verstuurd."
    )
    await expect(candidate.get_by_test_id("appointment-status")).to_have_text(
        "Vraagt om te verzetten"
    )
    await expect(item.get_by_test_id("follow-up-status")).to_have_text("Vraagt om te verzetten")
    await expect(item.get_by_test_id("follow-up-candidate-message")).to_have_text(
        "Kan het een uur later?"
    )

    # Cancel, with its confirm step: the console shows that too.
    await candidate.get_by_test_id("appointment-cancel").click()
    await candidate.get_by_label("Ja, annuleer deze afspraak.").check()
    await browser.check(candidate, "cancel confirm")
    await candidate.get_by_test_id("cancel-submit").click()
    await expect(candidate.get_by_test_id("appointment-status")).to_have_text("Geannuleerd")
    await expect(item.get_by_test_id("follow-up-status")).to_have_text("Geannuleerd")
