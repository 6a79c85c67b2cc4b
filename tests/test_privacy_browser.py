"""In real Chromium: a candidate finds their data, downloads it and erases it through the
pages. Every page is checked with axe-core (the ``checked_browser`` fixture)."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.a11ykit import CheckedBrowser
from tests.browserkit import sign_in
from tests.livekit import LiveServer, World

pytestmark = pytest.mark.browser

NAME = "Yara Wisproef"
EMAIL = "yara.wisproef@example.nl"


async def test_a_candidate_downloads_and_erases_their_data(
    server: LiveServer,
    world_db: tuple[Path, World],
    checked_browser: CheckedBrowser,
    tmp_path: Path,
) -> None:
    path, world = world_db
    context = await checked_browser.new_context(
        viewport={"width": 360, "height": 740}, accept_downloads=True
    )
    page = await context.new_page()

    # Before signing in, the form says what is kept, why, who sees it and for how long.
    await page.goto(f"{server.url}/aanmelden")
    summary = page.get_by_test_id("privacy-summary")
    await expect(summary).to_contain_text("30 dagen na het evenement")
    await expect(summary.get_by_role("link", name=re.compile("privacyverklaring"))).to_be_visible()

    await sign_in(page, server, NAME, EMAIL, f"/inzoomen/{world.booth_a}")
    await page.get_by_label("Je vraag").fill("Mag ik mijn gegevens straks wissen?")
    await page.get_by_role("button", name="Inzoomen").click()
    await expect(page).to_have_url(re.compile("/mijn-verzoek$"))

    # "Mijn gegevens" is in the menu of every page of theirs.
    await page.get_by_test_id("nav-my-data").click()
    await expect(page).to_have_url(re.compile("/mijn-gegevens$"))
    await expect(page.get_by_test_id("my-name")).to_have_text(NAME)
    await expect(page.get_by_test_id("my-email")).to_have_text(EMAIL)
    await expect(page.get_by_test_id("erase-cancels-request")).to_be_visible()

    async with page.expect_download() as info:
        await page.get_by_test_id("download-my-data").click()
    download = await info.value
    assert download.suggested_filename.endswith(".json")
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    data = json.loads(saved.read_text(encoding="utf-8"))
    assert data["candidate"]["name"] == NAME and data["candidate"]["email"] == EMAIL
    assert [r["question"] for r in data["requests"]] == ["Mag ik mijn gegevens straks wissen?"]
    assert data["requests"][0]["booth"] == "Zorggroep A"

    # Erasing asks for a confirmation first; without it nothing happens.
    await page.get_by_test_id("erase-my-data").click()
    await expect(page).to_have_url(re.compile("/mijn-gegevens/wissen$"))
    await page.get_by_test_id("erase-submit").click()
    await expect(page.get_by_test_id("error-summary")).to_contain_text("Vink aan")
    await checked_browser.check(page, "erase confirmation with an error")
    await page.get_by_label(re.compile("Ja, wis mijn gegevens")).check()
    await page.get_by_test_id("erase-submit").click()

    await expect(page).to_have_url(re.compile("/mijn-gegevens/gewist$"))
    await expect(page.get_by_test_id("erased")).to_contain_text("gewist")
    await expect(page.get_by_test_id("nav-sign-in")).to_be_visible()
    await page.goto(f"{server.url}/mijn-gegevens")
    await expect(page).to_have_url(re.compile("/aanmelden"))

    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name, email, erased_at FROM candidates").fetchall()
        status = conn.execute("SELECT status, question FROM requests").fetchall()
    assert rows and all(r[0] == "" and r[1] == "" and r[2] is not None for r in rows)
    assert status == [("cancelled", "")]
    await context.close()
