"""Production behind TLS: the hall in production mode behind Debian's nginx running the very
configuration in docs/deploy/nginx.conf, driven by Chromium over https:// and wss://; and
the systemd units and environment file in docs/deploy, checked with systemd's own tools and
the hall's own command-line parser.

nginx connects to the hall from 127.0.0.2 (the hall listens on 127.0.0.1), so whether the
hall believes nginx's X-Forwarded-Proto and X-Forwarded-For depends on
INZOOMEN_TRUSTED_PROXIES alone. One hall trusts 127.0.0.2, as a production hall trusts its
proxy; the other keeps the default (127.0.0.1, ::1), to show what goes wrong without it.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import socket
import sqlite3
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from app.cli import parser
from app.core.config import ConfigError, load_settings
from tests.browserkit import chromium
from tests.livekit import PASSWORD, ROOT, LiveServer, World, seed_world
from tests.proxykit import (
    NGINX_CONF,
    UPSTREAM,
    Certificate,
    NginxProxy,
    make_certificate,
    unverified_ssl_context,
)

DEPLOY = ROOT / "docs" / "deploy"
SECRET = "tls-proxy-test-secret-key-0123456789abcdef"
PRODUCTION = {
    "INZOOMEN_ENV": "production",
    "INZOOMEN_SECRET_KEY": SECRET,
    "INZOOMEN_HTTPS_ONLY": "true",
    # The name the browser uses for nginx here; nginx passes it on as the Host.
    "INZOOMEN_ALLOWED_HOSTS": "127.0.0.1",
}
PROXY_ADDRESS = "127.0.0.2"
FOREIGN_ORIGIN = "https://evil.example"
INSTALLED_VENV = "/opt/inzoomen/.venv"


@dataclass
class Site:
    """A hall in production mode and the nginx in front of it."""

    hall: LiveServer
    proxy: NginxProxy
    world: World
    db_path: Path


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return make_certificate(tmp_path_factory.mktemp("certificate"))


def _site(directory: Path, certificate: Certificate, trusted_proxies: str | None) -> Iterator[Site]:
    db_path = directory / "hall.db"
    world = asyncio.run(seed_world(db_path))
    env = dict(PRODUCTION)
    if trusted_proxies is not None:
        env["INZOOMEN_TRUSTED_PROXIES"] = trusted_proxies
    hall = LiveServer(db_path, directory / "hall.log", env=env)
    hall.start()
    try:
        with NginxProxy(
            directory / "nginx", certificate, f"127.0.0.1:{hall.port}", PROXY_ADDRESS
        ) as proxy:
            yield Site(hall, proxy, world, db_path)
    finally:
        hall.stop()


@pytest.fixture(scope="module")
def trusted(tmp_path_factory: pytest.TempPathFactory, certificate: Certificate) -> Iterator[Site]:
    """The hall trusts nginx's address, as INZOOMEN_TRUSTED_PROXIES says in production."""
    yield from _site(tmp_path_factory.mktemp("trusted"), certificate, PROXY_ADDRESS)


@pytest.fixture(scope="module")
def untrusted(tmp_path_factory: pytest.TempPathFactory, certificate: Certificate) -> Iterator[Site]:
    """The same, with INZOOMEN_TRUSTED_PROXIES left at its default (127.0.0.1, ::1)."""
    yield from _site(tmp_path_factory.mktemp("untrusted"), certificate, None)


def _https() -> httpx.AsyncClient:
    return httpx.AsyncClient(verify=False, follow_redirects=False, timeout=10)


async def _page(contexts: list[BrowserContext], browser: Browser) -> Page:
    """A page in a browser of its own (cookies included) that accepts the test certificate
    and asks for Dutch."""
    context = await browser.new_context(ignore_https_errors=True, locale="nl-NL")
    contexts.append(context)
    return await context.new_page()


# -- through nginx, trusted ---------------------------------------------------------------


async def test_plain_http_is_sent_to_https(trusted: Site) -> None:
    async with _https() as client:
        response = await client.get(f"{trusted.proxy.http_url}/aanmelden?next=/")
    assert response.status_code == 301
    # The public HTTPS port is 443, so the address carries none.
    assert response.headers["location"] == "https://127.0.0.1/aanmelden?next=/"


@pytest.mark.browser
async def test_candidate_signs_in_and_the_hall_goes_live_over_wss(trusted: Site) -> None:
    proxy, world = trusted.proxy, trusted.world
    contexts: list[BrowserContext] = []
    async with chromium() as browser:
        candidate = await _page(contexts, browser)
        sockets: list[str] = []
        candidate.on("websocket", lambda socket: sockets.append(socket.url))

        response = await candidate.goto(f"{proxy.url}/aanmelden?next=/")
        assert response is not None and response.status == 200
        headers = await response.all_headers()
        assert headers["strict-transport-security"].startswith("max-age=")
        await candidate.get_by_label("Naam").fill("Sanne de Vries")
        await candidate.get_by_label("E-mailadres").fill("sanne@example.nl")
        await candidate.get_by_role("checkbox").check()
        await candidate.get_by_role("button", name="Aanmelden").click()
        await expect(candidate).to_have_url(f"{proxy.url}/")

        # The hall page's live connection opens over wss:// through nginx.
        live = candidate.get_by_test_id("live-status")
        await expect(live).to_have_attribute("data-state", "connected")
        assert sockets, "the page opened no WebSocket"
        assert all(url == proxy.ws_url for url in sockets), sockets

        # The session cookie only travels over HTTPS, and scripts cannot read it.
        cookies = {c["name"]: c for c in await contexts[0].cookies(proxy.url)}
        session = cookies["inzoomen_session"]
        assert session["secure"] is True
        assert session["httpOnly"] is True
        assert session["sameSite"] == "Lax"

        # An advisor logs in in another browser; the candidate's hall shows it live, pushed
        # through nginx over the open wss:// connection.
        badge = candidate.get_by_test_id(f"advisor-status-{world.advisor_a1}")
        await expect(badge).to_have_text(re.compile("Niet aanwezig"))
        advisor = await _page(contexts, browser)
        await advisor.goto(f"{proxy.url}/inloggen")
        await advisor.get_by_label("E-mailadres").fill("a1@test.example")
        await advisor.get_by_label("Wachtwoord").fill(PASSWORD)
        await advisor.get_by_role("button", name="Inloggen").click()
        await expect(advisor).to_have_url(f"{proxy.url}/adviseur")
        await expect(badge).to_have_text(re.compile("Beschikbaar"))
        await expect(live).to_have_attribute("data-state", "connected")

    access = "\n".join(proxy.access_lines())
    assert '"GET /ws HTTP/1.1" 101' in access
    # Every request reached the hall as the visitor's, not as nginx's (127.0.0.2).
    assert PROXY_ADDRESS not in trusted.hall.log()


def test_tls_with_forward_secrecy_and_aead_ciphers_only(trusted: Site) -> None:
    def handshake(maximum: ssl.TLSVersion, ciphers: str | None = None) -> tuple[str, str]:
        context = unverified_ssl_context()
        context.maximum_version = maximum
        if ciphers is not None:
            context.set_ciphers(ciphers)
        address = ("127.0.0.1", trusted.proxy.https_port)
        with (
            socket.create_connection(address, timeout=10) as raw,
            context.wrap_socket(raw) as tls,
        ):
            version, cipher = tls.version(), tls.cipher()
            assert version is not None and cipher is not None
            return version, cipher[0]

    assert handshake(ssl.TLSVersion.TLSv1_3)[0] == "TLSv1.3"
    version, cipher = handshake(ssl.TLSVersion.TLSv1_2)
    assert version == "TLSv1.2" and cipher.startswith("ECDHE-") and "GCM" in cipher
    # An old CBC cipher, which nginx's default list would still accept, is refused.
    with pytest.raises(ssl.SSLError, match="HANDSHAKE_FAILURE"):
        handshake(ssl.TLSVersion.TLSv1_2, "ECDHE-ECDSA-AES128-SHA")


async def test_hsts_on_every_response_and_the_visitor_address_cannot_be_forged(
    trusted: Site,
) -> None:
    proxy = trusted.proxy
    async with _https() as client:
        for path in ("/", "/aanmelden", "/static/css/base.css", "/healthz", "/bestaat-niet"):
            response = await client.get(f"{proxy.url}{path}")
            assert response.status_code in (200, 404), (path, response.status_code)
            assert response.headers["strict-transport-security"] == (
                "max-age=31536000; includeSubDomains"
            ), path
            assert response.headers["server"] == "nginx", "nginx tells no version"
        # A visitor cannot choose the address the hall counts them by: whatever
        # X-Forwarded-For they send, the hall sees the address nginx saw.
        marker = "forwarded-probe-7d1c"
        await client.get(f"{proxy.url}/?{marker}", headers={"X-Forwarded-For": "203.0.113.9"})
    line = next(line for line in trusted.hall.log().splitlines() if marker in line)
    assert "127.0.0.1" in line and "203.0.113.9" not in line, line


async def test_request_body_limit(trusted: Site) -> None:
    async with _https() as client:
        # A booth list of 1 MB (the hall's own limit) gets through to the hall ...
        fits = await client.post(
            f"{trusted.proxy.url}/inloggen",
            files={"file": ("stands.csv", b"x" * 1_000_000, "text/csv")},
        )
        # ... something far larger is turned away by nginx.
        too_large = await client.post(
            f"{trusted.proxy.url}/inloggen",
            files={"file": ("stands.csv", b"x" * 3_000_000, "text/csv")},
        )
    assert fits.status_code != 413
    assert fits.headers.get("content-security-policy"), "the hall answered"
    assert too_large.status_code == 413


async def test_the_hall_answers_its_own_host_name_only(trusted: Site) -> None:
    """nginx passes on whatever Host the visitor sent; the hall answers only its own, and
    its redirects name no host."""
    async with _https() as client:
        foreign = await client.get(
            f"{trusted.proxy.url}/privacy/", headers={"Host": "evil.example"}
        )
        own = await client.get(f"{trusted.proxy.url}/privacy/")
    assert foreign.status_code == 400
    assert "location" not in foreign.headers
    assert foreign.headers["strict-transport-security"].startswith("max-age=")
    assert own.status_code == 307
    assert own.headers["location"] == "/privacy"


async def test_websocket_origin_through_the_proxy(trusted: Site) -> None:
    proxy = trusted.proxy
    context = unverified_ssl_context()
    for origin in (FOREIGN_ORIGIN, f"http://127.0.0.1:{proxy.https_port}"):
        with pytest.raises(InvalidStatus) as refused:
            await connect(proxy.ws_url, origin=origin, ssl=context)  # type: ignore[arg-type]
        assert refused.value.response.status_code == 403, origin
        assert "strict-transport-security" in refused.value.response.headers
    # The page's own origin, https:// with the port the browser used, is let in.
    async with connect(
        proxy.ws_url,
        origin=proxy.url,  # type: ignore[arg-type]
        ssl=context,
        compression=None,
    ) as socket:
        welcome = json.loads(await asyncio.wait_for(socket.recv(), 10))
    assert welcome["event"] == "session.welcome"


# -- through nginx, not trusted -----------------------------------------------------------


@pytest.mark.browser
async def test_without_trusting_the_proxy_the_browser_cannot_go_live(untrusted: Site) -> None:
    proxy = untrusted.proxy
    contexts: list[BrowserContext] = []
    async with chromium() as browser:
        page = await _page(contexts, browser)
        response = await page.goto(f"{proxy.url}/")
        # The page itself loads over HTTPS ...
        assert response is not None and response.status == 200
        headers = await response.all_headers()
        # ... but the hall believes it is plain HTTP: no HSTS,
        assert "strict-transport-security" not in headers
        # and the browser's wss:// handshake (Origin https://...) is refused: the page keeps
        # trying to reconnect and never goes live.
        live = page.get_by_test_id("live-status")
        await expect(live).to_have_attribute("data-state", "reconnecting")
        assert await live.get_attribute("data-state") != "connected"
    access = "\n".join(proxy.access_lines())
    assert '"GET /ws HTTP/1.1" 403' in access
    assert '"GET /ws HTTP/1.1" 101' not in access
    # And the hall counts every visitor as nginx's own address.
    assert f"{PROXY_ADDRESS}:" in untrusted.hall.log()

    # The same handshake outside the browser: refused with 403, as the hall sees ws://.
    with pytest.raises(InvalidStatus) as refused:
        await connect(
            proxy.ws_url,
            origin=proxy.url,  # type: ignore[arg-type]
            ssl=unverified_ssl_context(),
        )
    assert refused.value.response.status_code == 403


# -- systemd units and the environment file -----------------------------------------------


def _unit_values(path: Path, key: str) -> list[str]:
    """Every value of ``key`` in a unit file (continuation lines are not used there)."""
    return [
        line.split("=", 1)[1].strip()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.startswith(f"{key}=")
    ]


def _environment_file(path: Path) -> dict[str, str]:
    """The assignments systemd's EnvironmentFile= reads from the file (comments skipped)."""
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, value = line.split("=", 1)
            assert not value.startswith(("'", '"')), "values are written without quotes"
            values[name.strip()] = value.strip()
    return values


def _exec_start(path: Path) -> list[str]:
    """ExecStart= split into words as systemd does, after its ``$$`` and ``%%`` escapes."""
    (raw,) = _unit_values(path, "ExecStart")
    return shlex.split(raw.replace("$$", "$").replace("%%", "%"))


def _config_variables() -> set[str]:
    source = (ROOT / "app" / "core" / "config.py").read_text(encoding="utf-8")
    return set(re.findall(r'"(INZOOMEN_[A-Z_]+)"', source))


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    venv = Path(sys.prefix)
    assert (venv / "bin" / "inzoomen").exists(), "the inzoomen command is not in this venv"
    units = ("inzoomen.service", "inzoomen-backup.service", "inzoomen-backup.timer")
    # verify checks that ExecStart's program exists: point it at this checkout's venv.
    for name in units:
        text = (DEPLOY / name).read_text(encoding="utf-8")
        assert name == "inzoomen-backup.timer" or INSTALLED_VENV in text, name
        (tmp_path / name).write_text(text.replace(INSTALLED_VENV, str(venv)), encoding="utf-8")

    def verify(*names: str) -> list[str]:
        result = subprocess.run(
            [analyze, "verify", "--man=no", *(str(tmp_path / n) for n in names)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        lines = (result.stdout + result.stderr).splitlines()
        # Complaints about our files name them; anything about the host's own units is not
        # ours to judge.
        ours = [line for line in lines if any(n in line for n in names)]
        if result.returncode != 0:
            ours.append(f"exit status {result.returncode}")
        return ours

    assert verify(*units) == []
    # The check itself sees a mistake: a misspelt setting is reported.
    broken = (tmp_path / "inzoomen.service").read_text().replace("Type=exec", "Tpye=exec")
    (tmp_path / "broken.service").write_text(broken, encoding="utf-8")
    assert any("Tpye" in line for line in verify("broken.service"))


def test_service_runs_serve_where_nginx_looks_for_it() -> None:
    service = DEPLOY / "inzoomen.service"
    command = _exec_start(service)
    assert command[0] == f"{INSTALLED_VENV}/bin/inzoomen"
    args = parser().parse_args(command[1:])
    assert args.command == "serve"
    # Only nginx on this machine reaches the hall, at the upstream address of nginx.conf.
    assert f"{args.host}:{args.port}" == UPSTREAM
    assert f"server {UPSTREAM};" in NGINX_CONF.read_text(encoding="utf-8")
    # The database lies in the service's state directory, the one path it may write.
    (state,) = _unit_values(service, "StateDirectory")
    database = _environment_file(DEPLOY / "inzoomen.env")["INZOOMEN_DB"]
    assert Path(database).parent == Path("/var/lib") / state
    assert _unit_values(service, "ReadWritePaths") == [f"/var/lib/{state}"]
    for unit in ("inzoomen.service", "inzoomen-backup.service"):
        assert _unit_values(DEPLOY / unit, "EnvironmentFile") == ["/etc/inzoomen/inzoomen.env"]
        assert _unit_values(DEPLOY / unit, "User") == ["inzoomen"]


def test_environment_file_is_a_production_configuration(tmp_path: Path) -> None:
    path = DEPLOY / "inzoomen.env"
    text = path.read_text(encoding="utf-8")
    named = set(re.findall(r"^#?([A-Z_]+)=", text, re.MULTILINE))
    known = _config_variables()
    assert named - known - {"WEB_CONCURRENCY"} == set(), "unknown settings in inzoomen.env"
    assert known - named == set(), "settings of app/core/config.py missing from inzoomen.env"

    # Every line, the examples uncommented too, reads the same in `sh` (as the README's
    # commands read it) as in systemd, which takes off one pair of double quotes.
    assignments = re.findall(r"^#?([A-Z_]+)=(.*)$", text, re.MULTILINE)
    uncommented = tmp_path / "all.env"
    uncommented.write_text("".join(f"{n}={v}\n" for n, v in assignments), encoding="utf-8")
    shell = subprocess.run(
        ["/bin/sh", "-c", 'set -a; . "$1"; exec /usr/bin/env -0', "sh", str(uncommented)],
        env={},
        capture_output=True,
        check=True,
    )
    read = dict(item.split("=", 1) for item in shell.stdout.decode().split("\0") if item)
    for name, value in assignments:
        quoted = len(value) > 1 and value[0] == value[-1] == '"'
        assert read.get(name) == (value[1:-1] if quoted else value), name

    env = _environment_file(path)
    # As shipped, without a secret key, the hall refuses to start.
    with pytest.raises(ConfigError, match="INZOOMEN_SECRET_KEY"):
        load_settings(env)
    settings = load_settings({**env, "INZOOMEN_SECRET_KEY": SECRET})
    assert settings.environment == "production"
    assert settings.https_only_cookies is True
    assert settings.trusted_proxies == ("127.0.0.1", "::1")
    assert settings.database_path == Path("/var/lib/inzoomen/inzoomen.db")
    # The hall answers for the name nginx serves.
    names = re.findall(r"server_name ([^;]+);", NGINX_CONF.read_text(encoding="utf-8"))
    assert set(settings.allowed_hosts) == {name for line in names for name in line.split()}


async def test_backup_unit_copies_the_live_database_and_keeps_the_newest(
    trusted: Site, tmp_path: Path
) -> None:
    unit = DEPLOY / "inzoomen-backup.service"
    command = [word.replace(INSTALLED_VENV, sys.prefix) for word in _exec_start(unit)]
    assert command[:2] == ["/bin/sh", "-c"]
    unit_env = dict(value.split("=", 1) for value in _unit_values(unit, "Environment"))
    assert int(unit_env["INZOOMEN_BACKUP_KEEP"]) >= 4 * 24, "a day of copies at 4 an hour"

    backups = tmp_path / "backups"
    backups.mkdir()
    # Copies from earlier runs (real ones: each is a copy of the hall's database).
    older = ["inzoomen-20200101-090000.db", "inzoomen-20200101-091500.db"]
    older += ["inzoomen-20200101-093000.db"]
    for name in older:
        shutil.copy(trusted.db_path, backups / name)
    env = {
        "PATH": os.environ["PATH"],
        **_environment_file(DEPLOY / "inzoomen.env"),
        **unit_env,
        "INZOOMEN_SECRET_KEY": SECRET,
        "INZOOMEN_DB": str(trusted.db_path),
        "INZOOMEN_BACKUP_DIR": str(backups),
        "INZOOMEN_BACKUP_KEEP": "3",
    }
    # While the hall runs and takes a request.
    async with _https() as client:
        assert (await client.get(f"{trusted.proxy.url}/healthz")).status_code == 200
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr

    kept = sorted(p.name for p in backups.iterdir())
    assert len(kept) == 3
    assert kept[:2] == older[1:], "the oldest copy is removed, the newer ones stay"
    new = backups / kept[2]
    assert re.fullmatch(r"inzoomen-\d{8}-\d{6}\.db", new.name)
    connection = sqlite3.connect(f"file:{new}?mode=ro", uri=True)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert connection.execute("SELECT count(*) FROM booths").fetchone() == (2,)
    finally:
        connection.close()
