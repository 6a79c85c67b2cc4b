"""The whole path in real Chromium, on one real server with a real SMTP server beside it:
a candidate zooms in, confirms "Ben je er klaar voor?", the advisor accepts and the candidate
joins; at the two-minute warning the advisor extends and both countdowns move; the advisor
books a follow-up; the candidate downloads it as an .ics file and the confirmation mail with
the same calendar entry arrives at the SMTP server; after the conversation the candidate
downloads a proof of attendance whose code the moderator checks."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from playwright.async_api import Page, expect

from tests.a11ykit import CheckedBrowser
from tests.browserkit import log_in, sign_in
from tests.livekit import LiveServer, World, free_port, seed_world
from tests.pdfkit import pdf_texts
from tests.test_mail_smtp import SmtpInbox

# What the stand-in video service shows: a small page that is itself accessible (the
# checked browser runs axe on every page it loads).
VIDEO_PAGE = '<!doctype html><html lang="nl"><title>Video</title><main><p>Video</p></main></html>'


pytestmark = pytest.mark.browser

# Conversations of 60 s with the warning at 57 s left: the choices come after 3 s.
LENGTH = 60
WARNING = 57
NAME = "Fenna Bakker"
EMAIL = "fenna@voorbeeld.nl"
ZONE = ZoneInfo("Europe/Amsterdam")


@pytest.fixture
async def hall(tmp_path: Path) -> AsyncIterator[tuple[LiveServer, World, SmtpInbox]]:
    smtp = SmtpInbox(free_port())
    smtp.start()
    path = tmp_path / "path.db"
    world = await seed_world(path, conversation_seconds=LENGTH, warning_seconds=WARNING)
    live = LiveServer(
        path,
        tmp_path / "path-server.log",
        env={
            "INZOOMEN_SMTP_HOST": "127.0.0.1",
            "INZOOMEN_SMTP_PORT": str(smtp.port),
            "INZOOMEN_SMTP_STARTTLS": "false",
            "INZOOMEN_MAIL_FROM": "Inzoomen <afspraken@inzoomen.example>",
        },
    )
    live.start()
    try:
        yield live, world, smtp
    finally:
        live.stop()
        smtp.stop()


async def remaining(page: Page) -> int:
    value = await page.get_by_test_id("countdown").get_attribute("data-remaining")
    assert value is not None
    return int(value)


async def mail_to(smtp: SmtpInbox, address: str, timeout: float = 15.0) -> EmailMessage:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for _sender, recipients, message in smtp.received:
            if address in recipients:
                return message
        await asyncio.sleep(0.1)
    raise AssertionError(f"no mail to {address} arrived at the SMTP server")


def only_event(calendar: Calendar) -> Calendar:
    [event] = calendar.walk("VEVENT")
    return event


async def test_request_ready_accept_extend_follow_up_mail_and_proof(
    hall: tuple[LiveServer, World, SmtpInbox],
    checked_browser: CheckedBrowser,
    tmp_path: Path,
) -> None:
    server, world, smtp = hall
    browser = checked_browser
    candidate_ctx = await browser.new_context(
        viewport={"width": 360, "height": 740}, accept_downloads=True
    )
    candidate = await candidate_ctx.new_page()
    advisor = await (await browser.new_context()).new_page()

    # The request, and the readiness prompt confirmed.
    await log_in(advisor, server, "a1@test.example")
    await sign_in(candidate, server, NAME, EMAIL, f"/inzoomen/{world.booth_a}")
    await candidate.get_by_role("button", name="Inzoomen").click()
    await expect(candidate).to_have_url(re.compile("/mijn-verzoek$"))
    prompt = candidate.get_by_test_id("ready-prompt")
    await expect(prompt.get_by_role("heading")).to_have_text("Ben je er klaar voor?")
    await candidate.get_by_test_id("ready").click()
    await expect(candidate.get_by_test_id("ready-done")).to_be_visible()
    item = advisor.get_by_test_id("queue-item")
    await expect(item.get_by_test_id("ready-tag")).to_have_text("klaar")

    # Accepted; the candidate joins through the server (the test world's video service is
    # a stand-in page).
    await item.get_by_test_id("accept").click()
    await candidate_ctx.route(
        re.compile(r"^https://meet\.example\.test/"),
        lambda route: route.fulfill(body=VIDEO_PAGE, content_type="text/html"),
    )
    join = candidate.get_by_test_id("video-link")
    async with candidate_ctx.expect_page() as popup_info:
        await join.click()
    await (await popup_info.value).close()
    await expect(advisor.get_by_test_id("joined")).to_have_attribute("data-joined", "yes")

    # The two-minute warning: one click extends, and both countdowns show the new end.
    choices = advisor.get_by_test_id("end-choices")
    await expect(choices).to_be_visible(timeout=10_000)
    await choices.get_by_role("button", name="Verlengen met 5 minuten").click()
    for page in (advisor, candidate):
        await expect(page.get_by_test_id("countdown")).to_have_attribute(
            "data-remaining", re.compile(r"^3[0-5][0-9]$"), timeout=3_000
        )
    await expect(choices).to_be_hidden()

    # The follow-up, booked from the console while the conversation runs.
    await advisor.get_by_test_id("book-follow-up").click()
    await expect(advisor).to_have_url(re.compile(r"/adviseur/vervolgafspraak\?gesprek=\d+$"))
    when = (datetime.now(ZONE) + timedelta(days=3)).replace(
        hour=10, minute=15, second=0, microsecond=0
    )
    await advisor.get_by_label("Datum en tijd").fill(when.strftime("%Y-%m-%dT%H:%M"))
    await advisor.get_by_label("Bericht aan de kandidaat").fill("Neem je diploma's mee.")
    await advisor.get_by_test_id("follow-up-submit").click()
    await expect(advisor.get_by_test_id("done")).to_have_text("De vervolgafspraak is geboekt.")

    # The conversation ends.
    await advisor.goto(f"{server.url}/adviseur")
    await advisor.get_by_test_id("end-conversation").click()
    await expect(advisor.get_by_test_id("conversation")).to_be_hidden()

    # The candidate downloads the appointment as an .ics file and reads it back.
    await candidate.goto(f"{server.url}/mijn-verzoek")
    await candidate.get_by_test_id("my-appointments-link").click()
    appointment = candidate.get_by_test_id("appointment")
    await expect(appointment.get_by_test_id("appointment-message")).to_have_text(
        "Neem je diploma's mee."
    )
    async with candidate.expect_download() as download_info:
        await appointment.get_by_test_id("appointment-ics").click()
    saved = tmp_path / "afspraak.ics"
    await (await download_info.value).save_as(saved)
    downloaded = only_event(Calendar.from_ical(saved.read_bytes()))
    start = downloaded.decoded("DTSTART")
    assert start == when, (start, when)
    assert downloaded.decoded("DTEND") - start == timedelta(minutes=30)

    # The confirmation mail reached the SMTP server, with the same calendar entry.
    message = await mail_to(smtp, EMAIL)
    assert message["Subject"].startswith("Afspraak bevestigd met Zorggroep A")
    body = message.get_body(preferencelist=("plain",))
    assert body is not None and "Neem je diploma's mee." in body.get_content()
    [part] = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    mailed = only_event(Calendar.from_ical(part.get_payload(decode=True)))
    assert str(mailed["UID"]) == str(downloaded["UID"])
    assert mailed.decoded("DTSTART") == when

    # The proof of attendance: the conversation and the follow-up, as a page and a PDF.
    await candidate.goto(f"{server.url}/mijn-verzoek")
    await candidate.get_by_test_id("proof-link").click()
    await expect(candidate).to_have_url(re.compile("/mijn-bewijs$"))
    await expect(candidate.get_by_test_id("proof-name")).to_have_text(NAME)
    await expect(candidate.get_by_test_id("proof-conversation")).to_contain_text("Zorggroep A")
    await expect(candidate.get_by_test_id("proof-follow-up")).to_have_count(1)
    code = (await candidate.get_by_test_id("proof-code").inner_text()).strip()
    async with candidate.expect_download() as pdf_info:
        await candidate.get_by_test_id("proof-pdf").click()
    pdf = tmp_path / "bewijs.pdf"
    await (await pdf_info.value).save_as(pdf)
    shown = "\n".join(pdf_texts(pdf.read_bytes()))
    assert code in shown and NAME in shown and "Zorggroep A" in shown

    # The moderator checks the code.
    moderator = await (await browser.new_context()).new_page()
    await log_in(moderator, server, "mod@test.example")
    await moderator.get_by_test_id("nav-proof-check").click()
    await moderator.get_by_label("Controlecode").fill(code)
    await moderator.get_by_role("button", name="Controleren").click()
    await expect(moderator.get_by_test_id("proof-valid")).to_contain_text("Dit bewijs is echt.")
    await expect(moderator.get_by_test_id("proof-name")).to_have_text(NAME)
    await expect(moderator.get_by_test_id("proof-follow-up")).to_have_count(1)
