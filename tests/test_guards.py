"""The hall's guards at its edge, against a real server process on loopback: request bodies
over the limit are refused with the hall's own 413 page before they are read whole, only the
configured host names are answered (and a redirect never names a host the visitor chose),
and staff log-ins are slowed down per account and address without letting anyone lock an
advisor out."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.livekit import Browserless, LiveServer, World

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
