"""Static files under content-hashed URLs with long caching, the import map that lets the
modules find each other's hashed URLs under the content security policy, and compressed
text answers. Over real HTTP against a real server; one page in real Chromium."""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.core.config import Settings
from app.web.assets import IMMUTABLE, REVALIDATE, Manifest
from app.web.server import create_app
from tests.browserkit import chromium
from tests.livekit import Browserless, LiveServer, World, seed_world

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "static"


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, World]]:
    folder = tmp_path_factory.mktemp("assets")
    world = asyncio.run(seed_world(folder / "hall.db"))
    with LiveServer(folder / "hall.db", folder / "server.log") as live:
        yield live, world


@pytest.fixture
async def visitor(hall: tuple[LiveServer, World]) -> AsyncIterator[Browserless]:
    made = Browserless(hall[0])
    yield made
    await made.aclose()


def static_urls(page: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', page)


def import_map_of(page: str) -> str:
    found = re.search(r'<script type="importmap">(.*?)</script>', page, re.S)
    assert found, "every page carries the import map"
    return found.group(1)


# -- the manifest ---------------------------------------------------------------------------


def test_a_file_s_url_changes_with_its_content_and_only_then(tmp_path: Path) -> None:
    (tmp_path / "css").mkdir()
    sheet = tmp_path / "css" / "base.css"
    sheet.write_text("body { color: black; }")
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "live.js").write_text("export const x = 1;")
    first = Manifest.of(tmp_path)
    assert re.fullmatch(r"/static/css/base\.[0-9a-f]{10}\.css", first.url("css/base.css"))
    assert Manifest.of(tmp_path).url("css/base.css") == first.url("css/base.css")
    sheet.write_text("body { color: navy; }")
    second = Manifest.of(tmp_path)
    assert second.url("css/base.css") != first.url("css/base.css")
    assert second.url("js/live.js") == first.url("js/live.js")
    # A name that is not a static file is not given a hash (the browser shows the 404).
    assert second.url("css/missing.css") == "/static/css/missing.css"


def test_the_hashed_name_leads_back_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "hall.js").write_text("export {};")
    manifest = Manifest.of(tmp_path)
    hashed = manifest.url("js/hall.js").removeprefix("/static/")
    assert manifest.unhashed(hashed) == ("js/hall.js", True)
    stale = re.sub(r"\.[0-9a-f]{10}\.", ".0123456789.", hashed)
    assert manifest.unhashed(stale) == ("js/hall.js", False)
    assert manifest.unhashed("js/hall.js") == ("js/hall.js", False)


# -- over HTTP ------------------------------------------------------------------------------


async def test_pages_name_every_static_file_by_its_current_hash(visitor: Browserless) -> None:
    manifest = Manifest.of(STATIC)
    page = (await visitor.http.get("/")).text
    urls = static_urls(page)
    assert urls, "the hall links its style sheet and scripts"
    for url in urls:
        relative = re.sub(r"\.[0-9a-f]{10}(\.[a-z]+)$", r"\1", url.removeprefix("/static/"))
        assert url == manifest.url(relative), url
        response = await visitor.http.get(url)
        assert response.status_code == 200, url
        assert response.headers["cache-control"] == IMMUTABLE, url
        assert response.content == (STATIC / relative).read_bytes(), url


async def test_plain_and_stale_names_answer_but_are_never_cached_for_long(
    visitor: Browserless,
) -> None:
    plain = await visitor.http.get("/static/css/base.css")
    assert plain.status_code == 200
    assert plain.headers["cache-control"] == REVALIDATE
    stale = await visitor.http.get("/static/css/base.0123456789.css")
    assert stale.status_code == 200
    assert stale.content == plain.content
    assert stale.headers["cache-control"] == REVALIDATE
    missing = await visitor.http.get("/static/css/nothing.0123456789.css")
    assert missing.status_code == 404


async def test_the_policy_lets_exactly_the_page_s_import_map_run(visitor: Browserless) -> None:
    for path in ("/", "/aanmelden", "/bestaat-niet"):
        response = await visitor.http.get(path)
        text = import_map_of(response.text)
        digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        policy = response.headers["content-security-policy"]
        assert f"script-src 'self' 'sha256-{digest}'" in policy, path
        assert "unsafe-inline" not in policy


async def test_the_import_map_sends_every_module_to_its_hashed_url(visitor: Browserless) -> None:
    page = (await visitor.http.get("/")).text
    imports = json.loads(import_map_of(page))["imports"]
    modules = sorted(p.relative_to(STATIC).as_posix() for p in STATIC.rglob("*.js"))
    assert sorted(k.removeprefix("/static/") for k in imports) == modules
    for plain, hashed in imports.items():
        response = await visitor.http.get(hashed)
        assert response.status_code == 200, hashed
        assert response.headers["cache-control"] == IMMUTABLE, hashed
        assert response.content == (STATIC / plain.removeprefix("/static/")).read_bytes()


async def test_a_page_and_its_modules_run_under_the_policy_in_a_browser(
    hall: tuple[LiveServer, World],
) -> None:
    """The hall goes live only when its modules, loaded through the import map, run."""
    server, _world = hall
    async with chromium() as browser:
        page = await browser.new_page()
        refused: list[str] = []
        page.on(
            "console",
            lambda message: (
                refused.append(message.text)
                if "Content Security Policy" in message.text or "Failed to" in message.text
                else None
            ),
        )
        loaded: list[str] = []
        page.on("requestfinished", lambda request: loaded.append(request.url))
        await page.goto(server.url + "/")
        await page.wait_for_selector("#live-status[data-state='connected']", state="attached")
        assert refused == []
        scripts = [u for u in loaded if u.endswith(".js")]
        assert scripts and all(re.search(r"\.[0-9a-f]{10}\.js$", u) for u in scripts), scripts


# -- compression ----------------------------------------------------------------------------


async def test_text_answers_are_compressed_and_say_so(visitor: Browserless) -> None:
    page = (await visitor.http.get("/")).text
    sheet = next(u for u in static_urls(page) if u.endswith(".css"))
    script = next(u for u in static_urls(page) if u.endswith(".js"))
    for path in ("/", "/aanmelden", sheet, script, "/bestaat-niet"):
        compressed = await visitor.http.get(path, headers={"accept-encoding": "gzip"})
        plain = await visitor.http.get(path, headers={"accept-encoding": "identity"})
        assert compressed.headers.get("content-encoding") == "gzip", path
        assert "accept-encoding" in compressed.headers.get("vary", "").lower(), path
        assert "content-encoding" not in plain.headers, path
        # httpx decodes for us; the bytes on the wire were fewer.
        assert compressed.num_bytes_downloaded < plain.num_bytes_downloaded / 2, path
        assert compressed.status_code == plain.status_code, path


async def test_json_is_compressed_and_what_is_compressed_already_is_not(tmp_path: Path) -> None:
    app = create_app(Settings(database_path=tmp_path / "x.db"))
    rows = [{"booth": f"Stand {n}", "waiting": n} for n in range(200)]
    pdf = b"%PDF-1.7\n" + b"0" * 4000

    async def numbers(request: object) -> JSONResponse:
        return JSONResponse(rows)

    async def document(request: object) -> Response:
        return Response(pdf, media_type="application/pdf")

    async def tiny(request: object) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    app.router.routes += [
        Route("/__numbers", numbers),
        Route("/__document", document),
        Route("/__tiny", tiny),
    ]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        asked = {"accept-encoding": "gzip"}
        async with client.stream("GET", "/__numbers", headers=asked) as answer:
            raw = b"".join([chunk async for chunk in answer.aiter_raw()])
            assert answer.headers["content-encoding"] == "gzip"
            assert json.loads(gzip.decompress(raw)) == rows
        for path, body in (("/__document", pdf), ("/__tiny", b'{"status":"ok"}')):
            async with client.stream("GET", path, headers=asked) as answer:
                raw = b"".join([chunk async for chunk in answer.aiter_raw()])
                assert "content-encoding" not in answer.headers, path
                assert raw == body, path
