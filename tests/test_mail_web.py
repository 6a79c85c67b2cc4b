"""The moderator's outbox page, against a real server on loopback: only the moderator reads
it, every text in it is escaped, and the calendar file downloads as a file."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from icalendar import Calendar
from playwright.async_api import expect

from app.domain.followup_mail import queue_follow_up_mail
from tests.a11ykit import CheckedBrowser
from tests.browserkit import log_in
from tests.livekit import Browserless, LiveServer, World
from tests.servicekit import make_candidate, open_db
from tests.test_accessibility import survey
from tests.test_mail import insert_follow_up

OUTBOX = "/moderator/uitgaande-post"
HOSTILE_NAME = "Eva <script>alert('naam')</script>"
HOSTILE_MESSAGE = "Kan het later? <img src=x onerror=alert(1)>"
HOSTILE_ERROR = "SMTPRecipientsRefused: <b>550</b> no such user"


async def fill_outbox(path: Path, world: World) -> dict[str, int]:
    db = await open_db(path)
    try:
        candidate = await make_candidate(db, name=HOSTILE_NAME, email="eva@voorbeeld.nl")
        follow_up = await insert_follow_up(
            db,
            booth_id=world.booth_a,
            candidate_id=candidate,
            advisor_id=world.advisor_a1,
            status="reschedule_requested",
            candidate_message=HOSTILE_MESSAGE,
        )
        now = time.time()
        async with db.transaction() as tx:
            await queue_follow_up_mail(tx, follow_up, "booked", now)
            await queue_follow_up_mail(tx, follow_up, "reschedule_requested", now + 1)
        booked = await db.fetchvalue("SELECT id FROM outbox WHERE kind = 'booked'")
        asked = await db.fetchvalue("SELECT id FROM outbox WHERE kind = 'reschedule_requested'")
        async with db.transaction() as tx:
            # The first mail went, the second failed for good.
            await tx.execute(
                "UPDATE outbox SET sent_at = ?, attempts = 1, next_attempt_at = NULL WHERE id = ?",
                (now + 5, booked),
            )
            await tx.execute(
                "UPDATE outbox SET attempts = 3, last_error = ?, next_attempt_at = NULL "
                "WHERE id = ?",
                (HOSTILE_ERROR, asked),
            )
        return {"booked": booked, "asked": asked, "follow_up": follow_up}
    finally:
        await db.close()


def no_raw_markup(text: str) -> None:
    assert "<script>alert" not in text
    assert "<img src=x" not in text
    assert "<b>550</b>" not in text


async def test_moderator_reads_the_outbox_escaped(
    new_visitor: Callable[[], Browserless], world: World, world_db: tuple[Path, World]
) -> None:
    ids = await fill_outbox(world_db[0], world)
    mod = new_visitor()
    await mod.log_in("mod@test.example")

    home = await mod.http.get("/moderator")
    assert f'href="{OUTBOX}"' in home.text

    page = await mod.http.get(OUTBOX)
    assert page.status_code == 200
    no_raw_markup(page.text)
    rows = re.findall(
        r'data-testid="outbox-message" data-message-id="(\d+)" data-state="(\w+)"', page.text
    )
    assert rows == [(str(ids["asked"]), "failed"), (str(ids["booked"]), "sent")]
    text = html.unescape(page.text)
    assert "Afspraak bevestigd met" in text and "eva@voorbeeld.nl" in text
    assert HOSTILE_ERROR in text  # shown, as text
    assert "&lt;b&gt;550&lt;/b&gt;" in page.text
    assert "Verzonden: 1. Wacht op verzending: 0. Mislukt: 1." in text
    assert 'data-testid="outbox-no-smtp"' in page.text

    one = await mod.http.get(f"{OUTBOX}/{ids['asked']}")
    assert one.status_code == 200
    no_raw_markup(one.text)
    body = html.unescape(one.text)
    assert HOSTILE_MESSAGE in body and HOSTILE_NAME in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in one.text
    assert "&lt;script&gt;" in one.text
    assert f"{OUTBOX}/{ids['asked']}/bijlage" not in one.text  # the advisor's mail has none

    booked = await mod.http.get(f"{OUTBOX}/{ids['booked']}")
    assert f'href="{OUTBOX}/{ids["booked"]}/bijlage"' in booked.text
    download = await mod.http.get(f"{OUTBOX}/{ids['booked']}/bijlage")
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/calendar")
    assert (
        download.headers["content-disposition"]
        == f'attachment; filename="afspraak-{ids["follow_up"]}.ics"'
    )
    [entry] = Calendar.from_ical(download.content).walk("VEVENT")
    assert str(entry["uid"]).startswith(f"follow-up-{ids['follow_up']}-")

    for missing in (
        f"{OUTBOX}/999999",
        f"{OUTBOX}/999999/bijlage",
        f"{OUTBOX}/{ids['asked']}/bijlage",
    ):
        answer = await mod.http.get(missing)
        assert answer.status_code == 404, missing
        assert "Dit bericht bestaat niet (meer)." in html.unescape(answer.text)


async def test_only_the_moderator_reads_the_outbox(
    new_visitor: Callable[[], Browserless], world: World, world_db: tuple[Path, World]
) -> None:
    ids = await fill_outbox(world_db[0], world)
    paths = [OUTBOX, f"{OUTBOX}/{ids['booked']}", f"{OUTBOX}/{ids['booked']}/bijlage"]
    anonymous = new_visitor()
    candidate = new_visitor()
    await candidate.sign_in_candidate("Sanne", "sanne@voorbeeld.nl")
    advisor = new_visitor()
    await advisor.log_in(world.emails[world.advisor_a1])
    for path in paths:
        answer = await anonymous.http.get(path)
        assert answer.status_code == 303 and answer.headers["location"] == "/inloggen", path
        for who in (candidate, advisor):
            answer = await who.http.get(path)
            assert answer.status_code == 403, path
            assert "eva@voorbeeld.nl" not in answer.text
            assert "BEGIN:VCALENDAR" not in answer.text
    advisor_home = await advisor.http.get("/adviseur")
    assert OUTBOX not in advisor_home.text


@pytest.mark.browser
async def test_moderator_opens_a_mail_and_downloads_its_calendar_file_in_chromium(
    server: LiveServer,
    world: World,
    world_db: tuple[Path, World],
    checked_browser: CheckedBrowser,
    tmp_path: Path,
) -> None:
    ids = await fill_outbox(world_db[0], world)
    page = await (await checked_browser.new_context(accept_downloads=True)).new_page()
    await log_in(page, server, "mod@test.example")
    await page.get_by_test_id("nav-outbox").click()
    await expect(page).to_have_url(re.compile(f"{OUTBOX}$"))
    await expect(page.get_by_test_id("outbox-message")).to_have_count(2)
    await expect(page.get_by_test_id("outbox-error")).to_contain_text(HOSTILE_ERROR)
    # At a phone's width, with text at 200 % and at the reflow width, nothing is lost.
    await survey(checked_browser, page, "outbox")

    await page.get_by_role("link", name=re.compile("^Afspraak bevestigd met")).click()
    await expect(page).to_have_url(re.compile(f"{OUTBOX}/{ids['booked']}$"))
    await expect(page.get_by_test_id("outbox-body")).to_contain_text("Beste Eva")
    await expect(page.get_by_test_id("outbox-state")).to_have_attribute("data-state", "sent")
    await survey(checked_browser, page, "one mail in the outbox")
    async with page.expect_download() as waiting:
        await page.get_by_test_id("outbox-attachment").click()
    download = await waiting.value
    assert download.suggested_filename == f"afspraak-{ids['follow_up']}.ics"
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    [entry] = Calendar.from_ical(saved.read_bytes()).walk("VEVENT")
    assert str(entry["uid"]).startswith(f"follow-up-{ids['follow_up']}-")

    # The candidate's reschedule ask is shown as text, not run or drawn.
    await page.goto(f"{server.url}{OUTBOX}/{ids['asked']}")
    await expect(page.get_by_test_id("outbox-body")).to_contain_text(HOSTILE_MESSAGE)
    assert await page.locator("[data-testid=outbox-body] img").count() == 0
