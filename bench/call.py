"""Call set-up benchmark: how long from the advisor's accept until both people see and hear
each other on the hall's own call page, in real Chromium with a fake camera and microphone.

Run from the repository root::

    .venv/bin/python bench/call.py            # 6 calls per way
    .venv/bin/python bench/call.py --smoke    # 2 calls per way, well under a minute

Two ways side by side, on one real server process on loopback each: the baseline is a direct
connection (no ICE servers: host candidates on loopback, as on one local network); the other
relays every byte through a real coturn (relay only, the hall's short-lived credentials), as
a call across strict networks does. Per call it measures, from the click on "Accepteren":

- ``pages``: both pages are on the call page (the candidate's went there by itself);
- ``connected``: both peer connections are connected;
- ``media``: video bytes from the other side have arrived on both pages (the page reads
  its statistics once a second, so this is up to a second late).

Medians and maxima in milliseconds. Everything runs on 127.0.0.1 and stops by itself; without
``turnserver`` the relay way is left out (``scripts/install --test`` installs coturn).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.async_api import Browser, Page, expect

from tests.browserkit import chromium, log_in, sign_in
from tests.livekit import LiveServer, seed_world
from tests.test_turn import SECRET, running_turn

CALL = re.compile(r"/videogesprek/[A-Za-z0-9_-]{43}$")
TIMEOUT_MS = 30_000


async def video_arrived(page: Page) -> None:
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        value = await page.get_by_test_id("call").get_attribute("data-in-video-bytes")
        if int(value or 0) > 0:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"no video arrived on {page.url}")


async def one_call(browser: Browser, server: LiveServer, booth_id: int, n: int) -> list[float]:
    context_a, context_c = await browser.new_context(), await browser.new_context()
    try:
        advisor, candidate = await context_a.new_page(), await context_c.new_page()
        await log_in(advisor, server, "a1@test.example")
        await sign_in(
            candidate, server, f"Kandidaat {n}", f"k{n}@example.nl", f"/inzoomen/{booth_id}"
        )
        await candidate.get_by_role("button", name="Inzoomen").click()
        await expect(candidate).to_have_url(re.compile("/mijn-verzoek$"))
        await expect(candidate.get_by_test_id("live-status")).to_have_attribute(
            "data-state", "connected"
        )
        await expect(advisor.get_by_test_id("queue-item")).to_have_count(1)
        started = time.perf_counter()
        await advisor.get_by_test_id("queue-item").get_by_test_id("accept").click()
        for page in (advisor, candidate):
            await expect(page).to_have_url(CALL, timeout=TIMEOUT_MS)
        pages = time.perf_counter()
        for page in (advisor, candidate):
            await expect(page.get_by_test_id("call")).to_have_attribute(
                "data-connection", "connected", timeout=TIMEOUT_MS
            )
        connected = time.perf_counter()
        for page in (advisor, candidate):
            await video_arrived(page)
        media = time.perf_counter()
        await advisor.get_by_test_id("end-conversation").click()
        await expect(candidate.get_by_test_id("call-ended")).to_be_visible()
        return [(t - started) * 1000 for t in (pages, connected, media)]
    finally:
        await context_a.close()
        await context_c.close()


async def way(
    browser: Browser, directory: Path, calls: int, env: dict[str, str]
) -> list[list[float]]:
    path = directory / "call.db"
    world = await seed_world(path, video_provider="builtin")
    server = LiveServer(
        path, directory / "server.log", env={"INZOOMEN_WRAP_UP_SECONDS": "0", **env}
    )
    server.start()
    try:
        return [await one_call(browser, server, world.booth_a, n) for n in range(calls)]
    finally:
        server.stop()


def report(name: str, rows: list[list[float]]) -> None:
    columns = list(zip(*rows, strict=True))
    cells = [f"{statistics.median(c):7.0f} {max(c):7.0f}" for c in columns]
    print(f"{name:<22}" + "".join(f"{cell:>18}" for cell in cells))


async def main(args: argparse.Namespace) -> None:
    calls = 2 if args.smoke else args.calls
    results: dict[str, list[list[float]]] = {}
    async with chromium() as browser:
        with tempfile.TemporaryDirectory() as tmp:
            base = Path(tmp)
            (base / "direct").mkdir()
            results["direct (baseline)"] = await way(browser, base / "direct", calls, {})
            if shutil.which("turnserver"):
                (base / "relay").mkdir()
                (base / "turn").mkdir()
                auth = ["--use-auth-secret", f"--static-auth-secret={SECRET}"]
                with running_turn(base / "turn", auth) as turn:
                    env = {
                        "INZOOMEN_TURN_URLS": turn.url,
                        "INZOOMEN_TURN_SECRET": SECRET,
                        "INZOOMEN_ICE_RELAY_ONLY": "true",
                    }
                    results["relay (coturn)"] = await way(browser, base / "relay", calls, env)
    print(f"\n{calls} calls per way; ms from the accept, median and max")
    print(f"{'':<22}" + "".join(f"{h:>18}" for h in ("pages", "connected", "media")))
    for name, rows in results.items():
        report(name, rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=6)
    parser.add_argument("--smoke", action="store_true", help="2 calls per way")
    asyncio.run(main(parser.parse_args()))
