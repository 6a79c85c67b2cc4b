"""Administration in real Chromium: a moderator sets up a new booth and a schedule block
covering now through the forms, while the hall open in another tab shows the booth, open
now, without being reloaded; the booths' CSV download opens and holds the expected rows.
Every page is checked with axe-core (the ``checked_browser`` fixture)."""

from __future__ import annotations

import csv
import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import expect

from tests.a11ykit import CheckedBrowser
from tests.browserkit import log_in
from tests.livekit import LiveServer, World

pytestmark = pytest.mark.browser


def block_around_now() -> tuple[str, str]:
    """An hour either side of now (local), kept within today."""
    now = datetime.now(ZoneInfo("Europe/Amsterdam"))
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    starts = max(now - timedelta(hours=1), midnight)
    ends = now + timedelta(hours=1)
    return starts.strftime("%H:%M"), (
        "24:00" if ends.date() != now.date() else ends.strftime("%H:%M")
    )


async def test_a_moderator_sets_up_a_booth_and_the_open_hall_shows_it_open_now(
    server: LiveServer, world: World, checked_browser: CheckedBrowser, tmp_path: Path
) -> None:
    context = await checked_browser.new_context(accept_downloads=True)
    admin = await context.new_page()
    await log_in(admin, server, "mod@test.example")
    await expect(admin).to_have_url(re.compile("/moderator"))
    hall = await context.new_page()
    await hall.goto(f"{server.url}/")
    await expect(hall.locator("#live-status")).to_have_attribute("data-state", "connected")
    await hall.evaluate("window.notReloaded = true")

    await admin.goto(f"{server.url}/beheer")
    await admin.get_by_test_id("admin-booths-link").click()
    await admin.get_by_test_id("booth-new").click()
    # A wrong link first: the form says what is wrong and keeps what was typed.
    await admin.get_by_label("Naam", exact=True).fill("Groen & Co <b>")
    await admin.get_by_label("Sector").select_option("groen")
    await admin.get_by_label("BBL (leren en werken)").check()
    await admin.get_by_label("Website").fill("http://groen.example.nl")
    await admin.get_by_test_id("booth-submit").click()
    await expect(admin.get_by_test_id("error-summary")).to_contain_text("https://")
    await expect(admin.get_by_label("Naam", exact=True)).to_have_value("Groen & Co <b>")
    await admin.get_by_label("Website").fill("https://groen.example.nl")
    await admin.get_by_test_id("booth-submit").click()
    await expect(admin).to_have_url(re.compile(r"/beheer/rooster\?stand=\d+"))
    booth_id = int(re.findall(r"stand=(\d+)", admin.url)[0])

    card = hall.get_by_test_id(f"booth-{booth_id}")
    await expect(card).to_contain_text("Groen & Co <b>", timeout=5_000)
    opening = hall.get_by_test_id(f"opening-{booth_id}")
    await expect(opening).not_to_contain_text("Nu open")

    starts, ends = block_around_now()
    await admin.get_by_label("Van", exact=True).fill(starts)
    await admin.get_by_label("Tot", exact=True).fill(ends)
    await admin.get_by_test_id("block-submit").click()
    await expect(admin.get_by_test_id("schedule-block")).to_contain_text(f"{starts}–{ends}")
    await expect(opening).to_contain_text("Nu open")
    assert await hall.evaluate("window.notReloaded === true")
    await checked_browser.check(hall, "the hall with the new booth")

    # The CSV download opens and holds every booth, in hall order, the new one last.
    await admin.goto(f"{server.url}/beheer/stands")
    async with admin.expect_download() as waiting:
        await admin.get_by_test_id("booths-csv").click()
    download = await waiting.value
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    assert saved.name == "stands.csv"
    raw = saved.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert rows[0] == ["slug", "name", "kind", "sector", "offers", "description", "link"]
    assert [r[0] for r in rows[1:]] == ["zorg-a", "bouw-b", "groen-co-b"]
    assert rows[3] == [
        "groen-co-b",
        "Groen & Co <b>",
        "employer",
        "groen",
        "bbl",
        "",
        "https://groen.example.nl",
    ]


async def test_every_administration_page_is_accessible_and_fits(
    server: LiveServer, world: World, checked_browser: CheckedBrowser
) -> None:
    """Each page, and its error state, at a phone's and a desktop's width and with text at
    200 %: axe finds nothing, nothing scrolls sideways, no text is clipped."""
    from tests.test_accessibility import survey

    page = await checked_browser.new_page()
    await log_in(page, server, "mod@test.example")
    await expect(page).to_have_url(re.compile("/moderator"))
    for path, state in (
        ("/beheer", "admin-index"),
        ("/beheer/evenement", "admin-event"),
        ("/beheer/stands", "admin-booths"),
        (f"/beheer/rooster?stand={world.booth_a}", "admin-schedule"),
        (f"/beheer/stands/{world.booth_a}/verwijderen", "admin-confirm"),
        ("/beheer/evenement/dagen/verwijderen", "admin-day-pick"),
    ):
        await page.goto(f"{server.url}{path}")
        await survey(checked_browser, page, state)
    await page.goto(f"{server.url}/beheer/evenement")
    await page.get_by_label("Tijdzone").fill("Mars/Olympus")
    await page.get_by_test_id("event-submit").click()
    await expect(page.get_by_test_id("error-summary")).to_be_visible()
    await survey(checked_browser, page, "admin-event-errors")
    await page.goto(f"{server.url}/beheer/stands/nieuw")
    await page.get_by_test_id("booth-submit").click()
    await expect(page.get_by_test_id("error-summary")).to_be_visible()
    await survey(checked_browser, page, "admin-booth-errors")
    await page.goto(f"{server.url}/beheer/medewerkers")
    await page.get_by_label("Naam", exact=True).fill("Iemand Met Een Hele Lange Naam Van Achteren")
    await page.get_by_label("E-mailadres").fill("iemand.met.een.lang.adres@voorbeeld.example.nl")
    await page.get_by_label("Stand", exact=True).select_option(str(world.booth_b))
    await page.get_by_test_id("staff-submit").click()
    link = page.get_by_test_id("invitation-link")
    await expect(link).to_be_visible()
    await survey(checked_browser, page, "admin-staff-link")
    invited = await (await checked_browser.new_context()).new_page()
    await invited.goto(await link.input_value())
    await survey(checked_browser, invited, "invitation")
    await invited.get_by_test_id("invitation-submit").click()
    await expect(invited.get_by_test_id("error-summary")).to_be_visible()
    await survey(checked_browser, invited, "invitation-errors")
    await checked_browser.assert_clean()
