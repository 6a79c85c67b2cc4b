"""Real Chromium (Debian's) driven by Playwright, and the steps people take in it."""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from tests.livekit import PASSWORD, LiveServer, World

DUTCH = "nl-NL"

# How long an expectation may wait for the page to get there. Playwright's default (5 s) is a
# bound a busy machine breaks when two test processes run browsers side by side; the tests
# assert what a person sees, not how fast (bench/ measures that).
expect.set_options(timeout=15_000)

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise RuntimeError("Debian's chromium is not installed: run scripts/install --test")
    return path


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_FLAGS, headless=True
        )
        speak_dutch(browser)
        try:
            yield browser
        finally:
            await browser.close()


def speak_dutch(browser: Browser) -> None:
    """Open every page as a Dutch-speaking visitor unless a test asks for another language.

    The hall answers in the language of the browser (Accept-Language) until the visitor
    picks one; Chromium's own default is en-US, and most of the hall's visitors speak Dutch.
    """
    open_context = browser.new_context
    open_page = browser.new_page

    async def new_context(**options: Any) -> BrowserContext:
        options.setdefault("locale", DUTCH)
        return await open_context(**options)

    async def new_page(**options: Any) -> Page:
        options.setdefault("locale", DUTCH)
        return await open_page(**options)

    setattr(browser, "new_context", new_context)  # noqa: B010 - replaces a bound method
    setattr(browser, "new_page", new_page)  # noqa: B010


async def sign_in(page: Page, server: LiveServer, name: str, email: str, next_path: str) -> None:
    """A candidate signs in through the form and lands on ``next_path``."""
    await page.goto(f"{server.url}/aanmelden?next={next_path}")
    await page.get_by_label("Naam").fill(name)
    await page.get_by_label("E-mailadres").fill(email)
    await page.get_by_role("checkbox").check()
    await page.get_by_role("button", name="Aanmelden").click()
    await expect(page).to_have_url(re.compile(re.escape(next_path) + "$"))


async def log_in(page: Page, server: LiveServer, email: str, password: str = PASSWORD) -> None:
    """A member of staff logs in through the form."""
    await page.goto(f"{server.url}/inloggen")
    await page.get_by_label("E-mailadres").fill(email)
    await page.get_by_label("Wachtwoord").fill(password)
    await page.get_by_role("button", name="Inloggen").click()


async def zoom_in_and_accept(
    server: LiveServer, world: World, candidate: Page, advisor: Page
) -> None:
    """The shortest way through the real pages to a running conversation."""
    await log_in(advisor, server, "a1@test.example")
    await sign_in(candidate, server, "Mo", "mo@example.nl", f"/inzoomen/{world.booth_a}")
    await candidate.get_by_role("button", name="Inzoomen").click()
    await expect(candidate).to_have_url(re.compile("/mijn-verzoek$"))
    await advisor.get_by_test_id("queue-item").get_by_test_id("accept").click()
    await expect(candidate.get_by_test_id("video-link")).to_be_visible()
