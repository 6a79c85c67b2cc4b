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
    """Send a request head (and what there is of a body) as written, and read one answer."""
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
