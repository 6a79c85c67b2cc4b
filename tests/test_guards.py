"""The hall's guards at its edge, against a real server process on loopback: request bodies
over the limit are refused with the hall's own 413 page before they are read whole, only the
configured host names are answered (and a redirect never names a host the visitor chose),
and staff log-ins are slowed down per account and address without letting anyone lock an
advisor out."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.core.config import DEFAULT_SECRET_KEY
from app.domain import throttles
from tests.livekit import PASSWORD, Browserless, LiveServer, World

SMALL_LIMIT = 64 * 1024


@dataclass
class Answer:
    """One raw HTTP answer: its status, headers, body, and whether the server closed the
    connection after it."""

    status: int
    headers: dict[str, str]
    body: str
    closed: bool


async def raw_http(port: int, head: list[str], body: list[bytes] | None = None) -> Answer:
    """Send a request head (and what there is of a body) as written, and read one answer.
    The server closes the connection after it (``closed``) when the request said
    ``Connection: close`` or when the server chose to."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        for part in body or []:
            writer.write(part)
        await writer.drain()
        raw_head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        status_line, *lines = raw_head.decode("latin-1").split("\r\n")
        headers: dict[str, str] = {}
        for line in lines:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        content = await asyncio.wait_for(reader.readexactly(length), 10)
        rest = await asyncio.wait_for(reader.read(), 10)
        return Answer(int(status_line.split()[1]), headers, content.decode(), rest == b"")
    finally:
        writer.close()


# -- request bodies -------------------------------------------------------------------------


@pytest.fixture
def small_bodies(world_db: tuple[Path, World], tmp_path: Path) -> Iterator[LiveServer]:
    env = {"INZOOMEN_MAX_BODY_BYTES": str(SMALL_LIMIT)}
    with LiveServer(world_db[0], tmp_path / "small.log", env=env) as live:
        yield live


async def test_a_body_announced_too_large_is_refused_before_it_is_read(
    server: LiveServer, world: World
) -> None:
    """24 MB announced, not a byte of it sent: the answer comes at once, in the visitor's
    language, and the connection is closed (the body is never read)."""
    for path in ("/aanmelden", "/inloggen", f"/inzoomen/{world.booth_a}", "/beheer/stands/import"):
        answer = await raw_http(
            server.port,
            [
                f"POST {path} HTTP/1.1",
                f"Host: 127.0.0.1:{server.port}",
                "Accept-Language: en",
                "Content-Type: application/x-www-form-urlencoded",
                f"Content-Length: {24 * 1024 * 1024}",
            ],
        )
        assert answer.status == 413, path
        assert answer.closed, path
        assert answer.headers["connection"] == "close"
        assert answer.headers["content-type"].startswith("text/html")
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert '<html lang="en"' in answer.body
        assert "Too large to send" in answer.body and "at most 2 MB" in answer.body
        assert 'data-testid="back-to-hall"' in answer.body
    # What reads the hall by program gets a plain answer.
    answer = await raw_http(
        server.port,
        [
            "POST /metrics HTTP/1.1",
            f"Host: 127.0.0.1:{server.port}",
            f"Content-Length: {24 * 1024 * 1024}",
        ],
    )
    assert answer.status == 413 and answer.body == "Request body too large"
    async with httpx.AsyncClient(base_url=server.url) as client:
        assert (await client.get("/healthz")).status_code == 200
    assert "Traceback" not in server.log() and "ERROR" not in server.log()


async def test_a_chunked_body_is_refused_where_it_grows_past_the_limit(
    small_bodies: LiveServer,
) -> None:
    """No length announced: the body is counted as it comes and refused at the chunk that
    crosses the limit, without waiting for the rest (the last chunk is never sent)."""
    chunk = b"x" * 16 * 1024
    framed = [b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(SMALL_LIMIT // len(chunk) + 1)]
    answer = await raw_http(
        small_bodies.port,
        [
            "POST /aanmelden HTTP/1.1",
            f"Host: 127.0.0.1:{small_bodies.port}",
            "Content-Type: application/x-www-form-urlencoded",
            "Transfer-Encoding: chunked",
        ],
        [b"5\r\nname=\r\n", *framed],
    )
    assert answer.status == 413
    assert answer.closed
    assert '<html lang="nl"' in answer.body
    assert "Te groot om te versturen" in answer.body
    assert "Dit bericht is te groot." in answer.body
    assert "hoogstens 0,1 MB" in answer.body
    assert "Traceback" not in small_bodies.log()


async def test_a_body_within_the_limit_reaches_the_page(small_bodies: LiveServer) -> None:
    visitor = Browserless(small_bodies)
    try:
        token = await visitor.csrf("/inloggen")
        padding = "x" * (SMALL_LIMIT - 200)
        response = await visitor.http.post(
            "/inloggen",
            data={"csrf": token, "email": "a1@test.example", "password": padding},
        )
        assert len(response.request.content) <= SMALL_LIMIT
        # The page read it: a wrong password, not a refusal of its size.
        assert response.status_code == 400
        assert "horen niet bij elkaar" in response.text
        # The same in chunks, ended properly: counted as it came, and read.
        parts = (f"csrf={token}&email=a1%40test.example&password=".encode(), b"y" * 60_000)
        chunked = await raw_http(
            small_bodies.port,
            [
                "POST /inloggen HTTP/1.1",
                f"Host: 127.0.0.1:{small_bodies.port}",
                "Content-Type: application/x-www-form-urlencoded",
                "Transfer-Encoding: chunked",
                f"Cookie: {visitor.cookie_header()}",
            ],
            [*(b"%x\r\n%s\r\n" % (len(part), part) for part in parts), b"0\r\n\r\n"],
        )
        assert chunked.status == 400 and "horen niet bij elkaar" in chunked.body
    finally:
        await visitor.aclose()


async def test_the_largest_booth_import_fits_the_default_limit(server: LiveServer) -> None:
    """The booth import takes files of up to 1,000,000 bytes: such a form gets through."""
    visitor = Browserless(server)
    try:
        token = await visitor.csrf("/inloggen")
        response = await visitor.http.post(
            "/inloggen",
            data={"csrf": token},
            files={"file": ("stands.csv", b"x" * 1_000_000, "text/csv")},
        )
        assert response.status_code != 413
    finally:
        await visitor.aclose()


# -- host names -----------------------------------------------------------------------------


def get(path: str, host: str | None, *extra: str) -> list[str]:
    """A request head for ``path`` with this Host header (None: without one, HTTP/1.0)."""
    if host is None:
        return [f"GET {path} HTTP/1.0", *extra]
    return [f"GET {path} HTTP/1.1", f"Host: {host}", "Connection: close", *extra]


async def test_only_the_halls_own_host_names_are_answered(server: LiveServer) -> None:
    port = server.port
    # The redirect that drops a trailing slash named whatever host the request gave.
    for host in (
        "evil.example",
        f"evil.example:{port}",
        f"127.0.0.1.evil.example:{port}",
        f"localhost.evil.example:{port}",
        "127.0.0.2",
        "[::2]",
        "",
        None,
    ):
        answer = await raw_http(port, get("/privacy/", host))
        assert answer.status == 400, host
        assert "location" not in answer.headers, host
        assert answer.headers["content-type"].startswith("text/plain"), host
        assert "host name" in answer.body and "evil" not in answer.body, host
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"], host
    # This machine, under each of its names (with or without a port, in any case, with a
    # final dot): the page, and a redirect that names no host at all.
    for host in (
        f"127.0.0.1:{port}",
        "127.0.0.1",
        f"LocalHost:{port}",
        f"[::1]:{port}",
        "localhost.",
    ):
        page = await raw_http(port, get("/privacy", host))
        assert page.status == 200, host
        answer = await raw_http(port, get("/privacy/?taal=en", host))
        assert answer.status == 307, host
        assert answer.headers["location"] == "/privacy?taal=en", host
    # Probes that name the server by its address still get their answers.
    assert (await raw_http(port, get("/healthz", "10.1.2.3:8000"))).status == 200
    assert (await raw_http(port, get("/readyz", "10.1.2.3"))).status == 200
    assert (await raw_http(port, get("/metrics", "10.1.2.3"))).status == 401
    assert "Traceback" not in server.log()


async def test_a_websocket_for_another_host_is_refused(server: LiveServer) -> None:
    handshake = [
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
    ]
    refused = await raw_http(
        server.port,
        ["GET /ws HTTP/1.1", "Host: evil.example", "Origin: http://evil.example", *handshake],
    )
    assert refused.status == 400
    own = f"127.0.0.1:{server.port}"
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        head = ["GET /ws HTTP/1.1", f"Host: {own}", f"Origin: http://{own}", *handshake]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
        assert b" 101 " in status_line
    finally:
        writer.close()


@pytest.fixture
def named_hall(world_db: tuple[Path, World], tmp_path: Path) -> Iterator[LiveServer]:
    env = {"INZOOMEN_ALLOWED_HOSTS": "hal.example.nl, *.beurs.example.nl"}
    with LiveServer(world_db[0], tmp_path / "named.log", env=env) as live:
        yield live


async def test_allowed_hosts_setting_is_the_whole_list(named_hall: LiveServer) -> None:
    port = named_hall.port
    for host in ("hal.example.nl", f"HAL.example.nl:{port}", "noord.beurs.example.nl"):
        assert (await raw_http(port, get("/", host))).status == 200, host
    # Once set, the list is all: this machine's own names are no longer answered either.
    for host in (f"127.0.0.1:{port}", "localhost", "beurs.example.nl", "xhal.example.nl"):
        assert (await raw_http(port, get("/", host))).status == 400, host
    # A hall behind a proxy sees https, and still names no host in a redirect.
    answer = await raw_http(port, get("/privacy/", "hal.example.nl", "X-Forwarded-Proto: https"))
    assert answer.status == 307 and answer.headers["location"] == "/privacy"


# -- staff log-ins --------------------------------------------------------------------------

FREE_FAILURES = 10
ATTACKER = "203.0.113.1"
WAIT = r"Te veel mislukte pogingen om in te loggen\. Probeer het over \d+ minuten opnieuw\."


@pytest.fixture
def guarded(world_db: tuple[Path, World], tmp_path: Path) -> Iterator[LiveServer]:
    env = {"INZOOMEN_LOGIN_FAILURES_PER_ACCOUNT": str(FREE_FAILURES)}
    with LiveServer(world_db[0], tmp_path / "guarded.log", env=env) as live:
        yield live


async def log_in(
    visitor: Browserless, email: str, password: str, address: str | None = None
) -> httpx.Response:
    """The log-in form, sent from ``address`` (as the trusted proxy on loopback says)."""
    token = await visitor.csrf("/inloggen")
    headers = {"X-Forwarded-For": address} if address else {}
    return await visitor.http.post(
        "/inloggen", data={"csrf": token, "email": email, "password": password}, headers=headers
    )


async def log_out(visitor: Browserless) -> None:
    token = await visitor.csrf("/adviseur")
    assert (await visitor.http.post("/uitloggen", data={"csrf": token})).status_code == 303


async def test_nobody_can_lock_an_advisor_out(
    guarded: LiveServer, people: list[Browserless]
) -> None:
    """100 wrong passwords for an advisor's account from ten addresses: the advisor's own
    browser signs in, and so does a browser at an address that took no part; the guessers
    are the ones who wait."""
    device, attacker, fresh = Browserless(guarded), Browserless(guarded), Browserless(guarded)
    people.extend([device, attacker, fresh])
    # The advisor signed in on this browser before: it is a known device from now on.
    signed_in = await log_in(device, "a1@test.example", PASSWORD)
    assert signed_in.status_code == 303
    cookie = signed_in.headers["set-cookie"].lower()
    assert "inzoomen_device=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    await log_out(device)

    addresses = [f"203.0.113.{n}" for n in range(10, 1, -1)] + [ATTACKER]
    for address in addresses:
        for _ in range(FREE_FAILURES):
            wrong = await log_in(attacker, "a1@test.example", "raden-123", address)
            assert wrong.status_code == 400
            assert "horen niet bij elkaar" in wrong.text
    with sqlite3.connect(guarded.db_path) as raw:
        assert raw.execute("SELECT COUNT(*) FROM login_failures").fetchone()[0] == 100

    # The guesser's address has had its free failures: the next try waits, right password
    # or not (2^10 seconds, capped at a quarter of an hour), and is told for how long.
    for password in ("raden-124", PASSWORD):
        refused = await log_in(attacker, "a1@test.example", password, ATTACKER)
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= throttles.LOGIN_WAIT_CAP_SECONDS
        assert refused.text.count("Te veel mislukte pogingen") == 1
        assert re.search(WAIT, refused.text)
    assert (await attacker.http.get("/adviseur")).status_code == 303  # not signed in
    # A made-up device cookie is no way around it.
    attacker.http.cookies.set("inzoomen_device", "0" * 64)
    assert (await log_in(attacker, "a1@test.example", PASSWORD, ATTACKER)).status_code == 429

    # The advisor's own browser signs in at once, here and even at the guesser's address.
    assert (await log_in(device, "a1@test.example", PASSWORD)).status_code == 303
    await log_out(device)
    assert (await log_in(device, "a1@test.example", PASSWORD, ATTACKER)).status_code == 303
    # So does a browser the account never used, at an address that took no part.
    assert (await log_in(fresh, "a1@test.example", PASSWORD, "198.51.100.7")).status_code == 303
    # The known device is known for its own account only.
    await log_out(device)
    assert (await log_in(device, "a2@test.example", PASSWORD, ATTACKER)).status_code == 303

    # What is stored names no e-mail address, no client address and no device.
    secret = DEFAULT_SECRET_KEY
    account = throttles.key_of(secret, "account", "a1@test.example")
    with sqlite3.connect(guarded.db_path) as raw:
        rows = raw.execute("SELECT account_key, ip_key FROM login_failures").fetchall()
    assert len(rows) == 100 and all(a == account for a, _ in rows)
    clients = {i for _, i in rows}
    assert throttles.key_of(secret, "ip", ATTACKER) in clients and len(clients) == 10
    assert not any("@" in a or "203.0.113" in i for a, i in rows)
    assert "Traceback" not in guarded.log()


async def test_simultaneous_guesses_at_two_workers_get_the_free_tries_only(
    two_workers: tuple[LiveServer, LiveServer], people: list[Browserless]
) -> None:
    """Twenty wrong passwords at once, half at each worker process: each try is counted in
    the database as it is let in, so five get a password check and fifteen wait."""
    visitors = [Browserless(server) for server in two_workers]
    people.extend(visitors)
    tokens = [await visitor.csrf("/inloggen") for visitor in visitors]

    async def guess(n: int) -> int:
        visitor, token = visitors[n % 2], tokens[n % 2]
        response = await visitor.http.post(
            "/inloggen",
            data={"csrf": token, "email": "a1@test.example", "password": f"raden-{n}"},
            headers={"X-Forwarded-For": ATTACKER},
        )
        return response.status_code

    answers = await asyncio.gather(*(guess(n) for n in range(20)))
    assert sorted(answers) == [400] * 5 + [429] * 15
    with sqlite3.connect(two_workers[0].db_path) as raw:
        assert raw.execute("SELECT COUNT(*) FROM login_failures").fetchone()[0] == 5
