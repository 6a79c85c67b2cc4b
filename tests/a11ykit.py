"""Accessibility checks for browser tests: axe-core (WCAG 2.0/2.1, A and AA), horizontal
overflow at small widths, clipped text, running animations, visible focus, screenshots.

axe-core comes from the ``axe_playwright_python`` package, which only carries the script.
The pages have a strict content security policy, so axe is put in through the DevTools
protocol (an init script, or ``page.evaluate``), never through an inline script tag.

``CheckedBrowser`` makes contexts whose pages check themselves with axe after every load;
tests add explicit checks for states that come later (``await checked.check(page, name)``),
and everything found is asserted at the end (``assert_clean``; the ``checked_browser``
fixture in tests/conftest.py does that by itself).

Checked contexts also validate the HTML the server sent for every page they load (the
main document's response, before any script changed it) with tests/htmlkit.py: a browser
repairs broken markup silently, so axe alone would never see it.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import json
import re
import weakref
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Browser, BrowserContext, Error, Locator, Page, Response, Route

from tests.htmlkit import check_html
from tests.stylekit import area_selectors

ROOT = Path(__file__).resolve().parent.parent
SCREENS = ROOT / "test-artifacts" / "screens"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# Where the hall under test runs (tests/livekit.py LiveServer): its pages' HTML is validated.
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@cache
def axe_source() -> str:
    return (importlib.resources.files("axe_playwright_python") / "axe.min.js").read_text("utf-8")


# Runs in the page. One axe run at a time (axe refuses to run twice at once), so the run
# after a load and a test's explicit check queue behind each other.
_AXE_RUNNER = """
(() => {
  if (window.__a11yCheck) return;
  let queue = Promise.resolve();
  const options = {runOnly: {type: "tag", values: AXE_TAGS}, resultTypes: ["violations"]};
  const shape = (result) => result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map((n) => ({
      target: n.target.map(String), html: n.html, summary: n.failureSummary || "",
    })),
  }));
  window.__a11yCheck = () => {
    const run = queue.then(() => window.axe.run(document, options)).then(shape);
    queue = run.catch(() => null);
    return run;
  };
  window.__a11yIdle = () => queue;
})();
""".replace("AXE_TAGS", json.dumps(AXE_TAGS))

# Runs in the page: the selectors of area style sheets (tests/stylekit.py) that match an
# element of this page while the page does not link their sheet.
_UNSTYLED = """
window.__unstyled = () => {
  const linked = [...document.querySelectorAll('link[rel="stylesheet"]')].map((l) => l.href);
  const loads = (stem) => linked.some((href) => new RegExp(`/css/${stem}[.]`).test(href));
  return AREA_SELECTORS.filter(([stem, selector]) => {
    if (loads(stem)) return false;
    try { return document.querySelector(selector) !== null; } catch { return false; }
  }).map(([stem, selector]) => `${stem}.css: ${selector}`);
};
"""

# The init script of a checked context: axe, the runner, and a check after every load,
# reported back to Python through an exposed binding.
_AUTO_CHECK = """
if (location.protocol === "http:" || location.protocol === "https:") {
  window.addEventListener("load", () => {
    // Let the page's module scripts paint their first state.
    window.setTimeout(() => {
      const unstyled = window.__unstyled();
      window.__a11yCheck().then(
        (violations) => window.__a11yReport({url: location.href, violations, unstyled}),
        (error) => window.__a11yReport({url: location.href, error: String(error)}),
      );
    }, 150);
  });
}
"""


async def _ensure_axe(page: Page) -> None:
    if not await page.evaluate("typeof window.__a11yCheck === 'function'"):
        if not await page.evaluate("typeof window.axe === 'object'"):
            await page.evaluate(axe_source())
        await page.evaluate(_AXE_RUNNER)


# Contexts made with java_script_enabled=False. axe needs timers, which never fire there.
_NO_SCRIPTS: weakref.WeakSet[BrowserContext] = weakref.WeakSet()


def mark_without_scripts(context: BrowserContext) -> None:
    """Tell axe_violations that scripts do not run in this context."""
    _NO_SCRIPTS.add(context)


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    """The WCAG 2.0/2.1 A and AA violations axe-core finds on the page as it is now."""
    if page.context in _NO_SCRIPTS:
        return await _violations_without_scripts(page)
    await _ensure_axe(page)
    violations: list[dict[str, Any]] = await page.evaluate("window.__a11yCheck()")
    return violations


_SCRIPT_TAG = re.compile(r"<script\b[^>]*\bsrc=[^>]*>\s*</script>", re.I)


async def _violations_without_scripts(page: Page) -> list[dict[str, Any]]:
    """A page without scripts shows exactly its HTML: serve that HTML (minus script tags),
    at the same address and size, to a page where axe can run, and check it there."""
    url = page.url
    html = _SCRIPT_TAG.sub("", await page.content())
    browser = page.context.browser
    assert browser is not None
    inspector = await browser.new_context(viewport=page.viewport_size)
    try:
        copy = await inspector.new_page()

        async def serve(route: Route) -> None:
            await route.fulfill(body=html, content_type="text/html; charset=utf-8")

        await copy.route(lambda address: address == url, serve)
        await copy.goto(url)
        return await axe_violations(copy)
    finally:
        await inspector.close()


def format_violations(violations: list[dict[str, Any]], state: str = "") -> str:
    lines = [f"{len(violations)} accessibility violation(s){f' in {state}' if state else ''}:"]
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']}  <{v['helpUrl']}>")
        for node in v["nodes"][:8]:
            snippet = re.sub(r"\s+", " ", node["html"])[:160]
            lines.append(f"    at {' > '.join(node['target'])}: {snippet}")
            summary = re.sub(r"\s+", " ", node.get("summary", ""))[:240]
            if summary:
                lines.append(f"      {summary}")
        if len(v["nodes"]) > 8:
            lines.append(f"    … and {len(v['nodes']) - 8} more")
    return "\n".join(lines)


async def assert_accessible(page: Page, state_name: str) -> None:
    violations = await axe_violations(page)
    assert not violations, format_violations(violations, f"{state_name} ({page.url})")


async def assert_no_horizontal_overflow(page: Page) -> None:
    sizes = await page.evaluate(
        "({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})"
    )
    if sizes["scroll"] <= sizes["inner"]:
        return
    wide = await page.evaluate(_WIDE_ELEMENTS)
    raise AssertionError(
        f"horizontal overflow on {page.url}: the page is {sizes['scroll']} px wide in a "
        f"{sizes['inner']} px window; elements sticking out: {wide}"
    )


_WIDE_ELEMENTS = """
(() => {
  const width = window.innerWidth;
  const out = [];
  for (const el of document.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (box.width > 0 && box.right > width + 0.5) {
      const classes = typeof el.className === "string" && el.className.trim()
        ? "." + el.className.trim().split(/\\s+/).join(".") : "";
      const name = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + classes;
      out.push(`${name} (right edge ${Math.round(box.right)})`);
    }
  }
  return out.slice(0, 12);
})()
"""

# Elements whose own text is cut off: they hide overflow and their content is larger.
_CLIPPED_TEXT = """
(() => {
  const out = [];
  for (const el of document.body.querySelectorAll("*")) {
    if (el.closest(".visually-hidden, [hidden], template, .skip-link")) continue;
    const style = getComputedStyle(el);
    if (style.display === "none" || style.visibility === "hidden") continue;
    const ownText = [...el.childNodes].some(
      (n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
    if (!ownText) continue;
    const clipsX = ["hidden", "clip"].includes(style.overflowX);
    const clipsY = ["hidden", "clip"].includes(style.overflowY);
    if ((clipsX && el.scrollWidth > el.clientWidth + 1) ||
        (clipsY && el.scrollHeight > el.clientHeight + 1) ||
        style.textOverflow === "ellipsis" && el.scrollWidth > el.clientWidth + 1) {
      out.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + ": " +
        el.textContent.trim().slice(0, 60));
    }
  }
  return out;
})()
"""


async def assert_no_clipped_text(page: Page) -> None:
    clipped = await page.evaluate(_CLIPPED_TEXT)
    assert not clipped, f"text is cut off on {page.url}: {clipped}"


async def next_frame(page: Page) -> None:
    """Wait until the browser has painted the last change."""
    await page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


async def set_text_zoom(page: Page, percent: int) -> None:
    """Make all text larger (or back to normal with 100), as a browser's text zoom does."""
    value = "" if percent == 100 else f"{percent}%"
    await page.evaluate("value => { document.documentElement.style.fontSize = value; }", value)
    await next_frame(page)
    size = await page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert abs(size - 16 * percent / 100) < 0.5, f"text zoom did not apply: root text is {size}px"


async def screenshot(page: Page, state: str) -> Path:
    """A full-page screenshot in test-artifacts/screens/<state>-<width>.png."""
    width = await page.evaluate("window.innerWidth")
    SCREENS.mkdir(parents=True, exist_ok=True)
    path = SCREENS / f"{state}-{width}.png"
    await page.screenshot(path=str(path), full_page=True, animations="disabled")
    return path


# -- keyboard ------------------------------------------------------------------------------


async def is_focused(locator: Locator) -> bool:
    return bool(await locator.evaluate("e => e === document.activeElement"))


async def tab_to(
    page: Page, locator: Locator, max_presses: int = 60, *, back: bool = False
) -> None:
    """Press Tab (or Shift+Tab) until the locator has focus, checking at every stop that the
    focused element is visible and shows a focus indicator."""
    key = "Shift+Tab" if back else "Tab"
    for _ in range(max_presses):
        await page.keyboard.press(key)
        await assert_focus_visible(page)
        if await is_focused(locator):
            return
    raise AssertionError(f"{locator} did not get focus after {max_presses} presses of {key}")


_FOCUS_STATE = """
(() => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return null;
  const style = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
  const shadow = style.boxShadow && style.boxShadow !== "none";
  let hidden = box.width < 1 || box.height < 1 || style.visibility === "hidden";
  for (let node = el; node && node !== document.documentElement; node = node.parentElement) {
    const s = getComputedStyle(node);
    if (s.display === "none" || parseFloat(s.opacity) === 0) hidden = true;
    if (s.clipPath && s.clipPath !== "none" && s.clipPath.startsWith("inset(50%")) hidden = true;
  }
  const onScreen = box.bottom > 0 && box.right > 0 &&
    box.left < document.documentElement.scrollWidth;
  return {
    tag: el.tagName.toLowerCase(), id: el.id,
    text: (el.innerText || el.value || "").trim().slice(0, 50),
    outline, shadow, hidden, onScreen,
    outlineStyle: style.outlineStyle, outlineWidth: style.outlineWidth, boxShadow: style.boxShadow,
  };
})()
"""


async def focus_state(page: Page) -> dict[str, Any] | None:
    state: dict[str, Any] | None = await page.evaluate(_FOCUS_STATE)
    return state


async def assert_focus_visible(page: Page) -> None:
    state = await focus_state(page)
    if state is None:  # focus left the document (e.g. to the browser's address bar)
        return
    where = f"<{state['tag']}{'#' + state['id'] if state['id'] else ''}> {state['text']!r}"
    assert not state["hidden"] and state["onScreen"], f"focus is on a hidden element: {where}"
    assert state["outline"] or state["shadow"], f"no visible focus indicator on {where}: {state}"


# -- reduced motion ------------------------------------------------------------------------

_LONG_MOTION = """
(() => {
  const out = [];
  const seconds = (value) => Math.max(...value.split(",").map((v) =>
    v.trim().endsWith("ms") ? parseFloat(v) / 1000 : parseFloat(v)));
  for (const el of document.querySelectorAll("*")) {
    for (const pseudo of [null, "::before", "::after"]) {
      const s = getComputedStyle(el, pseudo);
      const animated = s.animationName !== "none" && seconds(s.animationDuration) > 0.01;
      const moving = s.transitionProperty !== "none" && seconds(s.transitionDuration) > 0.01;
      if (animated || moving) {
        out.push(`${el.tagName.toLowerCase()}.${el.className}${pseudo || ""}: ` +
          `animation ${s.animationName} ${s.animationDuration}, ` +
          `transition ${s.transitionProperty} ${s.transitionDuration}`);
      }
    }
  }
  for (const animation of document.getAnimations()) {
    const timing = animation.effect && animation.effect.getComputedTiming();
    if (animation.playState === "running" && timing && timing.duration > 10) {
      const name = animation.animationName || animation.id;
      out.push(`running animation ${name}: ${timing.duration} ms`);
    }
  }
  return out;
})()
"""


async def long_motion(page: Page) -> list[str]:
    found: list[str] = await page.evaluate(_LONG_MOTION)
    return found


# -- contexts whose pages check themselves -------------------------------------------------


@dataclass
class CheckedBrowser:
    """A browser whose contexts run axe on every page after it loads (when scripts run) and
    at the moments a test asks for. ``assert_clean`` fails with everything found."""

    browser: Browser
    found: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    checked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    contexts: list[BrowserContext] = field(default_factory=list)
    pending: list[asyncio.Task[None]] = field(default_factory=list)
    # HTML problems per page (path), and the pages whose HTML was validated.
    html_found: dict[str, list[str]] = field(default_factory=dict)
    html_checked: list[str] = field(default_factory=list)

    def _record(self, name: str, violations: list[dict[str, Any]]) -> None:
        self.checked.append(name)
        if violations:
            self.found.setdefault(name, []).extend(violations)

    async def new_context(self, **options: Any) -> BrowserContext:
        context = await self.browser.new_context(**options)
        self.contexts.append(context)
        context.on("response", self._watch_document)

        async def report(source: dict[str, Any], result: dict[str, Any]) -> None:
            name = f"after load: {_path(result['url'])}"
            if "error" in result:
                self.errors.append(f"{name}: {result['error']}")
            else:
                self._record(name, result["violations"])
                if result.get("unstyled"):
                    self.errors.append(
                        f"{name}: elements styled by a sheet the page does not link: "
                        + "; ".join(result["unstyled"])
                    )

        if options.get("java_script_enabled", True):
            await context.expose_binding("__a11yReport", report)
            unstyled = _UNSTYLED.replace("AREA_SELECTORS", json.dumps(area_selectors()))
            await context.add_init_script(
                axe_source() + "\n" + _AXE_RUNNER + unstyled + _AUTO_CHECK
            )
        else:
            mark_without_scripts(context)
            # No scripts run in these pages, so nothing changes after a load: check each
            # page that finished loading, from Python.
            context.on("page", lambda page: self._watch_without_scripts(page))
        return context

    def _watch_without_scripts(self, page: Page) -> None:
        async def check_loaded(url: str) -> None:
            if not url.startswith("http"):
                return
            try:
                violations = await axe_violations(page)
            except Error:  # navigated away before the check ended; the next load is checked
                return
            self._record(f"after load (no scripts): {_path(url)}", violations)

        def on_load(loaded: Page) -> None:
            self.pending.append(asyncio.create_task(check_loaded(loaded.url)))

        page.on("load", on_load)

    def _watch_document(self, response: Response) -> None:
        """Validate the HTML of every page of the hall a checked context loads (frames
        included). The hall runs on loopback; other sites (stand-ins for a video service)
        are not the hall's to validate."""
        if response.request.resource_type != "document" or not 200 <= response.status < 600:
            return
        if urlsplit(response.url).hostname not in LOOPBACK:
            return
        if 300 <= response.status < 400:
            return  # a redirect has no page
        if "text/html" not in response.headers.get("content-type", ""):
            return
        self.pending.append(asyncio.create_task(self._validate(response)))

    async def _validate(self, response: Response) -> None:
        name = _path(response.url)
        try:
            text = await response.text()
        except Error:  # the page went away before its body was read; later loads are checked
            return
        self.html_checked.append(name)
        problems = [str(problem) for problem in check_html(text)]
        if problems:
            known = self.html_found.setdefault(name, [])
            known += [p for p in problems if p not in known]

    async def new_page(self, **options: Any) -> Page:
        return await (await self.new_context(**options)).new_page()

    async def check(self, page: Page, state: str) -> list[dict[str, Any]]:
        """Check the page as it is now; what is found fails the test at the end."""
        violations = await axe_violations(page)
        self._record(state, violations)
        return violations

    async def settle(self) -> None:
        """Wait for the checks still running in open pages."""
        while self.pending:
            await self.pending.pop()
        for context in self.contexts:
            for page in context.pages:
                if context in _NO_SCRIPTS:
                    continue
                with contextlib.suppress(Error):  # a page that is closing
                    await page.evaluate("window.__a11yIdle ? window.__a11yIdle() : null")
        # Reports travel back through the binding after the run ends.
        if self.contexts and self.contexts[0].pages:
            await self.contexts[0].pages[0].wait_for_timeout(50)

    def report(self) -> str:
        parts = [format_violations(v, state) for state, v in self.found.items()]
        parts += [f"axe could not run: {e}" for e in self.errors]
        parts += [
            f"{len(problems)} HTML problem(s) in the page the server sent for {page}:\n"
            + "\n".join(f"- {p}" for p in problems)
            for page, problems in self.html_found.items()
        ]
        return "\n\n".join(parts)

    async def assert_clean(self) -> None:
        await self.settle()
        assert not self.found and not self.errors and not self.html_found, self.report()


def _path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url) or "/"
