"""The call on the hall's own page in real Chromium, with a fake camera and microphone: the
accept takes both into the same call page, media flow both ways (the stats say bytes keep
arriving), both see the same time, a reload comes back without a new accept, mute and camera
off change what the other side receives, and the end ends the call for both."""

from __future__ import annotations

import asyncio
import re
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.a11ykit import CheckedBrowser
from tests.browserkit import chromium, log_in, sign_in
from tests.livekit import LiveServer, World, seed_world
from tests.test_accessibility import survey
from tests.test_turn import SECRET as TURN_SECRET
from tests.test_turn import running_turn

pytestmark = pytest.mark.browser

CALL = re.compile(r"/videogesprek/[A-Za-z0-9_-]{43}$")
# Long enough for every step here; the warning is not what this tests.
LENGTH = 900


@pytest.fixture
async def hall(tmp_path: Path) -> AsyncIterator[tuple[LiveServer, World]]:
    path = tmp_path / "call.db"
    world = await seed_world(path, conversation_seconds=LENGTH, video_provider="builtin")
    live = LiveServer(path, tmp_path / "call-server.log")
    live.start()
    try:
        yield live, world
    finally:
        live.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


async def stat(page: Page, name: str) -> int:
    value = await page.get_by_test_id("call").get_attribute(f"data-in-{name}-bytes")
    return int(value or 0)


async def growing(page: Page, kind: str, seconds: float = 15.0) -> None:
    """Bytes of the other side's ``kind`` keep arriving on this page."""
    deadline = time.monotonic() + seconds
    first = await stat(page, kind)
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        if await stat(page, kind) > first + 1000:
            return
    raise AssertionError(f"no {kind} arrives on {page.url}")


async def stalled(page: Page, kind: str, seconds: float = 15.0) -> None:
    """No more of the other side's ``kind`` arrives on this page (for two seconds running)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        before = await stat(page, kind)
        await asyncio.sleep(2.0)
        if await stat(page, kind) == before:
            return
    raise AssertionError(f"{kind} still arrives on {page.url}")


async def connected(*pages: Page, timeout: float = 30_000) -> None:
    for page in pages:
        await expect(page.get_by_test_id("call")).to_have_attribute(
            "data-connection", "connected", timeout=timeout
        )


async def remaining(page: Page) -> int:
    value = await page.get_by_test_id("countdown").get_attribute("data-remaining")
    assert value is not None
    return int(value)


async def into_the_call(
    browser: Browser, server: LiveServer, world: World
) -> tuple[BrowserContext, BrowserContext, Page, Page]:
    """A candidate zooms in, the advisor accepts: both land on the call page by themselves."""
    context_a = await browser.new_context(base_url=server.url)
    context_c = await browser.new_context(base_url=server.url)
    advisor, candidate = await context_a.new_page(), await context_c.new_page()
    await accepted_into_the_call(server, world, advisor, candidate)
    return context_a, context_c, advisor, candidate


async def accepted_into_the_call(
    server: LiveServer, world: World, advisor: Page, candidate: Page
) -> None:
    # What the pages log is shown when a test fails.
    for who, page in (("advisor", advisor), ("candidate", candidate)):
        page.on("console", lambda message, who=who: print(f"[{who}] {message.text}"))
    await log_in(advisor, server, "a1@test.example")
    await sign_in(candidate, server, "Mo", "mo@example.nl", f"/inzoomen/{world.booth_a}")
    await candidate.get_by_role("button", name="Inzoomen").click()
    await expect(candidate).to_have_url(re.compile("/mijn-verzoek$"))
    await expect(advisor.get_by_test_id("queue-item")).to_have_count(1)
    await advisor.get_by_test_id("queue-item").get_by_test_id("accept").click()
    await expect(advisor).to_have_url(CALL)
    await expect(candidate).to_have_url(CALL)
    assert advisor.url == candidate.url


async def test_a_call_connects_flows_survives_a_reload_and_ends_for_both(
    hall: tuple[LiveServer, World], browser: Browser
) -> None:
    server, world = hall
    context_a, context_c, advisor, candidate = await into_the_call(browser, server, world)
    await connected(advisor, candidate)
    for page in (advisor, candidate):
        await growing(page, "video")
        await growing(page, "audio")
        await expect(page.get_by_test_id("call-state")).to_have_text("Verbonden")
    # One shared timer: both see the same time left.
    assert abs(await remaining(advisor) - await remaining(candidate)) <= 1
    before = await remaining(candidate)

    # The candidate's page is reloaded: a new page, the same call, no new accept.
    await candidate.reload()
    await expect(candidate).to_have_url(advisor.url)
    await connected(advisor, candidate)
    await growing(advisor, "video")
    await growing(candidate, "video")
    after = await remaining(candidate)
    assert after <= before, "the timer must never reset"
    assert abs(await remaining(advisor) - after) <= 1

    # The advisor ends the conversation: the call ends for both.
    await advisor.get_by_test_id("end-conversation").click()
    for page in (advisor, candidate):
        await expect(page.get_by_test_id("call-ended")).to_be_visible()
        await expect(page.get_by_test_id("call")).to_be_hidden()
        await expect(page.get_by_test_id("call")).to_have_attribute("data-connection", "ended")
    await expect(candidate.get_by_test_id("back-to-request")).to_be_visible()
    await context_a.close()
    await context_c.close()


async def test_mute_and_camera_off_change_what_the_other_side_receives(
    hall: tuple[LiveServer, World], browser: Browser
) -> None:
    server, world = hall
    context_a, context_c, advisor, candidate = await into_the_call(browser, server, world)
    await connected(advisor, candidate)
    await growing(advisor, "audio")
    await growing(advisor, "video")

    await candidate.get_by_test_id("toggle-mic").click()
    await expect(candidate.get_by_test_id("toggle-mic")).to_have_attribute("aria-pressed", "true")
    await stalled(advisor, "audio")
    await growing(advisor, "video")
    await expect(advisor.get_by_test_id("remote-note")).to_contain_text("microfoon uit")
    await candidate.get_by_test_id("toggle-mic").click()
    await growing(advisor, "audio")
    await expect(advisor.get_by_test_id("remote-note")).not_to_contain_text("microfoon uit")

    await candidate.get_by_test_id("toggle-camera").click()
    await stalled(advisor, "video")
    await growing(advisor, "audio")
    await expect(advisor.get_by_test_id("remote-note")).to_contain_text("camera uit")
    await candidate.get_by_test_id("toggle-camera").click()
    await growing(advisor, "video")

    # Audio only on one side: no video either way, sound both ways.
    await advisor.get_by_test_id("toggle-audio-only").click()
    await stalled(candidate, "video")
    await stalled(advisor, "video")
    await growing(candidate, "audio")
    await growing(advisor, "audio")
    await expect(candidate.get_by_test_id("remote-note")).to_contain_text("Alleen geluid")
    await advisor.get_by_test_id("toggle-audio-only").click()
    await growing(candidate, "video")
    await growing(advisor, "video")
    await context_a.close()
    await context_c.close()


async def test_a_third_candidate_cannot_open_the_call(
    hall: tuple[LiveServer, World], browser: Browser
) -> None:
    server, world = hall
    context_a, context_c, advisor, _candidate = await into_the_call(browser, server, world)
    context_x = await browser.new_context(base_url=server.url)
    third = await context_x.new_page()
    await sign_in(third, server, "Derde", "derde@example.nl", "/")
    response = await third.goto(advisor.url)
    assert response is not None and response.status == 404
    await expect(third.get_by_text("Dit gesprek bestaat niet")).to_be_visible()
    await expect(third.get_by_test_id("call")).to_have_count(0)
    for context in (context_a, context_c, context_x):
        await context.close()


async def test_the_call_page_is_accessible_and_fits_a_phone(
    hall: tuple[LiveServer, World], checked_browser: CheckedBrowser
) -> None:
    server, world = hall
    advisor, candidate = await checked_browser.new_page(), await checked_browser.new_page()
    await accepted_into_the_call(server, world, advisor, candidate)
    await connected(advisor, candidate)
    await survey(checked_browser, candidate, "call, candidate")
    await survey(checked_browser, advisor, "call, advisor")
    # The ways out, and "bel mij" refused without consent, then asked.
    await candidate.get_by_text("Werkt de video niet?").click()
    await candidate.get_by_label("Telefoonnummer").fill("06 1234 5678")
    await candidate.get_by_test_id("phone-me").click()
    await expect(candidate.get_by_test_id("call-problem")).to_contain_text("Geef toestemming")
    await candidate.get_by_label("Ik vind het goed").check()
    await candidate.get_by_test_id("phone-me").click()
    await expect(candidate.get_by_test_id("phone-asked")).to_have_text(
        "De adviseur belt je op 06 1234 5678."
    )
    await expect(advisor.get_by_test_id("fallback-notice")).to_contain_text("06 1234 5678")
    await expect(advisor.get_by_test_id("callback-link")).to_have_attribute(
        "href", "tel:0612345678"
    )
    await survey(checked_browser, candidate, "call, ways out")
    await advisor.get_by_test_id("end-conversation").click()
    await expect(candidate.get_by_test_id("call-ended")).to_be_visible()
    await survey(checked_browser, candidate, "call ended")


async def test_a_call_through_a_relay_that_drops_comes_back_by_itself(
    tmp_path: Path, browser: Browser
) -> None:
    """Every byte of this call goes through a real coturn (relay only). The relay goes away
    (the network between the two is cut) and comes back on the same address: both pages say
    they reconnect, the connection restarts by itself (ICE restart, or a new connection) and
    the media flow again, without a new accept and with the same time left."""
    if shutil.which("turnserver") is None:
        pytest.skip("coturn (turnserver) is not installed: scripts/install --test installs it")
    auth = ["--use-auth-secret", f"--static-auth-secret={TURN_SECRET}"]
    (tmp_path / "first").mkdir()
    with running_turn(tmp_path / "first", auth) as turn:
        port = turn.port
        path = tmp_path / "relay.db"
        world = await seed_world(path, conversation_seconds=LENGTH, video_provider="builtin")
        server = LiveServer(
            path,
            tmp_path / "relay-server.log",
            env={
                "INZOOMEN_TURN_URLS": turn.url,
                "INZOOMEN_TURN_SECRET": TURN_SECRET,
                "INZOOMEN_ICE_RELAY_ONLY": "true",
            },
        )
        server.start()
        try:
            context_a, context_c, advisor, candidate = await into_the_call(browser, server, world)
            await connected(advisor, candidate)
            await growing(advisor, "video")
            await growing(candidate, "audio")
            before = await remaining(candidate)
            turn.process.kill()
            turn.process.wait()
            for page in (advisor, candidate):
                await expect(page.get_by_test_id("call")).to_have_attribute(
                    "data-connection", "reconnecting", timeout=30_000
                )
                await expect(page.get_by_test_id("call-state")).to_have_text(
                    "Verbinding weg. We verbinden opnieuw…"
                )
            (tmp_path / "second").mkdir()
            with running_turn(tmp_path / "second", auth, port=port):
                await connected(advisor, candidate, timeout=60_000)
                await growing(advisor, "video")
                await growing(candidate, "video")
                await growing(advisor, "audio")
                after = await remaining(candidate)
                assert after <= before, "the timer must never reset"
                assert abs(await remaining(advisor) - after) <= 1
            await context_a.close()
            await context_c.close()
        finally:
            server.stop()


async def test_the_warning_and_an_extension_show_in_the_call_on_both_sides(
    tmp_path: Path, browser: Browser
) -> None:
    """Conversations of 60 s with the warning at 57 s left: the warning comes on both call
    pages; the advisor extends from the call page and both timers count to the new end."""
    path = tmp_path / "short-call.db"
    world = await seed_world(
        path, conversation_seconds=60, warning_seconds=57, video_provider="builtin"
    )
    server = LiveServer(path, tmp_path / "short-call-server.log")
    server.start()
    try:
        context_a, context_c, advisor, candidate = await into_the_call(browser, server, world)
        for page in (advisor, candidate):
            await expect(page.get_by_test_id("call-warning")).to_contain_text(
                "Begin met afronden", timeout=15_000
            )
        await expect(candidate.get_by_test_id("end-choices")).to_have_count(0)
        await expect(advisor.get_by_test_id("follow-up")).to_be_visible()
        before = await remaining(candidate)
        await advisor.get_by_test_id("extend").click()
        for page in (advisor, candidate):
            await expect(page.get_by_test_id("call-warning")).to_be_hidden()
            assert await remaining(page) >= before + 5 * 60 - 5
        assert abs(await remaining(advisor) - await remaining(candidate)) <= 1
        await expect(advisor.get_by_test_id("end-choices")).to_be_hidden()
        await context_a.close()
        await context_c.close()
    finally:
        server.stop()
