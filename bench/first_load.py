"""First-load bytes: what a visitor's browser downloads to show the hall and the candidate's
"Mijn verzoek" page, side by side for this tree and a baseline release of the hall.

Run from the repository root::

    .venv/bin/python bench/first_load.py                    # baseline: the release before
                                                            # compression and hashed URLs
    .venv/bin/python bench/first_load.py --baseline HEAD~3  # any git revision

What runs, all on loopback ``127.0.0.1``: two servers, each ``python -m app serve --demo``
on a fresh SQLite file, one from this tree and one from the baseline revision (``git
archive`` into a temporary folder, run with this virtual environment). Real Chromium
(``/usr/bin/chromium``) loads, for each server:

- ``hall, first visit``: ``/`` in a fresh browser profile (empty cache);
- ``hall, next visit``: ``/`` again in the same profile, as a visitor coming back;
- ``my request, first visit``: a candidate signs in through the form; the cache is emptied
  and ``/mijn-verzoek`` is loaded.

Counted through the DevTools protocol until the page has been quiet for half a second: the
HTTP requests, how many of them were fetched over the network (not from the cache), the bytes
that came over the network (``encodedDataLength``: headers and
compressed bodies; a file from the cache counts 0) and the bytes of the bodies after
decompression. The WebSocket is not counted (it is not a download). Results are printed and
written to ``bench/results/first-load-latest.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import asdict, dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.async_api import BrowserContext, Page  # noqa: E402

from tests.browserkit import chromium, sign_in, speak_dutch  # noqa: E402
from tests.livekit import LiveServer, free_port  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "first-load-latest.json"
# The last release that sent every answer uncompressed and static files under plain names.
DEFAULT_BASELINE = "11ca060"


@dataclass
class Load:
    tree: str
    view: str
    requests: int
    over_the_network: int
    transferred: int
    decoded: int


class TreeServer(LiveServer):
    """The demo hall served from a given tree (this one, or a baseline's)."""

    def __init__(self, tree: Path, db_path: Path, log_path: Path) -> None:
        super().__init__(db_path, log_path, args=("--demo",), env={"PYTHONPATH": str(tree)})
        self.cwd = tree


async def measure(context: BrowserContext, page: Page, url: str, clear: bool) -> tuple[int, ...]:
    cdp = await context.new_cdp_session(page)
    await cdp.send("Network.enable")
    if clear:
        await cdp.send("Network.clearBrowserCache")
    requests: set[str] = set()
    fetched: set[str] = set()
    transferred = 0
    decoded = 0

    def on_request(event: dict[str, Any]) -> None:
        requests.add(event["requestId"])

    def on_data(event: dict[str, Any]) -> None:
        nonlocal decoded
        decoded += int(event["dataLength"])

    def on_finished(event: dict[str, Any]) -> None:
        nonlocal transferred
        transferred += int(event["encodedDataLength"])
        if event["encodedDataLength"] > 0:
            fetched.add(event["requestId"])

    cdp.on("Network.requestWillBeSent", on_request)
    cdp.on("Network.dataReceived", on_data)
    cdp.on("Network.loadingFinished", on_finished)
    await page.goto(url, wait_until="load")
    await page.wait_for_load_state("networkidle")
    await page.wait_for_timeout(500)
    await cdp.detach()
    return len(requests), len(fetched), transferred, decoded


async def loads_of(server: LiveServer, tree: str) -> list[Load]:
    found: list[Load] = []
    async with chromium() as browser:
        speak_dutch(browser)
        context = await browser.new_context(viewport={"width": 360, "height": 740})
        page = await context.new_page()
        first = await measure(context, page, server.url + "/", clear=True)
        found.append(Load(tree, "hall, first visit", *first))
        again = await measure(context, page, server.url + "/", clear=False)
        found.append(Load(tree, "hall, next visit", *again))
        await context.close()

        context = await browser.new_context(viewport={"width": 360, "height": 740})
        page = await context.new_page()
        await sign_in(page, server, "Noor Bakker", "noor@example.nl", "/mijn-verzoek")
        mine = await measure(context, page, server.url + "/mijn-verzoek", clear=True)
        found.append(Load(tree, "my request, first visit", *mine))
        await context.close()
    return found


def extract(revision: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "archive", "--format=tar", revision], cwd=ROOT, check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def kib(n: int) -> str:
    return f"{n / 1024:7.1f}"


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="a git revision")
    options = parser.parse_args()
    results: list[Load] = []
    with tempfile.TemporaryDirectory(prefix="first-load-") as folder:
        base = Path(folder)
        trees = {
            f"baseline {options.baseline}": extract(options.baseline, base / "baseline"),
            "this tree": ROOT,
        }
        for name, tree in trees.items():
            server = TreeServer(tree, base / f"{free_port()}.db", base / f"{name[:4]}.log")
            server.start(timeout=90)
            try:
                results += await loads_of(server, name)
            finally:
                server.stop()
    print(
        f"{'tree':<20} {'view':<26} {'requests':>8} {'fetched':>8} {'over the net KiB':>17}"
        f" {'decoded KiB':>12}"
    )
    for r in results:
        print(
            f"{r.tree:<20} {r.view:<26} {r.requests:>8} {r.over_the_network:>8}"
            f" {kib(r.transferred):>17}"
            f" {kib(r.decoded):>12}"
        )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("INZOOMEN_ENV", "development")
    sys.exit(asyncio.run(main()))
