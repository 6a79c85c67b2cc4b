"""Security at the edges, against real server processes: WebSocket handshakes from foreign
origins are refused with 403, every form refuses a missing or wrong CSRF token and changes
nothing, every response carries the security headers, and staff logins are throttled
without telling which accounts exist."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.routing import BaseRoute, Route

from app.core.config import Settings
from app.domain import throttles
from app.storage.db import Database
from app.web.metrics_endpoint import routes as metrics_routes
from app.web.pages import routes as page_routes
from app.web.server import create_app
from tests.livekit import PASSWORD, Browserless, LiveServer, World, csrf_from

ROOT = Path(__file__).resolve().parent.parent

# -- raw WebSocket handshakes -----------------------------------------------------------------


async def handshake(
    server: LiveServer, headers: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    """One raw HTTP upgrade request; the status, headers and the start of the body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        "GET /ws HTTP/1.1",
        f"Host: 127.0.0.1:{server.port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    found: dict[str, str] = {}
    for line in header_lines:
        if ":" in line:
            name, value = line.split(":", 1)
            found[name.strip().lower()] = value.strip()
    body = b""
    if "content-length" in found:
        body = await asyncio.wait_for(reader.readexactly(int(found["content-length"])), 5)
    writer.close()
    return int(status_line.split()[1]), found, body


def foreign_origins(server: LiveServer) -> dict[str, str | None]:
    return {
        "foreign site": "http://evil.example",
        "missing": None,
        "null": "null",
        "different port": f"http://127.0.0.1:{server.port + 1}",
        "different scheme": f"https://127.0.0.1:{server.port}",
        "look-alike host": f"http://127.0.0.1.evil.example:{server.port}",
        "no scheme": f"127.0.0.1:{server.port}",
    }


async def test_handshakes_from_foreign_origins_are_refused_with_403(
    server: LiveServer, world: World
) -> None:
    tried = refused = 0
    for name, origin in foreign_origins(server).items():
        headers = {} if origin is None else {"Origin": origin}
        status, found, _body = await handshake(server, headers)
        tried += 1
        assert status == 403, name
        refused += 1
        assert found["x-frame-options"] == "DENY", name
        assert "frame-ancestors 'none'" in found["content-security-policy"], name
        assert found["x-content-type-options"] == "nosniff", name
    status, found, _body = await handshake(server, {"Origin": server.url})
    assert status == 101
    print(f"\nhandshakes tried {tried + 1}, foreign refused {refused}/{tried}, own origin opened")


async def test_handshake_offering_compression_gets_none(server: LiveServer, world: World) -> None:
    status, found, _body = await handshake(
        server,
        {
            "Origin": server.url,
            "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits",
        },
    )
    assert status == 101
    assert "permessage-deflate" not in found.get("sec-websocket-extensions", "")


@pytest.fixture
def allow_listed(world_db: tuple[Path, World], tmp_path: Path) -> Iterator[LiveServer]:
    env = {"INZOOMEN_ALLOWED_ORIGINS": "https://hal.example.nl, https://beurs.example.nl/"}
    live = LiveServer(world_db[0], tmp_path / "origins.log", env=env)
    live.start()
    try:
        yield live
    finally:
        live.stop()


async def test_allowed_origins_setting_is_the_whole_list(allow_listed: LiveServer) -> None:
    for origin in ("https://hal.example.nl", "https://beurs.example.nl"):
        status, _found, _body = await handshake(allow_listed, {"Origin": origin})
        assert status == 101, origin
    for origin in (
        allow_listed.url,  # the page's own host is not on the list
        "http://hal.example.nl",
        "https://hal.example.nl:8443",
        "https://evil.example",
        "null",
    ):
        status, _found, _body = await handshake(allow_listed, {"Origin": origin})
        assert status == 403, origin


# -- security headers -----------------------------------------------------------------------------

HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}


def check_headers(response: httpx.Response, https: bool = False) -> None:
    where = f"{response.request.method} {response.request.url.path} ({response.status_code})"
    csp = response.headers.get("content-security-policy", "")
    assert "default-src 'self'" in csp, where
    assert "frame-ancestors 'none'" in csp, where
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, where
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, (where, name)
    assert len(response.headers.get_list("content-security-policy")) == 1, where
    hsts = response.headers.get("strict-transport-security")
    if https:
        assert hsts is not None and "max-age=" in hsts, where
    else:
        assert hsts is None, where


def route_paths(routes: list[BaseRoute], method: str, fill: dict[str, str]) -> list[str]:
    """Every route answering ``method``, with its path parameters filled in (``fill``, else 1)."""
    paths = []
    for route in routes:
        if not isinstance(route, Route) or method not in (route.methods or ()):
            continue
        path = route.path
        for name in route.param_convertors:
            path = re.sub(r"\{" + name + r"(:[^}]+)?\}", fill.get(name, "1"), path)
        paths.append(path)
    return paths


def get_paths(world: World) -> list[str]:
    """Every GET route of the hall, with its path parameters filled in."""
    fill = {"booth_id": str(world.booth_a), "conversation_id": "1", "language": "en"}
    return route_paths([*page_routes, *metrics_routes], "GET", fill)


async def test_every_response_carries_the_security_headers(
    server: LiveServer, new_visitor, world: World
) -> None:
    anonymous: Browserless = new_visitor()
    candidate: Browserless = new_visitor()
    await candidate.sign_in_candidate()
    advisor: Browserless = new_visitor()
    await advisor.log_in("a1@test.example")
    moderator: Browserless = new_visitor()
    await moderator.log_in("mod@test.example")
    paths = get_paths(world)
    extra = [
        "/static/css/base.css",
        "/static/js/live.js",
        "/static/img/favicon.svg",
        "/static/bestaat-niet.js",
        "/bestaat-niet",
        f"/inzoomen/{world.booth_a}?adviseur=1",
        "/taal/xx",
    ]
    checked = 0
    seen_status: set[int] = set()
    for visitor in (anonymous, candidate, advisor, moderator):
        for path in paths + extra:
            for https in (False, True):
                headers = {"X-Forwarded-Proto": "https"} if https else {}
                response = await visitor.http.get(path, headers=headers)
                check_headers(response, https)
                seen_status.add(response.status_code)
                checked += 1
        # Other methods and failures too.
        response = await visitor.http.request("DELETE", "/")
        check_headers(response)
    posted = await anonymous.http.post("/inloggen", data={"csrf": "fout"})
    assert posted.status_code == 403
    check_headers(posted)
    assert {200, 303, 401, 403, 404} <= seen_status, seen_status
    print(
        f"\nGET routes {len(paths)} + {len(extra)} other paths × 4 roles × http/https: "
        f"{checked} responses × {len(HEADERS) + 3} headers checked; statuses {sorted(seen_status)}"
    )


async def test_an_unexpected_error_page_carries_the_headers(tmp_path: Path) -> None:
    app = create_app(Settings(database_path=tmp_path / "x.db"))

    async def boom(request: object) -> None:
        raise RuntimeError("boom")

    app.router.routes.append(Route("/__boom", boom))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        response = await client.get("/__boom")
        assert response.status_code == 500
        check_headers(response)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="https://localhost") as client:
        check_headers(await client.get("/__boom"), https=True)


def test_templates_need_no_inline_styles_or_scripts() -> None:
    """The CSP forbids inline code: no template may rely on it. The one exception is the
    import map, which the policy names by its hash (tests/test_assets.py)."""
    inline = re.compile(
        r"\sstyle\s*=|\son[a-z]+\s*=|javascript:"
        r"|<script(?![^>]*\bsrc=)(?![^>]*application/json)(?![^>]*importmap)",
        re.IGNORECASE,
    )
    offenders = []
    for template in sorted((ROOT / "templates").glob("*.html")):
        for number, line in enumerate(template.read_text().splitlines(), 1):
            if inline.search(line):
                offenders.append(f"{template.name}:{number}: {line.strip()}")
    assert offenders == []


# -- CSRF on every form ---------------------------------------------------------------------------


def dump(path: Path) -> list[str]:
    with sqlite3.connect(path) as raw:
        return list(raw.iterdump())


def post_paths(world: World) -> list[str]:
    fill = {"booth_id": str(world.booth_a), "conversation_id": "1", "form": "status"}
    return route_paths(page_routes, "POST", fill)


FORM = {
    "name": "Iemand",
    "email": "a1@test.example",
    "password": PASSWORD,
    "phone": "",
    "consent": "yes",
    "next": "/",
    "question": "Mag dit?",
    "client_key": "csrf-test",
    "request_id": "1",
    "conversation_id": "1",
    "status": "paused",
    "notes": "niets",
    "message": "nee",
    "current": PASSWORD,
    "new": "een-nieuw-wachtwoord",
    "repeat": "een-nieuw-wachtwoord",
    "confirm": "yes",
}


def bad_tokens(good: str) -> tuple[str | None, ...]:
    """Missing, empty, wrong, nearly right, and wrong with characters outside ASCII."""
    return (None, "", "fout-token", good[:-2] + "xx", "tökén", good[:-1] + "é", "🔑" * 43)


async def test_every_form_refuses_a_missing_or_wrong_csrf_token(
    server: LiveServer, new_visitor, world: World
) -> None:
    candidate: Browserless = new_visitor()
    await candidate.sign_in_candidate()
    peer = await candidate.socket()
    made = await peer.send("request.create", {"booth_id": world.booth_a, "client_key": "eerst"})
    assert made["ok"]
    await peer.close()
    advisor: Browserless = new_visitor()
    await advisor.log_in("a1@test.example")
    moderator: Browserless = new_visitor()
    await moderator.log_in("mod@test.example")
    anonymous: Browserless = new_visitor()
    await anonymous.http.get("/aanmelden")
    paths = post_paths(world)
    assert "/inloggen" in paths and "/uitloggen" in paths and "/wachtwoord" in paths
    await asyncio.sleep(0.5)  # let the advisor's sign-in settle before the snapshot
    before = dump(server.db_path)
    refused = 0
    for visitor in (anonymous, candidate, advisor, moderator):
        good = csrf_from(
            (await visitor.http.get("/aanmelden" if visitor is anonymous else "/")).text
        )
        for path in paths:
            # Non-ASCII ones too: they are as wrong as any other, not a server error.
            for token in bad_tokens(good):
                data = dict(FORM)
                if token is not None:
                    data["csrf"] = token
                response = await visitor.http.post(path, data=data)
                assert response.status_code == 403, (path, token, response.status_code)
                check_headers(response)
                refused += 1
    assert dump(server.db_path) == before
    for visitor in (candidate, advisor, moderator):
        assert (await visitor.http.get("/mijn-verzoek")).status_code in (200, 403)
    assert "Traceback" not in server.log(), server.log()[-3000:]
    bad = len(bad_tokens(good))
    print(f"\nPOST routes {len(paths)} × 4 roles × {bad} bad tokens: {refused} refused with 403")


# -- login throttle -------------------------------------------------------------------------------


async def test_login_throttle_slows_one_client_down_and_leaves_the_others_alone(
    tmp_path: Path,
) -> None:
    db = await Database.open(tmp_path / "throttle.db")
    secret = "secret-secret-secret"
    try:
        key = throttles.key_of(secret, "account", "A1@Test.Example ")
        assert key == throttles.key_of(secret, "account", "a1@test.example")
        ip = throttles.key_of(secret, "ip", "10.0.0.1")

        async def attempt(
            at: float, client: str = ip, address: str | None = ip, per_ip: int = 1000
        ) -> throttles.LoginTry:
            return await throttles.begin_login(
                db,
                account_key=key,
                client_key=client,
                ip_key=address,
                now=at,
                free=5,
                per_ip=per_ip,
            )

        now = 1000.0
        for _ in range(5):  # five free failures, at once
            assert (await attempt(now)).allowed
        waits = []
        for _ in range(7):
            refused = await attempt(now)
            assert not refused.allowed
            waits.append(refused.retry_after)
            now += refused.retry_after
            assert (await attempt(now)).allowed  # and it fails again
        # 2^n seconds after the n-th failure, up to a quarter of an hour.
        assert waits == [32, 64, 128, 256, 512, 900, 900]
        refused = await attempt(now + 60)
        assert refused.refusal().code == "auth.login_wait_minutes"
        assert refused.refusal().params == {"minutes": 14}
        assert (await attempt(now + 880)).refusal().params == {"seconds": 20}
        # Another address, and a known device, are not slowed by these failures at all.
        assert (await attempt(now, throttles.key_of(secret, "ip", "10.0.0.2"))).allowed
        device = throttles.key_of(secret, "device", "d" * 32)
        assert (await attempt(now, device, None)).allowed
        # The address's own limit over all accounts (here 10): a known device is past it.
        assert not (await attempt(now, throttles.key_of(secret, "ip", "10.0.0.2"), ip, 10)).allowed
        assert (await attempt(now, device, None, per_ip=10)).allowed
        # Failures count for a day: at a quarter of an hour apart they do not run out.
        later = now + 3 * 3600
        assert (await attempt(later)).allowed
        assert (await attempt(later)).retry_after == 900
        assert (await attempt(later + 86400)).allowed
        stored = await db.fetchall("SELECT account_key, ip_key FROM login_failures")
        assert stored and all("@" not in row[0] and "10.0" not in row[1] for row in stored)
        # The right password from a client clears its failures with the account.
        right = await attempt(later + 86400 + 900)
        assert right.allowed
        await throttles.login_succeeded(db, right)
        for _ in range(5):
            assert (await attempt(later + 86400 + 900)).allowed
    finally:
        await db.close()


def test_a_device_cookie_names_a_device_for_one_account_only() -> None:
    secret = "secret-secret-secret"
    a1 = throttles.key_of(secret, "account", "a1@test.example")
    a2 = throttles.key_of(secret, "account", "a2@test.example")
    cookie = throttles.remember_device(secret, a1, None)
    device = throttles.known_device(secret, a1, cookie)
    assert device is not None and device in cookie
    assert throttles.known_device(secret, a2, cookie) is None
    assert throttles.known_device("another-secret-key", a1, cookie) is None
    # Signing in to a second account on the same browser: both are known, each once.
    both = throttles.remember_device(secret, a2, cookie)
    assert throttles.known_device(secret, a1, both) == device
    assert throttles.known_device(secret, a2, both) is not None
    again = throttles.remember_device(secret, a1, both)
    assert again.count(".") == 1 and throttles.known_device(secret, a1, again) == device
    # Made up or damaged cookies name no device, and are no error.
    for made_up in ("", "x", "é" * 64, "0" * 64, cookie[:-1] + "g", cookie.upper(), "." * 9):
        assert throttles.known_device(secret, a1, made_up) is None, made_up


@pytest.fixture
def throttled(world_db: tuple[Path, World], tmp_path: Path) -> Iterator[LiveServer]:
    env = {"INZOOMEN_LOGIN_FAILURES_PER_ACCOUNT": "10", "INZOOMEN_LOGIN_FAILURES_PER_IP": "22"}
    live = LiveServer(world_db[0], tmp_path / "throttled.log", env=env)
    live.start()
    try:
        yield live
    finally:
        live.stop()


def shape(response: httpx.Response, email: str) -> str:
    """The page without what differs by design: the echoed e-mail and the CSRF token (and
    the minutes to wait, which follow the clock)."""
    text = response.text.replace(email, "EMAIL")
    text = re.sub(r"over \d+ minuten", "over N minuten", text)
    return re.sub(r'name="csrf" value="[^"]+"', "CSRF", text)


async def test_login_throttle_refuses_alike_for_known_and_unknown_accounts(
    throttled: LiveServer, world: World
) -> None:
    visitor = Browserless(throttled)
    try:

        async def attempt(email: str, password: str) -> httpx.Response:
            token = await visitor.csrf("/inloggen")
            return await visitor.http.post(
                "/inloggen", data={"csrf": token, "email": email, "password": password}
            )

        wrong = await attempt("a1@test.example", "fout-wachtwoord")
        unknown = await attempt("niemand@test.example", "fout-wachtwoord")
        assert wrong.status_code == unknown.status_code == 400
        assert shape(wrong, "a1@test.example") == shape(unknown, "niemand@test.example")
        for _ in range(9):
            await attempt("a1@test.example", "fout-wachtwoord")
            await attempt("niemand@test.example", "fout-wachtwoord")
        # Ten failures each: from here the next try from this address must wait (2^10
        # seconds, capped at a quarter of an hour), even with the right password, and the
        # answer is the same for a known and an unknown account.
        right = await attempt("a1@test.example", PASSWORD)
        unknown = await attempt("niemand@test.example", PASSWORD)
        assert right.status_code == unknown.status_code == 429
        assert 1 <= int(right.headers["retry-after"]) <= 900
        message = (
            r"Te veel mislukte pogingen om in te loggen\. Probeer het over \d+ minuten opnieuw"
        )
        assert re.search(message, right.text)
        assert shape(right, "a1@test.example") == shape(unknown, "niemand@test.example")
        assert (await visitor.http.get("/adviseur")).status_code == 303  # not signed in
        # Another account is not locked by someone else's failures.
        await visitor.log_in("b1@test.example")
        # The address has 20 failures (plus two refused): two more reach its limit of 22 and
        # then even another account's right password is refused from here.
        await attempt("x1@test.example", "fout-wachtwoord")
        await attempt("x2@test.example", "fout-wachtwoord")
        other = Browserless(throttled)
        try:
            token = await other.csrf("/inloggen")
            blocked = await other.http.post(
                "/inloggen", data={"csrf": token, "email": "a2@test.example", "password": PASSWORD}
            )
            assert blocked.status_code == 429
            # It may try again when the address's first failure is an hour old.
            assert 1 <= int(blocked.headers["retry-after"]) <= 3600
            assert re.search(message, blocked.text)
        finally:
            await other.aclose()
        with sqlite3.connect(throttled.db_path) as raw:
            assert raw.execute("SELECT COUNT(*) FROM login_failures").fetchone()[0] == 22
            rows = raw.execute("SELECT account_key, ip_key FROM login_failures").fetchall()
            assert not any("@" in a or "127.0.0.1" in i for a, i in rows)
    finally:
        await visitor.aclose()


async def test_a_visitor_gone_in_the_middle_of_a_form_is_no_server_error(
    server: LiveServer, world: World
) -> None:
    """Half a form, then the connection closes: no traceback, and the server goes on."""
    for path in ("/aanmelden", "/inloggen", f"/inzoomen/{world.booth_a}"):
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            "Content-Length: 4000\r\n\r\ncsrf=abc&name=Sa".encode()
        )
        await writer.drain()
        writer.close()
        await writer.wait_closed()
    async with httpx.AsyncClient(base_url=server.url) as client:
        assert (await client.get("/healthz")).status_code == 200
    await asyncio.sleep(0.5)  # let the server notice the closed connections and log
    assert "Traceback" not in server.log(), server.log()[-3000:]
