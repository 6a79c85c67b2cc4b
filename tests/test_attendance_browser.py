"""Proof of attendance in real Chromium: after a conversation the candidate opens their
printable page, prints it without leaving it, downloads the PDF (a real download, read
back), and the moderator types the code into the check form and sees what the proof says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.a11ykit import CheckedBrowser
from tests.browserkit import log_in, sign_in
from tests.livekit import LiveServer, World
from tests.pdfkit import pdf_texts

pytestmark = pytest.mark.browser

ZOE = "Zoë Çelik-Öztürk"


async def test_proof_printed_downloaded_and_checked(
    server: LiveServer, world: World, checked_browser: CheckedBrowser, tmp_path: Path
) -> None:
    browser = checked_browser
    candidate = await (
        await browser.new_context(viewport={"width": 360, "height": 740}, accept_downloads=True)
    ).new_page()
    advisor = await (await browser.new_context()).new_page()

    # One conversation, through the real pages.
    await log_in(advisor, server, "a1@test.example")
    await sign_in(candidate, server, ZOE, "zoe@example.nl", f"/inzoomen/{world.booth_a}")
    await candidate.get_by_role("button", name="Inzoomen").click()
    await expect(candidate).to_have_url(re.compile("/mijn-verzoek$"))
    await advisor.get_by_test_id("queue-item").get_by_test_id("accept").click()
    await expect(candidate.get_by_test_id("video-link")).to_be_visible()
    await advisor.get_by_test_id("end-conversation").click()

    # The ended conversation links to the proof.
    await candidate.get_by_test_id("proof-link").click()
    await expect(candidate).to_have_url(re.compile("/mijn-bewijs$"))
    await expect(candidate.get_by_test_id("proof-name")).to_have_text(ZOE)
    await expect(candidate.get_by_test_id("proof-conversation")).to_have_count(1)
    await expect(candidate.get_by_test_id("proof-conversation")).to_contain_text("Zorggroep A")
    # The conversation lasted seconds: said so, not rounded up to a minute.
    await expect(
        candidate.get_by_test_id("proof-conversation").locator('[data-field="duration"]')
    ).to_have_text("korter dan een minuut")
    await expect(candidate.get_by_test_id("proof-total")).to_have_text(
        "Totaal: korter dan een minuut"
    )
    code = (await candidate.get_by_test_id("proof-code").inner_text()).strip()
    assert re.fullmatch(r"[A-HJ-NP-Z2-9]{4}(-[A-HJ-NP-Z2-9]{4}){2}", code), code
    await browser.check(candidate, "proof page")

    # Print: the browser's own dialog, on this page (recorded here instead of opened).
    await candidate.evaluate(
        "() => { window.__printed = 0; window.print = () => { window.__printed += 1; }; }"
    )
    print_button = candidate.get_by_role("button", name="Printen")
    await expect(print_button).to_be_visible()
    await print_button.click()
    assert await candidate.evaluate("window.__printed") == 1
    await expect(candidate).to_have_url(re.compile("/mijn-bewijs$"))
    # On paper: the proof and its code, without the site's navigation and buttons.
    await candidate.emulate_media(media="print")
    await expect(candidate.locator(".site-header")).to_be_hidden()
    await expect(print_button).to_be_hidden()
    await expect(candidate.get_by_test_id("proof-code")).to_be_visible()
    await candidate.emulate_media(media="screen")
    await expect(candidate.locator(".site-header")).to_be_visible()

    # Download the PDF: a real download of a real PDF with the same code.
    async with candidate.expect_download() as info:
        await candidate.get_by_test_id("proof-pdf").click()
    download = await info.value
    assert download.suggested_filename == f"bewijs-van-deelname-{code}.pdf"
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    data = saved.read_bytes()
    assert data.startswith(b"%PDF-")
    shown = "\n".join(pdf_texts(data))
    assert code in shown and ZOE in shown and "Zorggroep A" in shown
    assert "Totaal: korter dan een minuut" in shown and "1 minuut" not in shown

    # The moderator checks the code, typed loosely, through the form.
    moderator = await (await browser.new_context()).new_page()
    await log_in(moderator, server, "mod@test.example")
    await moderator.get_by_test_id("nav-proof-check").click()
    await expect(moderator).to_have_url(re.compile("/moderator/bewijs-controleren$"))
    await moderator.get_by_label("Controlecode").fill(code.lower().replace("-", " "))
    await moderator.get_by_role("button", name="Controleren").click()
    valid = moderator.get_by_test_id("proof-valid")
    await expect(valid).to_be_visible()
    await expect(valid).to_contain_text("Dit bewijs is echt.")
    await expect(moderator.get_by_test_id("proof-current")).to_be_visible()
    await expect(moderator.get_by_test_id("proof-name")).to_have_text(ZOE)
    await expect(moderator.get_by_test_id("proof-conversation")).to_contain_text("Zorggroep A")
    await expect(moderator.get_by_test_id("proof-total")).to_have_text(
        "Totaal: korter dan een minuut"
    )
    await expect(moderator.get_by_test_id("proof-code")).to_have_text(code)
    await browser.check(moderator, "proof checked")

    # A code that was never issued.
    await moderator.get_by_label("Controlecode").fill("ABCD-EFGH-JKLM")
    await moderator.get_by_role("button", name="Controleren").click()
    await expect(moderator.get_by_test_id("proof-unknown")).to_be_visible()
    await expect(moderator.get_by_test_id("proof-body")).to_have_count(0)
