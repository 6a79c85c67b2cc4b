"""The hall on a 360 x 740 phone and a 1280 x 860 desktop, in real Chromium against a real
server: the site header takes little of a phone's screen for every role, its "Menu" opens
the rest of the links by keyboard (and without scripts every link simply shows); the
appointment card, the date fields and the spacing of forms; the console's cards apart.

One server and one browser for the module: the tests only read, and share their pages.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import BrowserContext, Page, expect

from tests.a11ykit import CheckedBrowser, assert_no_horizontal_overflow, is_focused, tab_to
from tests.browserkit import chromium
from tests.livekit import Browserless, LiveServer, World, seed_world
from tests.test_followups_web import booking, post, talking

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 860}
# The header may take at most this share of a phone's screen height.
HEADER_SHARE = 0.15
ROLES = ("candidate", "advisor", "moderator")

# Every link (and button) of the header per role, by test id: none may get lost.
LINKS = {
    "candidate": [
        "home-link",
        "language-en",
        "nav-my-request",
        "nav-my-appointments",
        "nav-my-data",
        "nav-my-proof",
        "logout",
    ],
    "advisor": ["home-link", "language-en", "nav-console", "nav-password", "logout"],
    "moderator": [
        "home-link",
        "language-en",
        "nav-overview",
        "nav-step-in",
        "nav-announcements",
        "nav-admin",
        "nav-report",
        "nav-outbox",
        "nav-proof-check",
        "nav-audit",
        "nav-password",
        "logout",
    ],
}
# A link in the part of the menu that "Menu" opens, and where it leads.
MENU_LINK = {
    "candidate": ("nav-my-proof", "/mijn-bewijs"),
    "advisor": ("nav-password", "/wachtwoord"),
    "moderator": ("nav-report", "/rapport"),
}
# The pages a phone's header is measured on: the hall and the candidate's pages for everyone
# (staff get the refusal page, with the same header), and staff's own start page.
MEASURED = {
    "candidate": ("/", "/mijn-verzoek", "/mijn-afspraken"),
    "advisor": ("/", "/mijn-verzoek", "/mijn-afspraken", "/adviseur"),
    "moderator": ("/", "/mijn-verzoek", "/mijn-afspraken", "/moderator"),
}


@dataclass
class Hall:
    """The running hall: a conversation of Sanne with advisor A1, a follow-up booked, and
    the session cookies of Sanne, A1 and the moderator."""

    server: LiveServer
    world: World
    conversation_id: int
    follow_up_id: int
    cookies: dict[str, list[tuple[str, str]]]


async def _prepare(server: LiveServer, world: World) -> Hall:
    made: list[Browserless] = []

    def new_visitor() -> Browserless:
        visitor = Browserless(server)
        made.append(visitor)
        return visitor

    try:
        advisor, console, sanne, conversation_id = await talking(new_visitor, world)
        await console.close()
        booked = await post(advisor, "/adviseur/vervolgafspraak", booking(conversation_id))
        assert booked.status_code == 303, booked.text
        follow_up_id = int(booked.headers["location"].split("/")[-1].split("?")[0])
        moderator = new_visitor()
        await moderator.log_in("mod@test.example")
        cookies = {
            role: [(c.name, c.value) for c in who.http.cookies.jar]
            for role, who in (("candidate", sanne), ("advisor", advisor), ("moderator", moderator))
        }
        return Hall(server, world, conversation_id, follow_up_id, cookies)
    finally:
        for visitor in made:
            await visitor.aclose()


@pytest.fixture(scope="module")
def hall() -> Iterator[Hall]:
    with tempfile.TemporaryDirectory(prefix="phone-layout-") as name:
        directory = Path(name)
        world = asyncio.run(seed_world(directory / "hall.db"))
        with LiveServer(directory / "hall.db", directory / "server.log") as server:
            yield asyncio.run(_prepare(server, world))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[CheckedBrowser]:
    """Real Chromium whose pages check themselves (axe, HTML); found problems fail the
    module's last test."""
    async with chromium() as raw:
        checked = CheckedBrowser(raw)
        yield checked
        await checked.assert_clean()


async def signed_in(
    browser: CheckedBrowser, hall: Hall, role: str, size: dict[str, int], **options: Any
) -> BrowserContext:
    context = await browser.new_context(viewport=size, **options)
    await context.add_cookies(
        [{"name": n, "value": v, "url": hall.server.url} for n, v in hall.cookies[role]]
    )
    return context


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def phones(browser: CheckedBrowser, hall: Hall) -> dict[str, Page]:
    """One phone page per role, shared by the tests."""
    return {role: await (await signed_in(browser, hall, role, PHONE)).new_page() for role in ROLES}


async def header_height(page: Page) -> float:
    return float(
        await page.locator(".site-header").evaluate("e => e.getBoundingClientRect().height")
    )


async def test_the_header_takes_little_of_a_phone_screen_for_every_role(
    hall: Hall, phones: dict[str, Page], browser: CheckedBrowser
) -> None:
    limit = PHONE["height"] * HEADER_SHARE
    heights: dict[str, float] = {}
    for role, page in phones.items():
        for path in MEASURED[role]:
            await page.goto(hall.server.url + path)
            await expect(page.get_by_test_id("home-link")).to_be_visible()
            heights[f"{role} {path}"] = await header_height(page)
            await assert_no_horizontal_overflow(page)
    # A visitor not signed in: the hall.
    visitor = await (await browser.new_context(viewport=PHONE)).new_page()
    await visitor.goto(hall.server.url + "/")
    await expect(visitor.get_by_test_id("nav-sign-in")).to_be_visible()
    heights["visitor /"] = await header_height(visitor)
    await visitor.context.close()
    too_tall = {where: h for where, h in heights.items() if h > limit}
    assert not too_tall, f"headers taller than {limit:.0f} px on a 360 x 740 phone: {too_tall}"
    # The most used links stand in the header itself, without opening anything.
    await phones["candidate"].goto(hall.server.url + "/mijn-verzoek")
    for test_id in ("nav-my-request", "nav-my-appointments", "nav-my-data"):
        await expect(phones["candidate"].get_by_test_id(test_id)).to_be_visible()


@pytest.mark.parametrize("role", ROLES)
async def test_the_menu_opens_and_every_link_is_reached_by_keyboard(
    hall: Hall, phones: dict[str, Page], browser: CheckedBrowser, role: str
) -> None:
    page = phones[role]
    await page.goto(hall.server.url + "/")
    header = page.locator(".site-header")
    found = await header.locator("a[data-testid], button[data-testid]").evaluate_all(
        "all => all.map(e => e.dataset.testid)"
    )
    assert sorted(found) == sorted([*LINKS[role], "menu-toggle"])

    toggle = page.get_by_role("button", name="Menu")
    await expect(toggle).to_have_attribute("aria-expanded", "false")
    menu = page.locator("#" + (await toggle.get_attribute("aria-controls") or "missing"))
    await expect(menu).to_be_hidden()

    # From the top of the page, by keyboard: the brand, the language, the button; open it.
    first = LINKS[role].index("language-en") + 1
    for test_id in LINKS[role][:first]:
        await tab_to(page, page.get_by_test_id(test_id))
    await tab_to(page, toggle)
    await page.keyboard.press("Enter")
    await expect(toggle).to_have_attribute("aria-expanded", "true")
    await expect(menu).to_be_visible()
    await browser.check(page, f"{role}: the menu open on a phone")

    # Every other link follows in order, each focus visible (tab_to checks every stop).
    for test_id in LINKS[role][first:]:
        await tab_to(page, page.get_by_test_id(test_id))

    # Escape closes it and brings the focus back to the button.
    await page.keyboard.press("Escape")
    await expect(toggle).to_have_attribute("aria-expanded", "false")
    await expect(menu).to_be_hidden()
    assert await is_focused(toggle)

    # A link in the menu works from the keyboard.
    test_id, path = MENU_LINK[role]
    await page.keyboard.press("Space")
    await expect(toggle).to_have_attribute("aria-expanded", "true")
    await tab_to(page, page.get_by_test_id(test_id))
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(re.compile(re.escape(path) + "$"))
    # A new page starts with the menu closed.
    toggle = page.get_by_role("button", name="Menu")
    await expect(toggle).to_have_attribute("aria-expanded", "false")

    # On a wide screen there is no button: every link stands in the header.
    await page.set_viewport_size(DESKTOP)
    try:
        await expect(toggle).to_be_hidden()
        for test_id in LINKS[role]:
            await expect(page.get_by_test_id(test_id)).to_be_visible()
    finally:
        await page.set_viewport_size(PHONE)


@pytest.mark.parametrize("role", ROLES)
async def test_the_links_behind_menu_show_without_scripts(
    hall: Hall, phones: dict[str, Page], browser: CheckedBrowser, role: str
) -> None:
    # Where scripts run, a phone keeps some links behind "Menu"…
    page = phones[role]
    await page.goto(hall.server.url + "/")
    behind = [
        test_id for test_id in LINKS[role] if not await page.get_by_test_id(test_id).is_visible()
    ]
    assert behind, "every link stands in the phone's header: it is not compact"

    # … and without scripts there is no button, and every link shows and works.
    context = await signed_in(browser, hall, role, PHONE, java_script_enabled=False)
    bare = await context.new_page()
    await bare.goto(hall.server.url + "/")
    await expect(bare.get_by_role("button", name="Menu")).to_be_hidden()
    for test_id in LINKS[role]:
        await expect(bare.get_by_test_id(test_id)).to_be_visible()
    test_id, path = MENU_LINK[role]
    assert test_id in behind
    await bare.get_by_test_id(test_id).click()
    await expect(bare).to_have_url(re.compile(re.escape(path) + "$"))
    await context.close()


async def test_the_appointment_card_has_no_list_marker(hall: Hall, phones: dict[str, Page]) -> None:
    page = phones["candidate"]
    await page.goto(hall.server.url + "/mijn-afspraken")
    card = page.get_by_test_id("appointment")
    await expect(card).to_have_count(1)
    marker = await card.evaluate(
        "li => ({display: getComputedStyle(li).display,"
        " type: getComputedStyle(li).listStyleType, image: getComputedStyle(li).listStyleImage})"
    )
    assert marker["display"] != "list-item" or (
        marker["type"] == "none" and marker["image"] == "none"
    ), f"the appointment card shows a list marker: {marker}"
    # The card stands in line with the heading above it, not pushed in by the list.
    heading = await page.get_by_role("heading", level=1).bounding_box()
    box = await card.bounding_box()
    assert heading and box
    assert abs(box["x"] - heading["x"]) < 1, (box, heading)


FIELD_STYLE = """e => {
  const s = getComputedStyle(e);
  const box = e.getBoundingClientRect();
  return {
    height: Math.round(box.height), width: Math.round(box.width),
    border: [s.borderTopWidth, s.borderTopStyle, s.borderTopColor, s.borderRadius].join(" "),
    font: [s.fontFamily, s.fontSize, s.fontWeight].join(" "),
    padding: s.paddingLeft, background: s.backgroundColor,
  };
}"""


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
async def test_date_fields_look_like_the_other_fields(
    hall: Hall, browser: CheckedBrowser, size: dict[str, int]
) -> None:
    context = await signed_in(browser, hall, "advisor", size)
    page = await context.new_page()
    pages = (
        (f"/adviseur/vervolgafspraak?gesprek={hall.conversation_id}", "follow-up-starts"),
        (f"/adviseur/vervolgafspraken/{hall.follow_up_id}", "move-starts"),
    )
    for path, date_id in pages:
        await page.goto(hall.server.url + path)
        date = await page.get_by_test_id(date_id).evaluate(FIELD_STYLE)
        length = await page.locator("#field-minutes").evaluate(FIELD_STYLE)
        assert date == length, f"on {path} the date field {date} differs from {length}"
        if date_id == "follow-up-starts":
            text = await page.get_by_test_id("follow-up-location").evaluate(FIELD_STYLE)
            assert date == text, f"the date field {date} differs from the text field {text}"
    await context.close()


async def test_a_form_s_last_button_stands_apart_from_the_next_heading(
    hall: Hall, phones: dict[str, Page]
) -> None:
    page = phones["advisor"]
    checks = (
        (f"/adviseur/vervolgafspraak?gesprek={hall.conversation_id}", "follow-up-submit"),
        (f"/adviseur/vervolgafspraken/{hall.follow_up_id}", "move-submit"),
    )
    for path, button_id in checks:
        await page.goto(hall.server.url + path)
        gap = await page.get_by_test_id(button_id).evaluate(
            """button => {
              const headings = [...document.querySelectorAll("main h2")];
              const after = headings.find((h) =>
                button.compareDocumentPosition(h) & Node.DOCUMENT_POSITION_FOLLOWING);
              return after.getBoundingClientRect().top - button.getBoundingClientRect().bottom;
            }"""
        )
        assert gap >= 16, f"on {path} the button is {gap} px from the next heading"


async def test_no_two_cards_of_the_console_touch(hall: Hall, browser: CheckedBrowser) -> None:
    context = await signed_in(browser, hall, "advisor", DESKTOP)
    page = await context.new_page()
    await page.goto(hall.server.url + "/adviseur")
    await expect(page.get_by_test_id("follow-ups")).to_be_visible()
    await expect(page.get_by_test_id("conversation")).to_be_visible()
    boxes = await page.locator("main .card").evaluate_all(
        """cards => cards.filter((c) => c.offsetParent !== null).map((c) => {
          const b = c.getBoundingClientRect();
          return {name: c.querySelector("h2")?.textContent.trim() ?? c.className,
                  top: b.top, bottom: b.bottom, left: b.left, right: b.right};
        })"""
    )
    assert len(boxes) >= 5, boxes
    touching = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart_x = a["right"] < b["left"] or b["right"] < a["left"]
            apart_y = a["bottom"] < b["top"] or b["bottom"] < a["top"]
            if not (apart_x or apart_y):
                touching.append((a["name"], b["name"]))
    assert not touching, f"cards that touch or overlap on the console: {touching}"
    await context.close()
