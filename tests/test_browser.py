"""What people do, in real Chromium: a candidate zooms in, an advisor accepts, and both see
the same link and countdown while the hall watches the advisor's status change live.

Every page these tests open is checked with axe-core after it loads, and at the moments
marked with ``checked_browser.check``; any WCAG A/AA violation fails the test at its end
(the ``checked_browser`` fixture, tests/conftest.py)."""

from __future__ import annotations

import json
import re

import pytest
from playwright.async_api import Page, WebSocketRoute, expect

from tests.a11ykit import CheckedBrowser
from tests.browserkit import log_in, zoom_in_and_accept
from tests.livekit import LiveServer, World

pytestmark = pytest.mark.browser


async def _remaining(page: Page) -> int:
    value = await page.get_by_test_id("countdown").get_attribute("data-remaining")
    assert value is not None
    return int(value)


async def test_zoom_in_accept_and_shared_countdown(
    server: LiveServer, world: World, checked_browser: CheckedBrowser
) -> None:
    browser = checked_browser
    hall_ctx = await browser.new_context()
    candidate_ctx = await browser.new_context(viewport={"width": 360, "height": 740})
    advisor_ctx = await browser.new_context()
    hall, candidate, advisor = (
        await hall_ctx.new_page(),
        await candidate_ctx.new_page(),
        await advisor_ctx.new_page(),
    )

    # The hall, not signed in, is watching.
    await hall.goto(server.url)
    badge = hall.get_by_test_id(f"advisor-status-{world.advisor_a1}")
    await expect(badge).to_have_text(re.compile("Niet aanwezig"))
    await expect(hall.locator("#live-status")).to_have_text(re.compile("Live"))

    # The advisor logs in; the hall sees them arrive without reloading.
    await log_in(advisor, server, "a1@test.example")
    await expect(advisor).to_have_url(re.compile("/adviseur$"))
    await expect(badge).to_have_text(re.compile("Beschikbaar"))

    # The candidate picks the booth, signs in, asks a question.
    await candidate.goto(server.url)
    await (
        candidate.get_by_test_id(f"booth-{world.booth_a}")
        .get_by_role("link", name=re.compile("^Inzoomen"))
        .first.click()
    )
    await expect(candidate).to_have_url(re.compile("/aanmelden"))
    await candidate.get_by_label("Naam").fill("Sanne de Vries")
    await candidate.get_by_label("E-mailadres").fill("sanne@example.nl")
    consent = candidate.get_by_role("checkbox")
    await expect(consent).not_to_be_checked()
    await consent.check()
    await candidate.get_by_role("button", name="Aanmelden").click()
    await expect(candidate).to_have_url(re.compile(f"/inzoomen/{world.booth_a}"))
    await candidate.get_by_label("Je vraag").fill("Kan ik in de zorg met een BBL beginnen?")
    await candidate.get_by_role("button", name="Inzoomen").click()
    await expect(candidate).to_have_url(re.compile("/mijn-verzoek$"))
    await expect(candidate.get_by_test_id("position")).to_contain_text("1")

    # The request appears on the console by itself; the advisor accepts it.
    item = advisor.get_by_test_id("queue-item")
    await expect(item).to_contain_text("Sanne de Vries")
    await expect(item).to_contain_text("Kan ik in de zorg met een BBL beginnen?")
    await item.get_by_test_id("accept").click()

    # Both see the same link and a countdown running from the same end time.
    candidate_link = candidate.get_by_test_id("video-link")
    advisor_link = advisor.get_by_test_id("video-link")
    await expect(candidate_link).to_be_visible()
    await expect(advisor_link).to_be_visible()
    # The candidate's button joins through the server, which sends them on to this link.
    href = await candidate_link.get_attribute("data-href")
    assert href and href.startswith("https://meet.example.test/inzoomen-")
    assert await advisor_link.get_attribute("href") == href
    for page, state in ((candidate, "my request, accepted"), (advisor, "console, in a call")):
        await browser.check(page, state)
    await expect(candidate.get_by_test_id("countdown")).to_contain_text(
        re.compile(r"(09:5\d|10:00)")
    )
    first = await _remaining(candidate)
    assert abs(first - await _remaining(advisor)) <= 1
    await candidate.wait_for_timeout(2100)
    later = await _remaining(candidate)
    assert 1 <= first - later <= 3, "the countdown runs"
    assert abs(later - await _remaining(advisor)) <= 1

    # The hall saw the advisor go into the conversation, live.
    await expect(badge).to_have_text(re.compile("In gesprek"))
    await browser.check(hall, "hall, advisor in a call")

    # The advisor ends the conversation; the candidate sees it ended.
    await advisor.get_by_role("button", name=re.compile("beëindigen", re.I)).click()
    await expect(badge).to_have_text(re.compile("Rondt af"))
    await expect(candidate.locator("#my-request")).to_contain_text("afgelopen")


async def test_both_are_warned_and_the_timer_runs_into_overtime(
    short_hall: tuple[LiveServer, World], checked_browser: CheckedBrowser
) -> None:
    server, world = short_hall
    browser = checked_browser
    candidate = await (await browser.new_context()).new_page()
    advisor = await (await browser.new_context()).new_page()
    await zoom_in_and_accept(server, world, candidate, advisor)
    for page in (candidate, advisor):
        timer = page.get_by_test_id("countdown")
        await expect(timer).to_have_class(re.compile("warning"), timeout=8000)
        await expect(page.locator("#announcer-urgent")).to_contain_text("min.")
        await browser.check(page, "time almost up")
    for page in (candidate, advisor):
        timer = page.get_by_test_id("countdown")
        await expect(timer).to_have_class(re.compile("overtime"), timeout=8000)
        await expect(timer).to_contain_text("Uitloop +")
        await expect(page.locator("#announcer-urgent")).to_contain_text("tijd is om")
        await browser.check(page, "over time")
    # Nobody is cut off: the link is still there for both.
    await expect(candidate.get_by_test_id("video-link")).to_be_visible()
    await expect(advisor.get_by_test_id("video-link")).to_be_visible()


SKEW_SCRIPT = """
(() => {
  const realNow = Date.now.bind(Date);
  Date.now = () => realNow() + %d;
})();
"""


async def test_a_wrong_local_clock_still_shows_the_same_time(
    server: LiveServer, world: World, checked_browser: CheckedBrowser
) -> None:
    browser = checked_browser
    skewed = await browser.new_context()
    await skewed.add_init_script(SKEW_SCRIPT % (7 * 60 * 1000))  # seven minutes fast
    candidate = await skewed.new_page()
    advisor = await (await browser.new_context()).new_page()
    await zoom_in_and_accept(server, world, candidate, advisor)
    await candidate.wait_for_timeout(1500)  # let the clock sync finish
    assert abs(await _remaining(candidate) - await _remaining(advisor)) <= 1
    assert await _remaining(candidate) > 590


async def test_pages_resync_by_themselves_after_a_server_restart(
    server: LiveServer, world: World, new_visitor, checked_browser: CheckedBrowser
) -> None:
    browser = checked_browser
    hall = await (await browser.new_context()).new_page()
    await hall.goto(server.url)
    status = hall.locator("#live-status")
    await expect(status).to_have_attribute("data-state", "connected")
    server.stop()
    await expect(status).to_have_attribute("data-state", "reconnecting")
    await browser.check(hall, "hall, reconnecting")
    server.start()
    await expect(status).to_have_attribute("data-state", "connected", timeout=35_000)
    # A change made after the restart reaches the page that never reloaded.
    advisor = new_visitor()
    await advisor.log_in("b1@test.example")
    badge = hall.get_by_test_id(f"advisor-status-{world.advisor_b1}")
    await expect(badge).to_have_text(re.compile("Beschikbaar"))


async def test_a_hall_that_missed_a_change_catches_up_though_its_first_sync_was_refused(
    server: LiveServer, world: World, new_visitor, checked_browser: CheckedBrowser
) -> None:
    """Between the page and the server, one hall change is lost and then the page's first
    request for the whole state is refused: the page asks again by itself and shows the
    hall as it is, and keeps following it."""
    relay = {"drop_deltas": 0, "dropped": 0, "refuse_syncs": 0, "syncs": 0}

    def route(page_side: WebSocketRoute) -> None:
        server_side = page_side.connect_to_server()

        def from_page(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame.get("action") == "session.sync":
                relay["syncs"] += 1
                if relay["refuse_syncs"]:
                    relay["refuse_syncs"] -= 1
                    error = {"code": "rate.limited", "message": "Even rustig aan."}
                    page_side.send(json.dumps({"id": frame["id"], "ok": False, "error": error}))
                    return
            server_side.send(message)

        def from_server(message: str | bytes) -> None:
            if json.loads(message).get("event") == "hall.delta" and relay["drop_deltas"]:
                relay["drop_deltas"] -= 1
                relay["dropped"] += 1
                return
            page_side.send(message)

        page_side.on_message(from_page)
        server_side.on_message(from_server)

    hall = await (await checked_browser.new_context()).new_page()
    await hall.route_web_socket(re.compile(r"/ws$"), route)
    await hall.goto(server.url)
    await expect(hall.locator("#live-status")).to_have_attribute("data-state", "connected")
    queue = hall.get_by_test_id(f"queue-{world.booth_b}")
    await expect(queue).to_have_text("Niemand in de wachtrij")

    candidates = []
    for n, name in enumerate(("Anouk Dropt", "Bram Weigert")):
        if n == 0:
            relay["drop_deltas"] = 1
        else:
            relay["refuse_syncs"] = 1
        candidate = new_visitor()
        await candidate.sign_in_candidate(name, f"resync-{n}@example.nl")
        peer = await candidate.socket()
        made = await peer.send("request.create", {"booth_id": world.booth_b, "client_key": name})
        assert made["ok"], made
        candidates.append((peer, made["data"]["request_id"]))
        if n == 0:
            while not relay["dropped"]:
                await hall.wait_for_timeout(50)
            await expect(queue).to_have_text("Niemand in de wachtrij")

    # The gap was seen, the first sync refused, and a second one answered.
    await expect(queue).to_have_text("2 mensen wachten")
    assert relay["syncs"] == 2, relay
    # And the page follows the hall again, delta by delta.
    peer, request_id = candidates.pop()
    assert (await peer.send("request.cancel", {"request_id": request_id}))["ok"]
    await peer.close()
    await expect(queue).to_have_text("1 persoon wacht")
    for peer, request_id in candidates:
        assert (await peer.send("request.cancel", {"request_id": request_id}))["ok"]
        await peer.close()
    await expect(queue).to_have_text("Niemand in de wachtrij")
