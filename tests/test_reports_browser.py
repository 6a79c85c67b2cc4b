"""In real Chromium: a moderator opens the report, picks a day, follows a CSV export link, and
the downloaded file holds the expected rows. The pages are checked with axe-core (the
``checked_browser`` fixture); the print view leaves the navigation out."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from playwright.async_api import expect

from app.storage.db import Database
from tests.a11ykit import CheckedBrowser, assert_no_horizontal_overflow, screenshot
from tests.browserkit import log_in
from tests.livekit import LiveServer
from tests.test_reports import seed_scripted_event

pytestmark = pytest.mark.browser


async def test_a_moderator_downloads_the_requests_of_a_day(
    tmp_path: Path, checked_browser: CheckedBrowser
) -> None:
    db = await Database.open(tmp_path / "report.db")
    try:
        script = await seed_scripted_event(db)
    finally:
        await db.close()
    server = LiveServer(
        tmp_path / "report.db", tmp_path / "server.log", env={"INZOOMEN_RETENTION_DAYS": "3650"}
    )
    server.start()
    try:
        context = await checked_browser.new_context(
            viewport={"width": 1024, "height": 900}, accept_downloads=True
        )
        page = await context.new_page()
        await log_in(page, server, "mod@test.example")
        await expect(page).to_have_url(re.compile("/moderator$"))
        await page.get_by_test_id("nav-report").click()
        await expect(page).to_have_url(re.compile("/rapport$"))
        await expect(page.get_by_role("heading", level=1)).to_have_text("Rapport: LeerWerkWeek")
        await expect(page.get_by_test_id("total-requests")).to_have_text("9")

        # one day, through the filter form
        await page.get_by_label("Dag", exact=True).select_option("2026-03-12")
        await page.get_by_test_id("report-filter-submit").click()
        await expect(page).to_have_url(re.compile(r"/rapport\?dag=2026-03-12$"))
        await expect(page.get_by_test_id("total-requests")).to_have_text("7")
        # a chart's data opens as a table
        waits = page.get_by_role("figure").filter(has_text="Wachttijd tot het gesprek")
        await expect(
            waits.get_by_role("img", name=re.compile("Wachttijd tot het gesprek"))
        ).to_be_visible()
        await waits.get_by_text("Toon de gegevens als tabel").click()
        await expect(waits.get_by_role("table")).to_be_visible()
        await checked_browser.check(page, "report of one day, a chart's table open")
        await screenshot(page, "report-day")

        async with page.expect_download() as info:
            await page.get_by_test_id("export-requests").click()
        download = await info.value
        assert download.suggested_filename == "aanvragen-2026-03-12.csv"
        saved = tmp_path / download.suggested_filename
        await download.save_as(saved)
        data = saved.read_bytes()
        assert data.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
        assert rows[0][:3] == ["request_id", "candidate", "booth_id"]
        assert [r[0] for r in rows[1:]] == [str(i) for i in script.requests[:7]]
        assert [r[5] for r in rows[1:]] == [
            "accepted",
            "accepted",
            "declined",
            "accepted",
            "cancelled",
            "accepted",
            "expired",
        ]
        assert rows[1][7] == "2026-03-12T09:06:00+01:00"
        assert "Geheime" not in data.decode("utf-8-sig")

        # printed: no navigation, no filter, no export links; the figures and charts stay
        await page.emulate_media(media="print")
        await expect(page.get_by_role("navigation")).to_be_hidden()
        await expect(page.get_by_test_id("report-filter")).to_be_hidden()
        await expect(page.get_by_test_id("report-exports")).to_be_hidden()
        await expect(page.get_by_test_id("total-requests")).to_be_visible()
        await expect(
            page.get_by_role("img", name=re.compile("Lengte van de gesprekken"))
        ).to_be_visible()
        await page.emulate_media(media="screen")

        # a phone
        await page.set_viewport_size({"width": 360, "height": 740})
        await assert_no_horizontal_overflow(page)
        await screenshot(page, "report-day")
        await context.close()
    finally:
        server.stop()
