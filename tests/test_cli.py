"""What operators meet in the ``inzoomen`` command: version, help, logging, workers, the
secret key against the listening address, and ``inzoomen check`` against real services."""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from app import cli, preflight
from app.core import logs
from app.core.config import DEFAULT_SECRET_KEY, load_settings
from app.storage.db import Database
from tests.livekit import ROOT, LiveServer, free_port
from tests.rediskit import RedisServer, unique_prefix

TEXT_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR|CRITICAL) "
)
GOOD_SECRET = secrets.token_urlsafe(48)


def inzoomen(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``inzoomen`` in its own process, with only the given environment (and PATH)."""
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **(env or {})},
    )


# --- version and help ----------------------------------------------------------------------


def test_version_names_the_installed_release() -> None:
    result = inzoomen("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"inzoomen {metadata.version('inzoomen')}\n"


def _commands() -> dict[str, argparse.ArgumentParser]:
    top = cli.parser()
    (sub,) = [a for a in top._actions if isinstance(a, argparse._SubParsersAction)]
    helps = {choice.dest: choice.help for choice in sub._choices_actions}
    assert set(helps) == set(sub.choices)
    assert all(helps.values()), helps
    return dict(sub.choices)


def test_every_command_and_option_says_what_it_does() -> None:
    commands = _commands()
    assert {"serve", "check", "migrate", "create-user", "retention", "backup"} <= set(commands)
    for name, command in commands.items():
        assert command.description, name
        for action in command._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help and action.help != argparse.SUPPRESS, (name, action.dest)
    serve = {a.dest: a.help or "" for a in commands["serve"]._actions}
    for option in ("host", "port", "db", "demo", "workers"):
        assert "default" in serve[option], option
    assert "$PORT" in serve["port"] and "8000" in serve["port"]
    assert "$INZOOMEN_DB" in serve["db"] and "inzoomen.db" in serve["db"]
    assert "$WEB_CONCURRENCY" in serve["workers"] and "INZOOMEN_REDIS_URL" in serve["workers"]


def test_serve_help_is_printed_with_defaults_and_variables() -> None:
    result = inzoomen("serve", "--help")
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    for word in ("--host", "--port", "--db", "--demo", "--workers", "$PORT", "$WEB_CONCURRENCY"):
        assert word in text
    assert "INZOOMEN_SECRET_KEY" in text and "INZOOMEN_LOG_LEVEL" in text


# --- logging -------------------------------------------------------------------------------


def _json_lines(log: str) -> list[dict[str, Any]]:
    entries = []
    for line in log.splitlines():
        entry = json.loads(line)  # every line, not only most of them
        assert isinstance(entry, dict)
        assert {"time", "level", "logger", "message"} <= set(entry), line
        moment = datetime.fromisoformat(entry["time"])
        assert moment.utcoffset() == timedelta(0), line
        entries.append(entry)
    return entries


def test_warning_level_quiets_every_logger_and_web_concurrency_falls_back(
    tmp_path: Path,
) -> None:
    server = LiveServer(
        tmp_path / "hall.db",
        tmp_path / "server.log",
        env={
            "INZOOMEN_LOG_LEVEL": "warning",
            "WEB_CONCURRENCY": "3",
            "INZOOMEN_REDIS_URL": "",
            "INZOOMEN_LOG_FORMAT": "",
        },
    )
    server.start()
    try:
        assert httpx.get(f"{server.url}/nergens").status_code == 404
        assert httpx.get(f"{server.url}/").status_code == 200
    finally:
        server.stop()
    lines = server.log().splitlines()
    assert lines, "the fallback to one worker is logged"
    for line in lines:
        assert TEXT_LINE.match(line), line
        assert " INFO " not in line and " DEBUG " not in line, line
    (warning,) = [line for line in lines if "WEB_CONCURRENCY" in line]
    assert " WARNING inzoomen " in warning and "Redis" in warning and "one worker" in warning


def test_json_format_gives_one_object_per_line_from_every_logger(tmp_path: Path) -> None:
    server = LiveServer(
        tmp_path / "hall.db",
        tmp_path / "server.log",
        env={"INZOOMEN_LOG_FORMAT": "json", "INZOOMEN_LOG_LEVEL": "info"},
    )
    server.start()
    try:
        assert httpx.get(f"{server.url}/nergens").status_code == 404
        # An invitation link is a credential; the access log's fields leave it out too.
        httpx.get(f"{server.url}/uitnodiging/geheim-token-123")
    finally:
        server.stop()
    assert "geheim-token-123" not in server.log()
    entries = _json_lines(server.log())
    loggers = {entry["logger"] for entry in entries}
    assert {"inzoomen", "uvicorn.error", "uvicorn.access"} <= loggers
    (access,) = [e for e in entries if e["logger"] == "uvicorn.access" and e["path"] == "/nergens"]
    assert access["status"] == 404 and access["method"] == "GET" and access["level"] == "INFO"


def test_json_format_holds_in_every_worker_process(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    server = LiveServer(
        tmp_path / "hall.db",
        tmp_path / "server.log",
        env={
            "INZOOMEN_LOG_FORMAT": "json",
            "INZOOMEN_LOG_LEVEL": "info",
            "INZOOMEN_REDIS_URL": redis_server.url,
            "INZOOMEN_REDIS_PREFIX": unique_prefix("json-workers"),
        },
        args=("--workers", "2"),
    )
    server.start()
    try:
        for _ in range(4):
            assert httpx.get(f"{server.url}/healthz").status_code == 200
    finally:
        server.stop()
    entries = _json_lines(server.log())
    started = {e["message"] for e in entries if e["message"].startswith("Started server process")}
    assert len(started) == 2, started  # both workers log through the same configuration
    assert any(e["message"].startswith("Started parent process") for e in entries)


def test_json_lines_carry_the_exception_text() -> None:
    formatter = logs.JsonFormatter()
    logger = logging.getLogger("inzoomen.test")
    try:
        raise RuntimeError("de zaal is vol")
    except RuntimeError:
        record = logger.makeRecord(
            logger.name, logging.ERROR, __file__, 1, "mislukt: %s", ("x",), sys.exc_info()
        )
    entry = json.loads(formatter.format(record))
    assert entry["message"] == "mislukt: x" and entry["level"] == "ERROR"
    assert "RuntimeError: de zaal is vol" in entry["exception"]
    assert "Traceback" in entry["exception"]


def test_one_configuration_sets_every_logger() -> None:
    config = logs.log_config("warning", "json")
    assert config["root"]["level"] == "WARNING"
    for name in ("inzoomen", "uvicorn", "uvicorn.error", "uvicorn.access"):
        assert config["loggers"][name]["level"] == "WARNING"
        assert config["loggers"][name]["propagate"] is True
    assert config["disable_existing_loggers"] is False
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.TextFormatter())
    record = logging.LogRecord("uvicorn.error", logging.WARNING, __file__, 1, "hallo", (), None)
    assert TEXT_LINE.match(handler.format(record))
    with pytest.raises(ValueError, match="log level"):
        logs.log_config("loud", "text")


def test_bad_log_setting_is_refused_clearly(tmp_path: Path) -> None:
    result = inzoomen("serve", "--db", str(tmp_path / "x.db"), env={"INZOOMEN_LOG_FORMAT": "xml"})
    assert result.returncode == 2 and "INZOOMEN_LOG_FORMAT" in result.stderr
    assert not (tmp_path / "x.db").exists()


# --- workers and the secret key --------------------------------------------------------------


def test_explicit_workers_without_redis_is_an_error(tmp_path: Path) -> None:
    result = inzoomen("serve", "--db", str(tmp_path / "x.db"), "--workers", "2")
    assert result.returncode == 2
    assert "--workers 2" in result.stderr and "INZOOMEN_REDIS_URL" in result.stderr
    assert not (tmp_path / "x.db").exists()


def test_unreadable_web_concurrency_is_refused_clearly(tmp_path: Path) -> None:
    result = inzoomen("serve", "--db", str(tmp_path / "x.db"), env={"WEB_CONCURRENCY": "veel"})
    assert result.returncode == 2 and "WEB_CONCURRENCY" in result.stderr


@pytest.mark.parametrize(
    ("environment", "host"),
    [
        ("development", "0.0.0.0"),
        ("demo", "0.0.0.0"),
        ("demo", "::"),
        ("development", "hal.example.nl"),
        ("production", "192.0.2.10"),
    ],
)
def test_default_secret_is_refused_off_loopback(
    tmp_path: Path, environment: str, host: str
) -> None:
    db_path = tmp_path / "x.db"
    for extra in ((), ("--demo",)):
        result = inzoomen(
            "serve",
            "--host",
            host,
            "--port",
            str(free_port()),
            "--db",
            str(db_path),
            *extra,
            env={"INZOOMEN_ENV": environment},
        )
        assert result.returncode == 2, result.stderr
        assert "INZOOMEN_SECRET_KEY" in result.stderr
        assert "Traceback" not in result.stderr
        assert not db_path.exists()  # refused before anything was created


def test_serving_off_loopback_without_host_names_is_refused_clearly(tmp_path: Path) -> None:
    db_path = tmp_path / "x.db"
    env = {"INZOOMEN_ENV": "demo", "INZOOMEN_SECRET_KEY": GOOD_SECRET}
    result = inzoomen(
        "serve", "--host", "0.0.0.0", "--port", str(free_port()), "--db", str(db_path), env=env
    )
    assert result.returncode == 2, result.stderr
    assert "INZOOMEN_ALLOWED_HOSTS" in result.stderr and "192.168.1.20" in result.stderr
    assert "Traceback" not in result.stderr
    assert not db_path.exists()
    settings = load_settings({**env, "INZOOMEN_DB": str(db_path)})
    assert preflight.host_names_refusal(settings, "127.0.0.1") is None
    named = settings.with_overrides(allowed_hosts=("192.168.1.20",))
    assert preflight.host_names_refusal(named, "0.0.0.0") is None
    check = preflight.check_allowed_hosts(settings, "0.0.0.0")
    assert check.status == preflight.PROBLEM and "INZOOMEN_ALLOWED_HOSTS" in check.message
    assert preflight.check_allowed_hosts(named, "0.0.0.0").status == preflight.OK


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.1", False),
        ("example.nl", False),
        ("localhost.example.nl", False),
    ],
)
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert preflight.is_loopback(host) is loopback
    refusal = preflight.default_secret_refusal(DEFAULT_SECRET_KEY, host)
    assert (refusal is None) is loopback
    assert preflight.default_secret_refusal(GOOD_SECRET, host) is None


def test_demo_on_loopback_keeps_the_default_secret(tmp_path: Path) -> None:
    server = LiveServer(
        tmp_path / "demo.db",
        tmp_path / "server.log",
        env={"INZOOMEN_ENV": "demo", "INZOOMEN_SECRET_KEY": DEFAULT_SECRET_KEY},
        args=("--host", "localhost", "--demo"),
    )
    server.start(timeout=60)
    try:
        assert httpx.get(f"{server.url}/").status_code == 200
    finally:
        server.stop()
    assert "password for every demo account" in server.log()


# --- inzoomen check --------------------------------------------------------------------------


class Inbox:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


def _password_check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        b"beurs",
        b"geheim-wachtwoord",
    )
    # handled=False: aiosmtpd answers a refusal with 535 itself.
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_port() -> Iterator[int]:
    """A real SMTP server (aiosmtpd) on loopback, plain, with AUTH for one user."""
    port = free_port()
    controller = Controller(
        Inbox(),
        hostname="127.0.0.1",
        port=port,
        authenticator=_password_check,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


async def _migrated(path: Path) -> Path:
    db = await Database.open(path)
    await db.close()
    return path


def _by_name(results: list[preflight.Check]) -> dict[str, preflight.Check]:
    found = {r.name: r for r in results}
    assert len(found) == len(results)
    return found


def _good_env(redis_url: str, smtp_port: int) -> dict[str, str]:
    return {
        "INZOOMEN_ENV": "production",
        "INZOOMEN_SECRET_KEY": GOOD_SECRET,
        "INZOOMEN_HTTPS_ONLY": "true",
        "INZOOMEN_ALLOWED_ORIGINS": "https://hal.example.nl",
        "INZOOMEN_ALLOWED_HOSTS": "hal.example.nl",
        "INZOOMEN_TRUSTED_PROXIES": "10.0.0.5,127.0.0.1",
        "INZOOMEN_REDIS_URL": redis_url,
        "INZOOMEN_SMTP_HOST": "127.0.0.1",
        "INZOOMEN_SMTP_PORT": str(smtp_port),
        "INZOOMEN_SMTP_STARTTLS": "false",
        "INZOOMEN_SMTP_USERNAME": "beurs",
        "INZOOMEN_SMTP_PASSWORD": "geheim-wachtwoord",
        "INZOOMEN_TURN_URLS": "turn:127.0.0.1:3478?transport=udp,turns:localhost:5349",
        "INZOOMEN_TURN_SECRET": secrets.token_urlsafe(32),
    }


async def test_check_passes_a_good_configuration_with_real_services(
    tmp_path: Path, redis_server: RedisServer, smtp_port: int
) -> None:
    db_path = await _migrated(tmp_path / "hall.db")
    env = _good_env(redis_server.url, smtp_port)
    results = await preflight.run_checks(env, "0.0.0.0", db_path)
    found = _by_name(results)
    assert [r for r in results if r.status != preflight.OK] == []
    assert {
        "secret key",
        "settings",
        "environment",
        "trusted proxies",
        "allowed origins",
        "allowed hosts",
        "https",
        "database",
        "redis",
        "smtp",
        "turn",
    } == set(found)
    assert "answers PING" in found["redis"].message
    assert "logged in as beurs" in found["smtp"].message
    assert "up to date" in found["database"].message
    # The command prints one line per check and ends well.
    result = inzoomen("check", "--host", "0.0.0.0", "--db", str(db_path), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(results) + 1
    assert all(line.startswith("ok ") for line in lines[:-1]), lines
    assert GOOD_SECRET not in result.stdout  # secrets are never printed


async def test_check_reports_unreachable_redis_and_smtp(tmp_path: Path) -> None:
    db_path = await _migrated(tmp_path / "hall.db")
    closed = free_port()
    env = {
        **_good_env(f"redis://:redis-wachtwoord@127.0.0.1:{closed}/0", closed),
        "INZOOMEN_SMTP_USERNAME": "",
        "INZOOMEN_SMTP_PASSWORD": "",
    }
    found = _by_name(await preflight.run_checks(env, "0.0.0.0", db_path))
    assert found["redis"].status == preflight.PROBLEM
    assert "PING" in found["redis"].message and "INZOOMEN_REDIS_URL" in found["redis"].message
    assert "redis-wachtwoord" not in found["redis"].message
    assert found["smtp"].status == preflight.PROBLEM
    assert "connect failed" in found["smtp"].message
    assert "INZOOMEN_SMTP_HOST" in found["smtp"].message
    result = inzoomen("check", "--db", str(db_path), env=env)
    assert result.returncode == 1
    assert re.search(r"^problem +redis: ", result.stdout, re.MULTILINE)
    assert re.search(r"^problem +smtp: ", result.stdout, re.MULTILINE)


async def test_check_smtp_login_and_starttls(smtp_port: int) -> None:
    base = {"INZOOMEN_SMTP_HOST": "127.0.0.1", "INZOOMEN_SMTP_PORT": str(smtp_port)}
    plain = {**base, "INZOOMEN_SMTP_STARTTLS": "false"}
    settings, _ = preflight.load(plain)
    assert settings is not None
    ok = await preflight.check_smtp(settings)
    assert ok.status == preflight.OK and "plain" in ok.message
    # STARTTLS is the default; this server does not offer it.
    settings, _ = preflight.load(base)
    assert settings is not None
    starttls = await preflight.check_smtp(settings)
    assert starttls.status == preflight.PROBLEM
    assert "INZOOMEN_SMTP_STARTTLS=false" in starttls.message
    wrong = {**plain, "INZOOMEN_SMTP_USERNAME": "beurs", "INZOOMEN_SMTP_PASSWORD": "fout"}
    settings, _ = preflight.load(wrong)
    assert settings is not None
    refused = await preflight.check_smtp(settings)
    assert refused.status == preflight.PROBLEM and "login as beurs" in refused.message
    assert "INZOOMEN_SMTP_PASSWORD" in refused.message and "fout" not in refused.message


async def test_check_redis_really_pings(redis_server: RedisServer) -> None:
    settings, _ = preflight.load({"INZOOMEN_REDIS_URL": redis_server.url})
    assert settings is not None
    assert (await preflight.check_redis(settings, {})).status == preflight.OK
    settings, _ = preflight.load({"INZOOMEN_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    assert settings is not None
    assert (await preflight.check_redis(settings, {})).status == preflight.PROBLEM
    settings, _ = preflight.load({"INZOOMEN_REDIS_URL": "redis://127.0.0.1:poort/0"})
    assert settings is not None
    unreadable = await preflight.check_redis(settings, {})
    assert unreadable.status == preflight.PROBLEM and "INZOOMEN_REDIS_URL" in unreadable.message
    # Without Redis, a WEB_CONCURRENCY above 1 is a warning: serve runs one worker.
    settings, _ = preflight.load({})
    assert settings is not None
    fallback = await preflight.check_redis(settings, {"WEB_CONCURRENCY": "4"})
    assert fallback.status == preflight.WARNING and "one worker" in fallback.message


async def test_check_database_states(tmp_path: Path) -> None:
    missing_folder = preflight.check_database(tmp_path / "nope" / "hall.db")
    assert missing_folder.status == preflight.PROBLEM and "does not exist" in missing_folder.message
    assert not (tmp_path / "nope").exists()

    new = preflight.check_database(tmp_path / "new.db")
    assert new.status == preflight.OK and "does not exist yet" in new.message
    assert not (tmp_path / "new.db").exists()  # checking creates nothing

    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"dit is geen database" * 100)
    result = preflight.check_database(garbage)
    assert result.status == preflight.PROBLEM and "SQLite" in result.message
    assert garbage.read_bytes() == b"dit is geen database" * 100

    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as connection:
        connection.execute("CREATE TABLE iets (x)")
    connection.close()
    assert "not an Inzoomen" in preflight.check_database(foreign).message

    old = tmp_path / "old.db"
    with sqlite3.connect(old) as connection:
        connection.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY)")
        connection.execute("INSERT INTO schema_migrations VALUES (1)")
    connection.close()
    pending = preflight.check_database(old)
    assert pending.status == preflight.WARNING and "inzoomen migrate" in pending.message
    with sqlite3.connect(old) as connection:
        assert connection.execute("SELECT COUNT(*) FROM schema_migrations").fetchone() == (1,)
    connection.close()

    current = await _migrated(tmp_path / "current.db")
    assert preflight.check_database(current).status == preflight.OK
    with sqlite3.connect(current) as connection:
        connection.execute("INSERT INTO schema_migrations (version) VALUES (9999)")
    connection.close()
    newer = preflight.check_database(current)
    assert newer.status == preflight.PROBLEM and "9999" in newer.message


def test_check_database_in_a_read_only_folder() -> None:
    folder = Path(tempfile.mkdtemp(prefix="inzoomen-ro-"))
    try:
        folder.chmod(0o555)
        command = [sys.executable, "-m", "app", "check", "--db", str(folder / "hall.db")]
        if os.geteuid() == 0:
            # root writes anywhere; without these capabilities it obeys the folder's mode.
            setpriv = shutil.which("setpriv")
            if setpriv is None:
                pytest.skip("running as root without setpriv to give up root's file rights")
            command = [
                setpriv,
                "--bounding-set=-dac_override,-dac_read_search,-fowner",
                *command,
            ]
        result = subprocess.run(
            command,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        )
        assert result.returncode == 1, result.stdout + result.stderr
        (line,) = [line for line in result.stdout.splitlines() if "database:" in line]
        assert line.startswith("problem") and "not writable" in line, line
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize(
    ("env", "host", "status", "words"),
    [
        ({}, "127.0.0.1", preflight.WARNING, "demo"),
        ({}, "0.0.0.0", preflight.PROBLEM, "INZOOMEN_SECRET_KEY"),
        (
            {"INZOOMEN_ENV": "production", "INZOOMEN_ALLOWED_HOSTS": "hal.example.nl"},
            "127.0.0.1",
            preflight.PROBLEM,
            "production",
        ),
        ({"INZOOMEN_SECRET_KEY": "kort"}, "127.0.0.1", preflight.PROBLEM, "at least 16"),
        ({"INZOOMEN_SECRET_KEY": "x" * 40}, "0.0.0.0", preflight.WARNING, "easy to guess"),
        ({"INZOOMEN_SECRET_KEY": GOOD_SECRET[:20]}, "0.0.0.0", preflight.WARNING, "guess"),
        ({"INZOOMEN_SECRET_KEY": GOOD_SECRET}, "0.0.0.0", preflight.OK, "characters"),
    ],
)
async def test_check_secret_key(
    tmp_path: Path, env: dict[str, str], host: str, status: str, words: str
) -> None:
    env = {**env, "INZOOMEN_DB": str(tmp_path / "hall.db")}
    found = _by_name(await preflight.run_checks(env, host))
    assert found["secret key"].status == status
    assert words in found["secret key"].message
    # The other checks still run: a bad secret does not hide the rest.
    assert found["settings"].status == preflight.OK and "database" in found


async def test_check_proxies_origins_and_https(tmp_path: Path) -> None:
    base = {
        "INZOOMEN_ENV": "production",
        "INZOOMEN_SECRET_KEY": GOOD_SECRET,
        "INZOOMEN_ALLOWED_HOSTS": "hal.example.nl",
        "INZOOMEN_DB": str(tmp_path / "hall.db"),
    }
    found = _by_name(
        await preflight.run_checks(
            {
                **base,
                "INZOOMEN_TRUSTED_PROXIES": "*",
                "INZOOMEN_ALLOWED_ORIGINS": "https://hal.example.nl/beurs",
            },
            "0.0.0.0",
        )
    )
    assert found["trusted proxies"].status == preflight.WARNING
    assert "X-Forwarded-For" in found["trusted proxies"].message
    assert found["allowed origins"].status == preflight.PROBLEM
    assert "'https://hal.example.nl/beurs'" in found["allowed origins"].message
    assert found["https"].status == preflight.WARNING
    assert "INZOOMEN_HTTPS_ONLY=true" in found["https"].message
    found = _by_name(
        await preflight.run_checks(
            {
                **base,
                "INZOOMEN_TRUSTED_PROXIES": "0.0.0.0/0",
                "INZOOMEN_ALLOWED_ORIGINS": "http://hal.example.nl",
                "INZOOMEN_HTTPS_ONLY": "true",
            },
            "0.0.0.0",
        )
    )
    assert found["trusted proxies"].status == preflight.WARNING
    assert found["allowed origins"].status == preflight.WARNING
    assert found["https"].status == preflight.OK
    development = _by_name(
        await preflight.run_checks({"INZOOMEN_DB": str(tmp_path / "hall.db")}, "0.0.0.0")
    )
    assert development["environment"].status == preflight.WARNING
    assert "INZOOMEN_ENV=production" in development["environment"].message


async def test_check_turn_hosts_resolve() -> None:
    settings, _ = preflight.load(
        {
            "INZOOMEN_TURN_URLS": "turn:127.0.0.1:3478,turn:turn.inzoomen.invalid:3478",
            "INZOOMEN_TURN_USERNAME": "beurs",
            "INZOOMEN_TURN_PASSWORD": "geheim",
        }
    )
    assert settings is not None
    result = await preflight.check_turn(settings)
    assert result.status == preflight.PROBLEM
    assert "turn.inzoomen.invalid" in result.message and "INZOOMEN_TURN_URLS" in result.message
    settings, _ = preflight.load(
        {"INZOOMEN_TURN_URLS": "turn:[::1]:3478", "INZOOMEN_TURN_SECRET": "kort"}
    )
    assert settings is not None
    short = await preflight.check_turn(settings)
    assert short.status == preflight.WARNING and "INZOOMEN_TURN_SECRET" in short.message
    assert preflight.ice_host("turns:turn.example.nl:5349?transport=tcp") == "turn.example.nl"
    assert preflight.ice_host("turn:[2001:db8::1]:3478") == "2001:db8::1"
    assert preflight.ice_host("stun:stun.example.nl") == "stun.example.nl"


async def test_check_reports_unreadable_settings_and_stops(tmp_path: Path) -> None:
    results = await preflight.run_checks({"INZOOMEN_WS_MAX_BYTES": "veel"}, "127.0.0.1")
    found = _by_name(results)
    assert set(found) == {"secret key", "settings"}
    assert found["settings"].status == preflight.PROBLEM
    assert "INZOOMEN_WS_MAX_BYTES" in found["settings"].message
    result = inzoomen("check", env={"INZOOMEN_WS_MAX_BYTES": "veel"})
    assert result.returncode == 1 and "INZOOMEN_WS_MAX_BYTES" in result.stdout
