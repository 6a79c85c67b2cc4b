"""The advisor's status buttons in real Chromium: each button's name is its status and
nothing more ("Beschikbaar", not "✓ Beschikbaar"), and which one holds is told by
aria-pressed on every button, as the server draws them and after every live change (a
choice in another tab, a conversation that starts and ends). The check mark stays on the
screen for sighted advisors, out of the accessible name."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import pytest
from playwright.async_api import Page, expect

from tests.a11ykit import CheckedBrowser
from tests.browserkit import log_in, sign_in
from tests.livekit import LiveServer, World, seed_world

pytestmark = pytest.mark.browser

LABELS = {"available": "Beschikbaar", "paused": "Pauze", "offline": "Niet aanwezig"}


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, World]]:
    """One server for the module; each test has an advisor of its own."""
    directory = tmp_path_factory.mktemp("console-status")
    world = asyncio.run(seed_world(directory / "hall.db"))
    with LiveServer(directory / "hall.db", directory / "server.log") as live:
        yield live, world


async def chromium_button_names(page: Page) -> list[str]:
    """The accessible names Chromium itself computes for the buttons of the page (what a
    screen reader is given)."""
    session = await page.context.new_cdp_session(page)
    try:
        tree = await session.send("Accessibility.getFullAXTree")
    finally:
        await session.detach()
    return [
        str(node.get("name", {}).get("value", ""))
        for node in tree["nodes"]
        if node.get("role", {}).get("value") == "button" and not node.get("ignored")
    ]


async def buttons_say(page: Page, pressed: str | None) -> None:
    """Every status button is named by its status alone and carries aria-pressed; only
    ``pressed`` (None: none of them) is pressed and shows the check mark."""
    for code, label in LABELS.items():
        button = page.get_by_role("button", name=label, exact=True)
        await expect(button).to_have_attribute(
            "aria-pressed", "true" if code == pressed else "false"
        )
        await expect(button).to_have_attribute("data-testid", f"status-{code}")
        mark = await button.evaluate("b => getComputedStyle(b, '::before').content")
        assert ("✓" in mark) is (code == pressed), (code, mark)
    names = await chromium_button_names(page)
    assert not [name for name in names if "✓" in name], names
    assert [name for name in names if name in LABELS.values()] == list(LABELS.values())
    group = page.get_by_role("group", name="Kies je status")
    await expect(group).to_match_aria_snapshot(
        "\n".join(
            f'- button "{label}"' + (" [pressed]" if code == pressed else "")
            for code, label in LABELS.items()
        )
    )


async def test_the_status_buttons_name_the_status_and_say_which_holds(
    hall: tuple[LiveServer, World], checked_browser: CheckedBrowser
) -> None:
    server, _world = hall
    browser = checked_browser
    console = await browser.new_page(viewport={"width": 360, "height": 740})
    await log_in(console, server, "a1@test.example")
    await expect(console).to_have_url(re.compile("/adviseur$"))

    for code, label in LABELS.items():
        await console.get_by_role("button", name=label, exact=True).click()
        await expect(console.get_by_test_id("my-status")).to_have_text(label)
        await buttons_say(console, code)
        # As the server draws it after a reload.
        await console.reload()
        await buttons_say(console, code)
    await browser.check(console, "console, status buttons")

    # A choice in another tab reaches this one live.
    await console.evaluate("window.notReloaded = true")
    other = await console.context.new_page()
    await other.goto(f"{server.url}/adviseur")
    await other.get_by_role("button", name="Beschikbaar", exact=True).click()
    await buttons_say(console, "available")
    assert await console.evaluate("window.notReloaded === true")


async def test_in_a_conversation_no_status_button_is_pressed(
    hall: tuple[LiveServer, World], checked_browser: CheckedBrowser
) -> None:
    server, world = hall
    browser = checked_browser
    console = await browser.new_page()
    await log_in(console, server, "b1@test.example")
    await console.get_by_role("button", name="Beschikbaar", exact=True).click()
    await buttons_say(console, "available")

    candidate = await (await browser.new_context()).new_page()
    await sign_in(candidate, server, "Mo", "mo@example.nl", f"/inzoomen/{world.booth_b}")
    await candidate.get_by_role("button", name="Inzoomen").click()
    await expect(candidate).to_have_url(re.compile("/mijn-verzoek$"))
    await console.get_by_test_id("queue-item").get_by_test_id("accept").click()
    await expect(console.get_by_test_id("my-status")).to_have_text("In gesprek")
    # Live, and as the server draws it.
    await buttons_say(console, None)
    await console.reload()
    await buttons_say(console, None)

    await console.get_by_test_id("end-conversation").click()
    await expect(console.get_by_test_id("my-status")).not_to_have_text("In gesprek")
    await console.get_by_role("button", name="Beschikbaar", exact=True).click()
    await buttons_say(console, "available")
