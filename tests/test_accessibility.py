"""The hall for everybody, in real Chromium: axe-core finds no WCAG 2.0/2.1 A or AA problem
on any page or state; every page fits a 360 px phone and text zoomed to 200 %; the whole
candidate and advisor flows work with the keyboard alone, with visible focus; changes are
announced without moving focus; reduced motion is respected; and the candidate's pages
work as plain forms and links before (or without) scripts."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.a11ykit import (
    CheckedBrowser,
    assert_accessible,
    assert_focus_visible,
    assert_no_clipped_text,
    assert_no_horizontal_overflow,
    axe_violations,
    is_focused,
    long_motion,
    next_frame,
    screenshot,
    set_text_zoom,
    tab_to,
)
from tests.browserkit import log_in, sign_in, zoom_in_and_accept
from tests.livekit import PASSWORD, Browserless, LiveServer, World

pytestmark = pytest.mark.browser

WIDTHS = (360, 1280)
LONG_NAME = "Wilhelmina Alexandra van den Heuvel-Oudenallen"
LONG_EMAIL = "wilhelmina.alexandra.vandenheuvel-oudenallen@voorbeeld-gemeente.example.nl"


async def settled(page: Page) -> None:
    """The page's scripts have connected and painted the live state."""
    await expect(page.locator("#live-status")).to_have_attribute("data-state", "connected")


async def survey(checked: CheckedBrowser, page: Page, state: str) -> None:
    """One state at a phone's and a desktop's width: axe, no sideways scrolling, a
    screenshot; then text at 200 % (larger root text, and a 640 px window, which is what a
    1280 px window zoomed to 200 % is) loses nothing, and 320 px (WCAG's reflow) fits."""
    size = page.viewport_size or {"width": 1280, "height": 800}
    for width in WIDTHS:
        await page.set_viewport_size({"width": width, "height": 800})
        await next_frame(page)
        await assert_no_horizontal_overflow(page)
        await checked.check(page, f"{state} at {width} px")
        await screenshot(page, state)
    await set_text_zoom(page, 200)
    try:
        await assert_no_horizontal_overflow(page)
        await assert_no_clipped_text(page)
        # Text at 200 % on a phone, too.
        await page.set_viewport_size({"width": 360, "height": 800})
        await next_frame(page)
        await assert_no_horizontal_overflow(page)
        await assert_no_clipped_text(page)
    finally:
        await set_text_zoom(page, 100)
    await page.set_viewport_size({"width": 640, "height": 800})
    await next_frame(page)
    await assert_no_horizontal_overflow(page)
    await assert_no_clipped_text(page)
    # WCAG's reflow width: 1280 px zoomed to 400 %.
    await page.set_viewport_size({"width": 320, "height": 640})
    await next_frame(page)
    await assert_no_horizontal_overflow(page)
    await page.set_viewport_size(size)


async def test_the_checks_find_real_problems(checked_browser: CheckedBrowser) -> None:
    """Zero violations means something: the same checks fail on a page that is wrong."""
    page = await (await checked_browser.browser.new_context()).new_page()
    await page.set_content(
        '<html><body><img src="data:,"><input type="text">'
        '<p style="color:#bbb;background:#fff">grey</p>'
        '<div style="width:2000px">wide</div></body></html>'
    )
    found = {v["id"] for v in await axe_violations(page)}
    assert {"html-has-lang", "image-alt", "label", "color-contrast"} <= found, found
    with pytest.raises(AssertionError, match="image-alt"):
        await assert_accessible(page, "a broken page")
    with pytest.raises(AssertionError, match="horizontal overflow"):
        await assert_no_horizontal_overflow(page)
    await page.set_content('<button style="outline:none">Go</button>')
    await page.keyboard.press("Tab")
    with pytest.raises(AssertionError, match="no visible focus indicator"):
        await assert_focus_visible(page)


# -- axe, widths and zoom: every page and state -------------------------------------------


async def test_every_page_and_state_is_accessible_and_fits(
    server: LiveServer, world: World, checked_browser: CheckedBrowser
) -> None:
    checked = checked_browser
    visitor = await checked.new_page()
    sanne = await checked.new_page()
    mo = await checked.new_page()
    advisor = await checked.new_page()
    moderator = await checked.new_page()

    # Anyone: the hall, the forms and their errors, the statement pages.
    await visitor.goto(server.url)
    await settled(visitor)
    await survey(checked, visitor, "hall")
    await visitor.goto(f"{server.url}/aanmelden")
    await survey(checked, visitor, "sign-in")
    await visitor.get_by_role("button", name="Aanmelden").click()
    await expect(visitor.get_by_test_id("error-summary")).to_be_visible()
    await survey(checked, visitor, "sign-in-errors")
    await log_in(visitor, server, "a1@test.example", "not-the-password")
    await expect(visitor.get_by_test_id("error-summary")).to_be_visible()
    await survey(checked, visitor, "login-error")
    await visitor.goto(f"{server.url}/inloggen")
    await survey(checked, visitor, "login")
    await visitor.goto(f"{server.url}/toegankelijkheid")
    await survey(checked, visitor, "accessibility")
    await visitor.goto(f"{server.url}/privacy")
    await survey(checked, visitor, "privacy")

    # The advisor is there; a candidate with a long name finds a booth.
    await log_in(advisor, server, "a1@test.example")
    await expect(advisor).to_have_url(re.compile("/adviseur$"))
    await sign_in(sanne, server, LONG_NAME, LONG_EMAIL, f"/inzoomen/{world.booth_a}")
    await survey(checked, sanne, "zoom-in")
    # A question that is too long gets a clear message (the form's own limit removed,
    # as an old browser would).
    question = sanne.get_by_label("Je vraag")
    await question.evaluate("e => e.removeAttribute('maxlength')")
    await question.fill("Is er plek in de zorg? " * 25)
    await sanne.get_by_role("button", name="Inzoomen").click()
    await expect(sanne.get_by_test_id("field-error-question")).to_be_visible()
    await expect(sanne.get_by_test_id("char-count")).to_have_text(
        "Dit is te lang: maximaal 500 tekens."
    )
    await survey(checked, sanne, "zoom-in-error")
    await question.fill("Kan ik in de zorg met een BBL beginnen? Ik werk nu in de schoonmaak.")
    await sanne.get_by_role("button", name="Inzoomen").click()
    await expect(sanne).to_have_url(re.compile("/mijn-verzoek$"))
    await settled(sanne)
    await expect(sanne.get_by_test_id("position")).to_contain_text("1")
    await survey(checked, sanne, "my-request-waiting")
    hall = await sanne.context.new_page()
    await hall.goto(server.url)
    await expect(hall.get_by_test_id("my-request-banner")).to_be_visible()
    await settled(hall)
    await survey(checked, hall, "hall-signed-in")
    await hall.close()
    await sanne.goto(f"{server.url}/inzoomen/99999")
    await survey(checked, sanne, "error-404")
    await sanne.goto(f"{server.url}/mijn-verzoek")

    # A second candidate asks for this advisor by name.
    await sign_in(mo, server, "Mo", "mo@example.nl", f"/inzoomen/{world.booth_a}")
    await mo.get_by_test_id(f"advisor-choice-{world.advisor_a1}").check()
    await mo.get_by_role("button", name="Inzoomen").click()
    await expect(mo.get_by_test_id("position")).to_contain_text("2")

    # The console with two requests, one of them being declined; the moderator's overview.
    items = advisor.get_by_test_id("queue-item")
    await expect(items).to_have_count(2)
    await settled(advisor)
    await survey(checked, advisor, "console-requests")
    await log_in(moderator, server, "mod@test.example")
    await expect(moderator).to_have_url(re.compile("/moderator$"))
    await settled(moderator)
    await survey(checked, moderator, "overview-waiting")
    second = items.nth(1)
    await second.get_by_test_id("decline-toggle").click()
    await survey(checked, advisor, "console-decline-form")
    await second.get_by_test_id("decline-message").fill("Probeer de stand van Bouwbedrijf B.")
    await second.get_by_test_id("decline").click()
    await expect(mo.get_by_test_id("state-declined")).to_be_visible()
    await survey(checked, mo, "my-request-declined")

    # Accepted: the link and the timer, for both, and the overview.
    await items.first.get_by_test_id("accept").click()
    await expect(sanne.get_by_test_id("video-link")).to_be_visible()
    await survey(checked, sanne, "my-request-conversation")
    await expect(advisor.get_by_test_id("video-link")).to_be_visible()
    await survey(checked, advisor, "console-conversation")
    await expect(moderator.get_by_test_id("conversation-row")).to_have_count(1)
    await survey(checked, moderator, "overview-conversation")

    # Ended, and a cancelled request.
    await advisor.get_by_test_id("end-conversation").click()
    await expect(sanne.get_by_test_id("state-ended")).to_be_visible()
    await survey(checked, sanne, "my-request-ended")
    await survey(checked, advisor, "console-wrapping-up")
    await mo.goto(f"{server.url}/inzoomen/{world.booth_b}")
    await mo.get_by_role("button", name="Inzoomen").click()
    await expect(mo.get_by_test_id("state-waiting")).to_be_visible()
    await settled(mo)
    await mo.get_by_test_id("cancel").click()
    await expect(mo.get_by_test_id("state-cancelled")).to_be_visible()
    await survey(checked, mo, "my-request-cancelled")

    await checked.assert_clean()
    assert len(checked.checked) >= 40, checked.checked


# -- the timer: almost up, over time, and reduced motion -----------------------------------


async def test_time_almost_up_and_over_time_with_reduced_motion(
    short_hall: tuple[LiveServer, World], checked_browser: CheckedBrowser
) -> None:
    server, world = short_hall
    checked = checked_browser
    candidate = await checked.new_page(reduced_motion="reduce")
    advisor = await checked.new_page(reduced_motion="reduce")
    await candidate.goto(server.url)
    await settled(candidate)
    assert await long_motion(candidate) == [], "the hall moves although asked not to"

    await zoom_in_and_accept(server, world, candidate, advisor)
    for page in (candidate, advisor):
        timer = page.get_by_test_id("countdown")
        await expect(timer).to_have_class(re.compile("warning"), timeout=8000)
    for page, name in ((candidate, "my-request"), (advisor, "console")):
        await checked.check(page, f"{name}-time-almost-up")
        await assert_no_horizontal_overflow(page)
        assert await long_motion(page) == []
        timer = page.get_by_test_id("countdown")
        # The timer itself is silent; the warning was said once, urgently.
        assert await timer.get_attribute("aria-live") in (None, "off")
        assert await timer.evaluate("e => !e.closest('[aria-live]:not([aria-live=off])')")
        await expect(page.locator("#announcer-urgent")).to_contain_text("min.")
    for page, name in ((candidate, "my-request"), (advisor, "console")):
        timer = page.get_by_test_id("countdown")
        await expect(timer).to_have_class(re.compile("overtime"), timeout=8000)
        await expect(page.locator("#announcer-urgent")).to_contain_text("tijd is om")
        await page.set_viewport_size({"width": 360, "height": 740})
        await next_frame(page)
        await checked.check(page, f"{name}-overtime at 360 px")
        await assert_no_horizontal_overflow(page)
        await screenshot(page, f"{name}-overtime")
        assert await long_motion(page) == []
        # The longest timer text still fits with text at 200 %.
        await set_text_zoom(page, 200)
        await assert_no_horizontal_overflow(page)
        await assert_no_clipped_text(page)


# -- keyboard only ---------------------------------------------------------------------------


VIDEO_PAGE = '<!doctype html><html lang="nl"><title>Video</title><main><p>Video</p></main></html>'


async def press(page: Page, key: str) -> None:
    await page.keyboard.press(key)


async def test_candidate_and_advisor_flows_with_the_keyboard_alone(
    server: LiveServer, world: World, checked_browser: CheckedBrowser
) -> None:
    checked = checked_browser
    candidate_ctx = await checked.new_context(viewport={"width": 360, "height": 740})
    await candidate_ctx.route(
        "https://meet.example.test/**",
        lambda route: route.fulfill(body=VIDEO_PAGE, content_type="text/html"),
    )
    candidate = await candidate_ctx.new_page()
    advisor = await checked.new_page()

    # The advisor logs in: Tab to each field, type, Enter.
    await advisor.goto(f"{server.url}/inloggen")
    await tab_to(advisor, advisor.get_by_label("E-mailadres"))
    await advisor.keyboard.type("a1@test.example")
    await tab_to(advisor, advisor.get_by_label("Wachtwoord"))
    await advisor.keyboard.type(PASSWORD)
    await press(advisor, "Enter")
    await expect(advisor).to_have_url(re.compile("/adviseur$"))
    await settled(advisor)

    # The candidate finds the booth's Inzoomen in the hall; the first Tab shows the skip link.
    await candidate.goto(server.url)
    await settled(candidate)
    await press(candidate, "Tab")
    skip = candidate.get_by_role("link", name="Naar de inhoud")
    assert await is_focused(skip)
    await assert_focus_visible(candidate)
    await tab_to(candidate, candidate.get_by_test_id(f"zoom-in-{world.booth_a}"))
    await press(candidate, "Enter")
    await expect(candidate).to_have_url(re.compile("/aanmelden"))

    # Sign in: name, e-mail, consent with Space, Enter on the button.
    await tab_to(candidate, candidate.get_by_label("Naam"))
    await candidate.keyboard.type("Sanne de Vries")
    await tab_to(candidate, candidate.get_by_label("E-mailadres"))
    await candidate.keyboard.type("sanne@example.nl")
    consent = candidate.get_by_role("checkbox")
    await tab_to(candidate, consent)
    await press(candidate, "Space")
    await expect(consent).to_be_checked()
    await tab_to(candidate, candidate.get_by_role("button", name="Aanmelden"))
    await press(candidate, "Enter")
    await expect(candidate).to_have_url(re.compile(f"/inzoomen/{world.booth_a}$"))

    # Zoom in with a question; back with Shift+Tab to check the choice, then on.
    question = candidate.get_by_label("Je vraag")
    await tab_to(candidate, question)
    await candidate.keyboard.type("Kan ik in de zorg met een BBL beginnen?")
    await tab_to(candidate, candidate.get_by_test_id("advisor-choice-any"), back=True)
    await tab_to(candidate, candidate.get_by_role("button", name="Inzoomen"))
    await press(candidate, "Enter")
    await expect(candidate).to_have_url(re.compile("/mijn-verzoek$"))
    await expect(candidate.get_by_test_id("position")).to_contain_text("nummer 1")
    await settled(candidate)

    # The candidate waits, reading the menu; the advisor accepts by keyboard.
    menu_link = candidate.get_by_test_id("nav-my-request")
    await tab_to(candidate, menu_link, back=True)
    accept = advisor.get_by_test_id("queue-item").get_by_test_id("accept")
    await expect(accept).to_be_visible()
    await expect(advisor.locator("#announcer")).to_contain_text("Sanne de Vries")
    await tab_to(advisor, accept)
    await press(advisor, "Enter")
    await expect(advisor.get_by_test_id("video-link")).to_be_visible()
    await assert_focus_visible(advisor)

    # The candidate is told, urgently, and focus stays where it was.
    await expect(candidate.locator("#announcer-urgent")).to_have_text(
        "Je gesprek begint nu. Open de videolink."
    )
    assert await is_focused(menu_link), "the script moved focus on accept"
    # The countdown is a timer, not a live region that would talk every second.
    timer = candidate.get_by_test_id("countdown")
    await expect(timer).to_contain_text(re.compile(r"(09:5\d|10:00)"))
    assert await timer.get_attribute("role") == "timer"
    assert await timer.evaluate("e => !e.closest('[aria-live]:not([aria-live=off])')")

    # The video link is reached by keyboard and opens the call in a new window.
    link = candidate.get_by_test_id("video-link")
    await tab_to(candidate, link)
    async with candidate_ctx.expect_page() as popup_info:
        await press(candidate, "Enter")
    popup = await popup_info.value
    await popup.wait_for_load_state()
    assert popup.url.startswith("https://meet.example.test/inzoomen-")
    await popup.close()
    await expect(timer).to_be_visible()

    # The advisor ends the conversation by keyboard.
    end = advisor.get_by_test_id("end-conversation")
    await tab_to(advisor, end)
    await press(advisor, "Enter")
    await expect(advisor.get_by_test_id("no-conversation")).to_be_visible()
    await assert_focus_visible(advisor)
    await expect(candidate.get_by_test_id("state-ended")).to_be_visible()


async def test_the_place_in_the_queue_is_announced_without_moving_focus(
    server: LiveServer, world: World, checked_browser: CheckedBrowser, new_visitor
) -> None:
    """When the person ahead leaves, the waiting candidate hears the new place."""
    first = new_visitor()
    await first.sign_in_candidate("Eerste", "eerste@example.nl")
    peer = await first.socket()
    created = await peer.send("request.create", {"booth_id": world.booth_a, "client_key": "k1"})
    assert created["ok"], created

    page = await checked_browser.new_page()
    await sign_in(page, server, "Tweede", "tweede@example.nl", f"/inzoomen/{world.booth_a}")
    await page.get_by_role("button", name="Inzoomen").click()
    await expect(page.get_by_test_id("position")).to_contain_text("nummer 2")
    await settled(page)
    cancel = page.get_by_test_id("cancel")
    await tab_to(page, cancel)

    await peer.send("request.cancel", {"request_id": created["data"]["request_id"]})
    await expect(page.get_by_test_id("position")).to_contain_text("nummer 1")
    await expect(page.locator("#announcer")).to_contain_text("nummer 1")
    assert await is_focused(cancel), "focus moved when the place changed"
    await peer.close()

    # Accepted while focus is on the cancel button, which goes away with the waiting panel:
    # focus is not dropped to the top of the page but lands on the new panel's heading.
    advisor: Browserless = new_visitor()
    await advisor.log_in("a1@test.example")
    token = await advisor.csrf("/adviseur")
    await advisor.http.post("/adviseur/accepteren", data={"csrf": token})
    await expect(page.locator("#announcer-urgent")).to_have_text(
        "Je gesprek begint nu. Open de videolink."
    )
    heading = page.get_by_test_id("state-conversation").get_by_role("heading")
    await expect(heading).to_be_focused()
    await assert_focus_visible(page)


# -- before (or without) scripts -------------------------------------------------------------


async def test_the_candidate_pages_work_without_javascript(
    server: LiveServer, world: World, checked_browser: CheckedBrowser, new_visitor
) -> None:
    context: BrowserContext = await checked_browser.new_context(java_script_enabled=False)
    page = await context.new_page()

    # The hall filters as a plain form.
    await page.goto(server.url)
    await expect(page.get_by_test_id("refresh-hall")).to_be_visible()
    await page.get_by_label("Sector").select_option("bouw")
    await page.get_by_role("button", name="Filter").click()
    await expect(page).to_have_url(re.compile(r"\?sector=bouw"))
    await expect(page.get_by_test_id(f"booth-{world.booth_a}")).to_be_hidden()
    await expect(page.get_by_test_id(f"booth-{world.booth_b}")).to_be_visible()
    await expect(page.get_by_test_id("booth-count")).to_have_text("1 stand")

    # Inzoomen leads to signing in, then back to the booth.
    await page.goto(server.url)
    await page.get_by_test_id(f"zoom-in-{world.booth_a}").click()
    await expect(page).to_have_url(re.compile("/aanmelden"))
    await page.get_by_label("Naam").fill("Sanne de Vries")
    await page.get_by_label("E-mailadres").fill("sanne@example.nl")
    await page.get_by_role("button", name="Aanmelden").click()
    await expect(page.get_by_test_id("field-error-consent")).to_be_visible()
    await page.get_by_role("checkbox").check()
    await page.get_by_role("button", name="Aanmelden").click()
    await expect(page).to_have_url(re.compile(f"/inzoomen/{world.booth_a}$"))
    await page.get_by_label("Je vraag").fill("Kan ik in de zorg beginnen?")
    await page.get_by_role("button", name="Inzoomen").click()

    # "My request" shows the place in the queue, and a refresh link to look again.
    await expect(page).to_have_url(re.compile("/mijn-verzoek$"))
    await expect(page.get_by_test_id("position")).to_contain_text("nummer 1")
    refresh = page.get_by_test_id("refresh")
    await expect(refresh).to_be_visible()

    # An advisor accepts (over HTTP, as the console's form does); a refresh shows the link.
    advisor: Browserless = new_visitor()
    await advisor.log_in("a1@test.example")
    token = await advisor.csrf("/adviseur")
    response = await advisor.http.post("/adviseur/accepteren", data={"csrf": token})
    assert response.status_code == 303, response.text
    await refresh.click()
    link = page.get_by_test_id("video-link")
    await expect(link).to_be_visible()
    # The join button posts to the server, which notes it and sends them on to the link.
    assert (await link.get_attribute("data-href") or "").startswith("https://meet.example.test/")
    await expect(page.get_by_test_id("countdown")).to_contain_text(re.compile(r"\d\d:\d\d"))
    await checked_browser.check(page, "my-request-conversation (no scripts)")

    # The end, and a new request cancelled by its form.
    token = await advisor.csrf("/adviseur")
    console = (await advisor.http.get("/adviseur")).text
    conversation = re.search(r'name="conversation_id" value="(\d+)"', console)
    assert conversation
    await advisor.http.post(
        "/adviseur/beeindigen", data={"csrf": token, "conversation_id": conversation.group(1)}
    )
    await refresh.click()
    await expect(page.get_by_test_id("state-ended")).to_be_visible()
    await page.goto(f"{server.url}/inzoomen/{world.booth_b}")
    await page.get_by_role("button", name="Inzoomen").click()
    await expect(page.get_by_test_id("position")).to_contain_text("nummer 1")
    await page.get_by_test_id("cancel").click()
    await expect(page.get_by_test_id("state-cancelled")).to_be_visible()
    await assert_no_horizontal_overflow(page)


async def test_the_error_summary_leads_to_each_field_by_keyboard(
    server: LiveServer, checked_browser: CheckedBrowser
) -> None:
    page = await checked_browser.new_page()
    await page.goto(f"{server.url}/aanmelden")
    await tab_to(page, page.get_by_role("button", name="Aanmelden"))
    await press(page, "Enter")
    summary = page.get_by_test_id("error-summary")
    await expect(summary).to_be_focused()
    await assert_focus_visible(page)
    links = summary.get_by_role("link")
    hrefs = [await link.get_attribute("href") for link in await links.all()]
    assert hrefs == ["#field-name", "#field-email", "#field-consent"], hrefs
    for href in hrefs:
        assert href is not None
        field = page.locator(href)
        await expect(field).to_have_attribute("aria-invalid", "true")
        described = (await field.get_attribute("aria-describedby") or "").split()
        assert f"{href[1:]}-error" in described, described
    # Enter on a link in the summary puts focus in its field, ready to type.
    await page.keyboard.press("Tab")
    await press(page, "Enter")
    await expect(page.get_by_label("Naam")).to_be_focused()
    await page.keyboard.type("Sanne")
    await expect(page.get_by_label("Naam")).to_have_value("Sanne")
