"""Error pages and health probes, against real servers on loopback.

An unknown address (404), a method a page does not take (405) and a failure on the server's
side (500) are pages of the hall in the visitor's language, with the security headers of
every response; a 500 never shows what went wrong, even when the database or a template is
what failed. The operational endpoints keep their short answers. ``/healthz`` says the
process is alive; ``/readyz`` says whether the database and Redis answer.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import uvicorn

from app.core.config import Settings
from app.web.middleware import LANGUAGE_COOKIE
from app.web.server import create_app
from tests.livekit import ROOT, Browserless, LiveServer, World, free_port, seed_world
from tests.rediskit import RedisServer, unique_prefix

SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}
NOT_FOUND = {"nl": "Deze pagina bestaat niet", "en": "This page does not exist"}
NOT_ALLOWED = {"nl": "Dat kan hier niet", "en": "That is not possible here"}
SERVER_ERROR = {"nl": "Er ging iets mis", "en": "Something went wrong"}
# After an unexpected exception uvicorn closes the connection once the page is sent; a
# client that reused it at that moment would see the close, not the page.
NEW_CONNECTION = {"Connection": "close"}
SERVER_ERROR_TEXT = {
    "nl": "Er ging iets mis aan onze kant. Probeer het zo nog een keer.",
    "en": "Something went wrong on our side. Please try again in a moment.",
}


def check_security_headers(response: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert value in response.headers.get(name, ""), (name, response.headers)


def check_page(response: httpx.Response, status: int, language: str, heading: str) -> str:
    """An error page of the hall: status, headers, language, heading, a way back."""
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    check_security_headers(response)
    page = response.text
    assert f'<html lang="{language}">' in page
    assert f'<h1 data-testid="error-heading">{heading}</h1>' in page or (
        f"<h1>{heading}</h1>" in page
    )
    assert '<a class="button" href="/" data-testid="back-to-hall">' in page
    assert "Traceback" not in page
    return page


# -- 404 and 405 ------------------------------------------------------------------------------


async def test_an_unknown_address_is_a_page_in_the_visitors_language(
    new_visitor, server: LiveServer
) -> None:
    visitor: Browserless = new_visitor()
    dutch = await visitor.http.get("/bestaat-niet")
    page = check_page(dutch, 404, "nl", NOT_FOUND["nl"])
    assert "We kunnen de pagina die je zoekt niet vinden." in page
    # The hall's header: the event's name, a link home, the other language.
    assert 'data-testid="home-link">Testbeurs</a>' in page
    assert 'data-testid="language-en"' in page
    assert "Accept-Language" in dutch.headers["vary"] and "Cookie" in dutch.headers["vary"]

    for accept in ("en", "en-GB", "en-US,en;q=0.9,nl;q=0.8", "fr, en;q=0.5", "nl;q=0.2, *"):
        english = await visitor.http.get("/bestaat-niet", headers={"Accept-Language": accept})
        page = check_page(english, 404, "en", NOT_FOUND["en"])
        assert "We cannot find the page you are looking for." in page, accept
    for accept in ("nl", "de, fr", "en;q=0, *", "nl-BE, en;q=0.9", "en;q=2"):
        response = await visitor.http.get("/bestaat-niet", headers={"Accept-Language": accept})
        check_page(response, 404, "nl", NOT_FOUND["nl"])

    # A language the visitor picked wins over what the browser asks for.
    visitor.http.cookies.set(LANGUAGE_COOKIE, "nl")
    chosen = await visitor.http.get("/bestaat-niet", headers={"Accept-Language": "en"})
    check_page(chosen, 404, "nl", NOT_FOUND["nl"])
    visitor.http.cookies.set(LANGUAGE_COOKIE, "en")
    chosen = await visitor.http.get("/bestaat-niet", headers={"Accept-Language": "nl"})
    check_page(chosen, 404, "en", NOT_FOUND["en"])


async def test_a_signed_in_visitor_keeps_their_header_and_nothing_typed_runs(
    new_visitor, server: LiveServer
) -> None:
    candidate: Browserless = new_visitor()
    await candidate.sign_in_candidate("Noor <b>Bakker</b>", "noor@example.nl")
    response = await candidate.http.get('/zoek/<script>alert("x")</script>?q=<img src=x>')
    page = check_page(response, 404, "nl", NOT_FOUND["nl"])
    assert 'data-testid="nav-name">Noor &lt;b&gt;Bakker&lt;/b&gt;</li>' in page
    assert "<script>alert" not in page and "<img src=x>" not in page
    assert 'data-testid="nav-my-request"' in page


async def test_deliberate_not_found_pages_keep_their_own_message(
    new_visitor, server: LiveServer
) -> None:
    candidate: Browserless = new_visitor()
    await candidate.sign_in_candidate()
    call = await candidate.http.get("/videogesprek/geen-echt-gesprek")
    page = check_page(call, 404, "nl", "Er ging iets mis")
    assert "Dit gesprek bestaat niet, of je bent er geen deelnemer van." in page
    english = await candidate.http.get(
        "/videogesprek/geen-echt-gesprek", headers={"Accept-Language": "en"}
    )
    page = check_page(english, 404, "en", "Something went wrong")
    assert "This conversation does not exist, or you are not taking part in it." in page
    language = await candidate.http.get("/taal/xx")
    page = check_page(language, 404, "nl", "Er ging iets mis")
    assert "Kies een van de mogelijkheden." in page


async def test_a_method_a_page_does_not_take_is_a_page(new_visitor, server: LiveServer) -> None:
    visitor: Browserless = new_visitor()
    dutch = await visitor.http.request("DELETE", "/")
    page = check_page(dutch, 405, "nl", NOT_ALLOWED["nl"])
    assert "Deze pagina kan niet doen wat je browser vroeg." in page
    assert "GET" in dutch.headers["allow"]
    english = await visitor.http.put("/privacy", headers={"Accept-Language": "en"})
    page = check_page(english, 405, "en", NOT_ALLOWED["en"])
    assert "This page cannot do what your browser asked." in page


async def test_operational_endpoints_keep_their_short_answers(
    new_visitor, server: LiveServer
) -> None:
    visitor: Browserless = new_visitor()
    for method, path, status in (
        ("POST", "/healthz", 405),
        ("DELETE", "/readyz", 405),
        ("POST", "/metrics", 405),
        ("GET", "/metrics/figures", 404),
        ("GET", "/ws", 404),
    ):
        response = await visitor.http.request(method, path, headers={"Accept-Language": "en"})
        assert response.status_code == status, (method, path)
        assert response.headers["content-type"].startswith("text/plain"), (method, path)
        assert "<html" not in response.text
        check_security_headers(response)
    assert (await visitor.http.get("/metrics")).status_code == 401


# -- 500 --------------------------------------------------------------------------------------


async def test_a_failure_is_a_page_without_its_cause(new_visitor, server: LiveServer) -> None:
    """The database loses a table under the running hall: the hall page fails. The error page
    shows neither a traceback nor the cause; the cause is in the log."""
    visitor: Browserless = new_visitor()
    assert (await visitor.http.get("/", headers=NEW_CONNECTION)).status_code == 200
    with sqlite3.connect(server.db_path) as raw:
        raw.execute("ALTER TABLE booths RENAME TO booths_gone")

    failed = await visitor.http.get("/", headers=NEW_CONNECTION)
    page = check_page(failed, 500, "nl", SERVER_ERROR["nl"])
    assert SERVER_ERROR_TEXT["nl"] in page
    assert 'data-testid="home-link">Testbeurs</a>' in page  # the full page of the hall
    for cause in ("booths", "no such table", "OperationalError", "sqlite"):
        assert cause not in page, cause
    english = await visitor.http.get("/", headers={"Accept-Language": "en", **NEW_CONNECTION})
    page = check_page(english, 500, "en", SERVER_ERROR["en"])
    assert SERVER_ERROR_TEXT["en"] in page

    # Now the error page itself cannot read what it shows (the event): it still renders,
    # from its template, without anything from the database.
    with sqlite3.connect(server.db_path) as raw:
        raw.execute("ALTER TABLE event RENAME TO event_gone")
    failed = await visitor.http.get("/", headers={"Accept-Language": "en", **NEW_CONNECTION})
    page = check_page(failed, 500, "en", SERVER_ERROR["en"])
    assert 'data-testid="home-link">Inzoomen</a>' in page
    assert "event_gone" not in page and "no such table" not in page
    assert "no such table: booths" in server.log()  # logged, for the operator


@asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[str]:
    """The hall of these settings under uvicorn on a loopback port, in this process."""
    port = free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("uvicorn stopped before it started")
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_a_failing_template_still_gives_an_error_page(tmp_path: Path) -> None:
    """The hall page's template and the error page's template both fail while rendering:
    the visitor still gets a page, written without any template, in their language."""
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    broken = '{% extends "base.html" %}{% block content %}{{ not_given.at_all }}{% endblock %}'
    (templates / "hall.html").write_text(broken, encoding="utf-8")
    (templates / "error.html").write_text(broken, encoding="utf-8")
    await seed_world(tmp_path / "hall.db")
    settings = Settings(database_path=tmp_path / "hall.db", templates_dir=templates)
    async with served(settings) as url, httpx.AsyncClient(base_url=url) as client:
        dutch = await client.get("/", headers=NEW_CONNECTION)
        page = check_page(dutch, 500, "nl", SERVER_ERROR["nl"])
        assert SERVER_ERROR_TEXT["nl"] in page
        assert "not_given" not in page and "Undefined" not in page
        english = await client.get("/", headers={"Accept-Language": "en", **NEW_CONNECTION})
        page = check_page(english, 500, "en", SERVER_ERROR["en"])
        assert "Back to the hall" in page
        # Nothing inline that the content security policy would block.
        assert "<script" not in page and "style=" not in page
        https = await client.get("/", headers={"X-Forwarded-Proto": "https", **NEW_CONNECTION})
        check_security_headers(https)
        # A 404 whose template fails is still a 404 page.
        missing = await client.get(
            "/bestaat-niet", headers={"Accept-Language": "en", **NEW_CONNECTION}
        )
        check_page(missing, 404, "en", NOT_FOUND["en"])
        assert (await client.get("/healthz")).status_code == 200


# -- health -----------------------------------------------------------------------------------


async def test_alive_and_ready(new_visitor, server: LiveServer) -> None:
    visitor: Browserless = new_visitor()
    alive = await visitor.http.get("/healthz")
    assert alive.status_code == 200
    assert alive.json() == {"status": "ok"}
    assert alive.headers["cache-control"] == "no-store"
    check_security_headers(alive)
    ready = await visitor.http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "ok", "redis": "not configured"}
    assert ready.headers["cache-control"] == "no-store"
    check_security_headers(ready)


async def test_not_ready_while_the_database_file_is_gone(new_visitor, server: LiveServer) -> None:
    """Connections already open would go on reading a file moved away under them; the probe
    opens the file at its path and says the hall is not ready, until the file is back."""
    visitor: Browserless = new_visitor()
    moved = server.db_path.with_name("moved-away.db")
    server.db_path.rename(moved)
    try:
        gone = await visitor.http.get("/readyz")
        assert gone.status_code == 503
        assert gone.json() == {
            "status": "error",
            "database": "unreachable",
            "redis": "not configured",
        }
        check_security_headers(gone)
        assert (await visitor.http.get("/healthz")).status_code == 200  # alive all the same
    finally:
        moved.rename(server.db_path)
    back = await visitor.http.get("/readyz")
    assert back.status_code == 200, back.text
    assert back.json()["database"] == "ok"
    assert "not ready: database does not answer" in server.log()


async def test_not_ready_while_the_database_has_no_hall(new_visitor, server: LiveServer) -> None:
    visitor: Browserless = new_visitor()
    with sqlite3.connect(server.db_path) as raw:
        raw.execute("ALTER TABLE revision RENAME TO revision_gone")
    response = await visitor.http.get("/readyz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"
    assert "revision" not in response.text


async def test_readiness_follows_redis(tmp_path: Path, world_db: tuple[Path, World]) -> None:
    with RedisServer(directory=tmp_path / "redis") as redis:
        env = {"INZOOMEN_REDIS_URL": redis.url, "INZOOMEN_REDIS_PREFIX": unique_prefix("ready")}
        server = LiveServer(world_db[0], tmp_path / "server.log", env=env)
        server.start()
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
                ready = await client.get("/readyz")
                assert ready.status_code == 200
                assert ready.json() == {"status": "ok", "database": "ok", "redis": "ok"}

                redis.stop()
                gone = await client.get("/readyz")
                assert gone.status_code == 503
                assert gone.json() == {"status": "error", "database": "ok", "redis": "unreachable"}
                check_security_headers(gone)
                assert (await client.get("/healthz")).status_code == 200

                redis.start()
                # Ready again once the hall's connection to the new Redis is made; a probe
                # answers whatever happens, so ask until it says so.
                answers = []
                for _ in range(200):
                    answer = await client.get("/readyz")
                    answers.append(answer.status_code)
                    if answer.status_code == 200:
                        break
                    await asyncio.sleep(0.1)
                assert answers[-1] == 200, answers
                assert answer.json()["redis"] == "ok"
        finally:
            server.stop()
        assert "not ready: redis does not answer" in server.log()
