"""The call page as a call screen, in real Chromium with a fake camera: on a phone held either
way, a desktop and a tablet, the other side's picture, the timer and every control of the
call are on the screen at once without scrolling; the picture keeps its shape; the time
warning stays readable over it; the choices that need room open in a panel over the picture;
and the call goes full screen and back, by button and by Escape.

One call serves every screen size (the window is resized), so the suite stays fast."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.a11ykit import CheckedBrowser, is_focused, next_frame, screenshot, tab_to
from tests.livekit import LiveServer, World, seed_world
from tests.test_call_browser import accepted_into_the_call, connected

pytestmark = pytest.mark.browser

# Phone upright and on its side, desktop, tablet upright.
SIZES = ((360, 640), (640, 360), (1280, 720), (720, 1280))
# The warning comes right after the accept, so every size is measured with it (and the
# advisor's choices at the warning) over the picture: the fullest the screen gets.
LENGTH = 600
WARNING = 598

# Where everything of the call is, as the person sees it: the window, how far the document
# scrolls, every visible control (and whether something else lies over its middle), the
# countdown, and the two pictures.
_LAYOUT = """
() => {
  const width = window.innerWidth;
  const height = window.innerHeight;
  // checkVisibility: also false inside a closed <details> or a panel that is not shown.
  const shown = (el) => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && el.checkVisibility({visibilityProperty: true});
  };
  const rect = (el) => {
    const b = el.getBoundingClientRect();
    return {left: b.left, top: b.top, right: b.right, bottom: b.bottom,
            width: b.width, height: b.height};
  };
  const name = (el) => el.dataset.testid || el.dataset.control || el.id ||
    el.textContent.trim().replace(/\\s+/g, " ").slice(0, 40);
  const onTop = (el) => {
    const b = el.getBoundingClientRect();
    const x = Math.min(Math.max((b.left + b.right) / 2, 0), width - 1);
    const y = Math.min(Math.max((b.top + b.bottom) / 2, 0), height - 1);
    const hit = document.elementFromPoint(x, y);
    return Boolean(hit) && (hit === el || el.contains(hit) || hit.contains(el));
  };
  // Scrolled out of sight inside a panel: reached by scrolling the panel, not the page.
  const scrolledAway = (el) => {
    const b = el.getBoundingClientRect();
    const x = (b.left + b.right) / 2;
    const y = (b.top + b.bottom) / 2;
    for (let up = el.parentElement; up; up = up.parentElement) {
      if (getComputedStyle(up).overflowY === "visible") continue;
      const area = up.getBoundingClientRect();
      if (y < area.top || y > area.bottom || x < area.left || x > area.right) return true;
    }
    return false;
  };
  const controls = [...document.querySelectorAll(
    "header a, header button, #call button, #call summary, #call select, #call a, " +
    "#call [data-testid=countdown]"
  )].filter(shown).filter((el) => !el.closest(".visually-hidden") && !scrolledAway(el))
    // In full screen the call is all there is.
    .filter((el) => !document.fullscreenElement || document.fullscreenElement.contains(el));
  const video = (id) => {
    const el = document.getElementById(id);
    return {...rect(el), objectFit: getComputedStyle(el).objectFit,
            videoWidth: el.videoWidth, videoHeight: el.videoHeight};
  };
  return {
    width, height,
    scrollWidth: document.documentElement.scrollWidth,
    scrollHeight: document.documentElement.scrollHeight,
    controls: controls.map((el) => ({name: name(el), onTop: onTop(el), ...rect(el)})),
    remote: video("remote-video"),
    local: video("local-video"),
  };
}
"""


@asynccontextmanager
async def running_hall(
    folder: Path, length: int, warning: int
) -> AsyncIterator[tuple[LiveServer, World]]:
    path = folder / "screen.db"
    world = await seed_world(
        path, conversation_seconds=length, warning_seconds=warning, video_provider="builtin"
    )
    with LiveServer(path, folder / "screen-server.log") as live:
        yield live, world


@pytest.fixture
async def hall(tmp_path: Path) -> AsyncIterator[tuple[LiveServer, World]]:
    async with running_hall(tmp_path, LENGTH, WARNING) as running:
        yield running


async def in_the_call(checked: CheckedBrowser, server: LiveServer, world: World) -> dict[str, Page]:
    """Advisor and candidate in one call, each with the other's picture arriving."""
    advisor, candidate = await checked.new_page(), await checked.new_page()
    await accepted_into_the_call(server, world, advisor, candidate)
    await connected(advisor, candidate)
    for page in (advisor, candidate):
        await page.wait_for_function(
            "() => document.getElementById('remote-video').videoWidth > 0", timeout=30_000
        )
    return {"advisor": advisor, "candidate": candidate}


def inside(box: dict[str, Any], width: float, height: float) -> bool:
    return (
        box["left"] >= -0.5
        and box["top"] >= -0.5
        and box["right"] <= width + 0.5
        and box["bottom"] <= height + 0.5
    )


def span(box: dict[str, Any]) -> str:
    return f"x {box['left']:.0f}..{box['right']:.0f}, y {box['top']:.0f}..{box['bottom']:.0f}"


def describe(layout: dict[str, Any]) -> str:
    """Where each control is, for the message of a failing check."""
    lines = [f"window {layout['width']}x{layout['height']}, document {layout['scrollHeight']} high"]
    for c in layout["controls"]:
        lines.append(f"  {c['name']}: {span(c)}" + ("" if c["onTop"] else " (covered)"))
    lines.append(f"  remote-video: {span(layout['remote'])}")
    return "\n".join(lines)


def picture(video: dict[str, Any]) -> dict[str, float]:
    """The box of the picture inside the video element, as object-fit: contain draws it."""
    scale = min(video["width"] / video["videoWidth"], video["height"] / video["videoHeight"])
    width, height = video["videoWidth"] * scale, video["videoHeight"] * scale
    left = video["left"] + (video["width"] - width) / 2
    top = video["top"] + (video["height"] - height) / 2
    return {"left": left, "top": top, "right": left + width, "bottom": top + height}


async def assert_fits(page: Page, who: str) -> dict[str, Any]:
    """Everything of the call is on the screen, nothing needs scrolling, the picture keeps
    its shape and takes a large part of the screen."""
    await next_frame(page)
    layout: dict[str, Any] = await page.evaluate(_LAYOUT)
    width, height = layout["width"], layout["height"]
    where = f"{who} at {width}x{height}:\n{describe(layout)}"
    assert layout["scrollHeight"] <= height, f"the page scrolls: {where}"
    assert layout["scrollWidth"] <= width, f"the page scrolls sideways: {where}"
    names = [c["name"] for c in layout["controls"]]
    for needed in ("countdown", "toggle-mic", "toggle-camera", "toggle-audio-only"):
        assert needed in names, f"{needed} is not shown: {where}"
    for control in layout["controls"]:
        assert inside(control, width, height), f"{control['name']} is off the screen: {where}"
        assert control["onTop"], f"something lies over {control['name']}: {where}"
    remote, local = layout["remote"], layout["local"]
    assert inside(remote, width, height), f"the other side's picture is off the screen: {where}"
    assert remote["objectFit"] == "contain", where
    assert remote["videoWidth"] > 0 and remote["videoHeight"] > 0, "no picture arrives"
    drawn = picture(remote)
    assert inside(drawn, width, height), f"the picture is cut off: {drawn}, {where}"
    area = (drawn["right"] - drawn["left"]) * (drawn["bottom"] - drawn["top"])
    assert area >= width * height / 3, f"the picture is small ({area:.0f} px²): {where}"
    # One's own picture: small, in a corner over the other's stage.
    assert inside(local, width, height), where
    assert local["width"] * local["height"] <= remote["width"] * remote["height"] / 6, where
    assert remote["left"] - 0.5 <= local["left"] and local["right"] <= remote["right"] + 0.5
    assert remote["top"] - 0.5 <= local["top"] and local["bottom"] <= remote["bottom"] + 0.5
    return layout


async def assert_warning_readable(page: Page) -> None:
    """The time warning lies over the picture, on top of it, on a solid background."""
    warning = page.get_by_test_id("call-warning")
    await expect(warning).to_be_visible()
    state = await warning.evaluate(
        """(el) => {
          const b = el.getBoundingClientRect();
          const v = document.getElementById("remote-video").getBoundingClientRect();
          const hit = document.elementFromPoint((b.left + b.right) / 2, (b.top + b.bottom) / 2);
          const bg = getComputedStyle(el).backgroundColor;
          const alpha = bg.startsWith("rgba") ? parseFloat(bg.split(",")[3]) : 1;
          return {overStage: b.top >= v.top - 0.5 && b.bottom <= v.bottom + 0.5,
                  onTop: Boolean(hit) && el.contains(hit), alpha};
        }"""
    )
    assert state == {"overStage": True, "onTop": True, "alpha": 1}, state


async def test_the_call_screen_shows_everything_at_once_on_every_screen(
    hall: tuple[LiveServer, World], checked_browser: CheckedBrowser
) -> None:
    pages = await in_the_call(checked_browser, *hall)
    advisor, candidate = pages["advisor"], pages["candidate"]
    for page in pages.values():
        await expect(page.get_by_test_id("call-warning")).to_contain_text("Begin met afronden")
    await expect(advisor.get_by_test_id("follow-up")).to_be_visible()

    for width, height in SIZES:
        for who, page in pages.items():
            await page.set_viewport_size({"width": width, "height": height})
            layout = await assert_fits(page, who)
            if who == "advisor":
                names = [c["name"] for c in layout["controls"]]
                assert "end-conversation" in names, describe(layout)
            await assert_warning_readable(page)
            await checked_browser.check(page, f"call screen, {who}, {width}x{height}")
            await screenshot(page, f"call-screen-{who}-height-{height}-width")

    # The ways out need more room than a phone has: a panel over the picture, opened by its
    # button; the focus goes to it, and Escape puts it away and the focus back.
    await candidate.set_viewport_size({"width": 360, "height": 640})
    opener = candidate.get_by_test_id("open-fallbacks")
    await opener.click()
    panel = candidate.get_by_test_id("fallbacks")
    await expect(panel).to_be_visible()
    await expect(opener).to_have_attribute("aria-expanded", "true")
    title = panel.get_by_role("heading", name="Op een andere manier verder praten")
    await expect(title).to_be_focused()
    await assert_fits(candidate, "candidate, ways out open")
    await checked_browser.check(candidate, "call screen, candidate, ways out open")
    await screenshot(candidate, "call-screen-candidate-ways-out-height-640-width")
    # What does not fit in the panel scrolls in the panel, not the page.
    phone_me = candidate.get_by_test_id("phone-me")
    await phone_me.scroll_into_view_if_needed()
    await expect(phone_me).to_be_in_viewport(ratio=1)
    assert await candidate.evaluate(
        "window.scrollY === 0 && document.documentElement.scrollHeight <= innerHeight"
    )
    await screenshot(candidate, "call-screen-candidate-phone-me-height-640-width")
    await candidate.keyboard.press("Escape")
    await expect(panel).to_be_hidden()
    await expect(opener).to_have_attribute("aria-expanded", "false")
    assert await is_focused(opener), "the focus did not go back to the button"

    # The devices, on a phone on its side, by keyboard only; the close button puts them away.
    await advisor.set_viewport_size({"width": 640, "height": 360})
    devices = advisor.get_by_test_id("open-devices")
    await tab_to(advisor, devices)
    await advisor.keyboard.press("Enter")
    await expect(advisor.get_by_test_id("devices")).to_be_visible()
    await expect(advisor.get_by_label("Camera", exact=True)).to_be_visible()
    await assert_fits(advisor, "advisor, devices open")
    await checked_browser.check(advisor, "call screen, advisor, devices open")
    await screenshot(advisor, "call-screen-advisor-devices-height-360-width")
    await advisor.get_by_test_id("devices").get_by_role("button", name="Sluiten").click()
    await expect(advisor.get_by_test_id("devices")).to_be_hidden()
    assert await is_focused(devices)

    # Every control is reached by keyboard, with the focus visible, up to the end button.
    await advisor.set_viewport_size({"width": 1280, "height": 720})
    await advisor.locator("body").focus()
    await tab_to(advisor, advisor.get_by_test_id("end-conversation"))

    # Full screen: the call alone on the screen, and back, by the button and by Escape.
    button = advisor.get_by_test_id("toggle-fullscreen")
    await expect(button).to_have_accessible_name("Volledig scherm")
    await expect(button).to_have_attribute("aria-pressed", "false")
    await button.click()
    await advisor.wait_for_function("() => document.fullscreenElement?.id === 'call'")
    await expect(button).to_have_attribute("aria-pressed", "true")
    await expect(button).to_have_accessible_name("Volledig scherm uit")
    await assert_fits(advisor, "advisor, full screen")
    # The call takes the whole screen, the header included.
    box = await advisor.get_by_test_id("call").bounding_box()
    assert box == {"x": 0, "y": 0, "width": 1280, "height": 720}, box
    await button.click()
    await advisor.wait_for_function("() => document.fullscreenElement === null")
    await expect(button).to_have_attribute("aria-pressed", "false")
    await expect(button).to_have_accessible_name("Volledig scherm")
    await button.click()
    await advisor.wait_for_function("() => document.fullscreenElement?.id === 'call'")
    await advisor.keyboard.press("Escape")
    await advisor.wait_for_function("() => document.fullscreenElement === null")
    await expect(button).to_have_attribute("aria-pressed", "false")
    await assert_fits(advisor, "advisor, after full screen")

    # Extended from the call screen: the warning goes, the end time shown moves, both sides.
    ends_at = {who: page.locator('[data-field="ends-at"]') for who, page in pages.items()}
    before = await ends_at["candidate"].text_content()
    await advisor.get_by_test_id("extend").click()
    for who, page in pages.items():
        await expect(page.get_by_test_id("call-warning")).to_be_hidden()
        await expect(ends_at[who]).not_to_have_text(before or "")
        await expect(ends_at[who]).to_have_text(re.compile(r"^Het gesprek eindigt om \d\d:\d\d\.$"))

    # Ending in full screen leaves it, for the page that follows the call.
    await button.click()
    await advisor.wait_for_function("() => document.fullscreenElement?.id === 'call'")
    await advisor.get_by_test_id("end-conversation").click()
    await advisor.wait_for_function("() => document.fullscreenElement === null")
    for page in (advisor, candidate):
        await expect(page.get_by_test_id("call-ended")).to_be_visible()
    await checked_browser.check(candidate, "call screen, ended")


async def test_the_time_up_message_reads_over_the_picture_on_a_phone(
    tmp_path: Path, checked_browser: CheckedBrowser
) -> None:
    """Conversations of 10 s: the call runs on in overtime, with the time-up message over
    the picture, and everything still on the screen of a phone held either way."""
    async with running_hall(tmp_path, 10, 8) as (server, world):
        pages = await in_the_call(checked_browser, server, world)
        for page in pages.values():
            warning = page.get_by_test_id("call-warning")
            await expect(warning).to_contain_text("De tijd is om", timeout=30_000)
            await expect(page.get_by_test_id("countdown")).to_contain_text("Uitloop")
        for width, height in SIZES[:2]:
            for who, page in pages.items():
                await page.set_viewport_size({"width": width, "height": height})
                await assert_fits(page, f"{who}, time up")
                await assert_warning_readable(page)
                await checked_browser.check(page, f"call screen, {who}, time up, {width}x{height}")
                await screenshot(page, f"call-screen-{who}-time-up-height-{height}-width")
