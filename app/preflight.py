"""What ``inzoomen check`` looks at: a configuration judged before the event, not during it.

A wrong secret, an unreachable Redis or a mail server that refuses the login shows up on the
morning of the event otherwise, with hundreds of candidates waiting. Each check here is a
plain function that returns a ``Check`` (ok, warning or problem, with the reason and what to
set); the command prints them, and ``serve`` uses the rule about the secret key and the
listening address. Checks of outside services really talk to them (PING, EHLO, DNS).
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from app.core.config import DEFAULT_SECRET_KEY, ConfigError, Settings, load_settings, redact
from app.storage.db import POSTGRESQL, Database, backend_of, migrations, sqlite_path

OK = "ok"
WARNING = "warning"
PROBLEM = "problem"
MIN_SECRET_LENGTH = 16
GOOD_SECRET_LENGTH = 32
NETWORK_TIMEOUT_SECONDS = 10.0
SECRET_HINT = (
    "set INZOOMEN_SECRET_KEY to a long random value, e.g. the output of "
    "`python3 -c 'import secrets; print(secrets.token_urlsafe(48))'`"
)
# Stands in for the secret key while the other settings are read: the secret has a check of
# its own, and a bad one should not hide what is wrong elsewhere.
_STAND_IN_SECRET = "preflight-stand-in-secret-key-0123456789"


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, the verdict, and why (with what to set)."""

    name: str
    status: str
    message: str


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine (127.0.0.0/8, ::1,
    localhost). Any other name or address, including 0.0.0.0 and ::, is reachable from
    outside."""
    host = host.strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def default_secret_refusal(secret_key: str, host: str) -> str | None:
    """Why the server must not listen on ``host`` with this secret key, or None when it may.

    The default key is public (it is in the source), so anyone could sign a session cookie
    with it; it is only acceptable while nobody but this machine can connect."""
    if secret_key != DEFAULT_SECRET_KEY or is_loopback(host):
        return None
    return (
        f"refusing to listen on {host} with the default secret key: anyone could forge a "
        f"session with it; {SECRET_HINT} (the default only works on 127.0.0.1 or localhost)"
    )


def host_names_refusal(settings: Settings, host: str) -> str | None:
    """Why the server must not listen on ``host`` without naming its host names, or None.

    A hall that listens beyond this machine is reached by a name or address this machine
    cannot guess (``192.168.1.20`` at a fair's own network, ``hal.example.nl`` behind a
    proxy); without it the hall would answer only to loopback names and every visitor would
    get a 400."""
    if is_loopback(host) or settings.allowed_hosts or settings.allowed_origins:
        return None
    return (
        f"listening on {host}, the hall answers only the host names in "
        "INZOOMEN_ALLOWED_HOSTS: set it to every name or address visitors use, "
        "comma-separated (e.g. 192.168.1.20 or hal.example.nl)"
    )


def check_secret_key(env: Mapping[str, str], host: str) -> Check:
    name = "secret key"
    key = env.get("INZOOMEN_SECRET_KEY", DEFAULT_SECRET_KEY)
    environment = env.get("INZOOMEN_ENV", "development")
    if key == DEFAULT_SECRET_KEY:
        if environment == "production":
            return Check(name, PROBLEM, f"production refuses the default key; {SECRET_HINT}")
        refusal = default_secret_refusal(key, host)
        if refusal is not None:
            return Check(name, PROBLEM, refusal)
        return Check(
            name,
            WARNING,
            f"the default key: fine for a demo on {host} only; {SECRET_HINT} before others connect",
        )
    if len(key) < MIN_SECRET_LENGTH:
        return Check(
            name,
            PROBLEM,
            f"INZOOMEN_SECRET_KEY has {len(key)} characters, it needs at least "
            f"{MIN_SECRET_LENGTH}; {SECRET_HINT}",
        )
    if len(key) < GOOD_SECRET_LENGTH or len(set(key)) < 8:
        return Check(
            name,
            WARNING,
            f"INZOOMEN_SECRET_KEY ({len(key)} characters) is easy to guess; use at least "
            f"{GOOD_SECRET_LENGTH} random characters: {SECRET_HINT}",
        )
    return Check(name, OK, f"set ({len(key)} characters)")


def load(
    env: Mapping[str, str], database_path: Path | None = None
) -> tuple[Settings | None, Check]:
    """The settings from ``env`` (with the database file replaced when given), or None and
    the reason they cannot be read."""
    trial = {**env, "INZOOMEN_SECRET_KEY": _STAND_IN_SECRET}
    try:
        settings = load_settings(trial)
    except ConfigError as error:
        return None, Check("settings", PROBLEM, str(error))
    if database_path is not None:
        settings = settings.with_overrides(database_path=database_path)
    return settings, Check(
        "settings", OK, f"every value is readable (INZOOMEN_ENV={settings.environment})"
    )


def check_environment(settings: Settings, host: str) -> Check:
    name = "environment"
    if settings.environment == "production":
        return Check(name, OK, "production")
    if is_loopback(host):
        return Check(name, OK, f"{settings.environment}, on this machine only ({host})")
    return Check(
        name,
        WARNING,
        f"INZOOMEN_ENV={settings.environment} while listening on {host}: set "
        "INZOOMEN_ENV=production for an event others use",
    )


def check_trusted_proxies(settings: Settings) -> Check:
    name = "trusted proxies"
    proxies = settings.trusted_proxies
    everyone = [
        p for p in proxies if p == "*" or ipaddress.ip_network(p, strict=False).prefixlen == 0
    ]
    if everyone:
        return Check(
            name,
            WARNING,
            f"INZOOMEN_TRUSTED_PROXIES contains {everyone[0]}: X-Forwarded-For and "
            "X-Forwarded-Proto are believed from any address, so anyone who reaches the "
            "server directly can pose as another address or as https; list only your "
            "reverse proxies' addresses unless nothing else can reach the server",
        )
    if proxies == Settings.trusted_proxies:
        return Check(
            name,
            OK,
            "127.0.0.1, ::1 (a reverse proxy on this machine); a proxy elsewhere needs its "
            "address in INZOOMEN_TRUSTED_PROXIES",
        )
    return Check(name, OK, ", ".join(proxies))


def check_allowed_origins(settings: Settings) -> Check:
    name = "allowed origins"
    origins = settings.allowed_origins
    if not origins:
        return Check(
            name,
            OK,
            "none set: a WebSocket must come from the address the browser used (right for "
            "one site under one name)",
        )
    for origin in origins:
        parts = urlsplit(origin)
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.path
            or parts.query
            or parts.fragment
            or parts.username is not None
        ):
            return Check(
                name,
                PROBLEM,
                "INZOOMEN_ALLOWED_ORIGINS holds origins like https://hal.example.nl (scheme "
                f"and host, optionally a port; no path), got {origin!r}",
            )
    plain = [o for o in origins if o.startswith("http://")]
    if plain and settings.environment == "production":
        return Check(
            name,
            WARNING,
            f"{plain[0]} is plain http in production; list the https address in "
            "INZOOMEN_ALLOWED_ORIGINS",
        )
    return Check(name, OK, ", ".join(origins))


def check_allowed_hosts(settings: Settings, host: str) -> Check:
    name = "allowed hosts"
    refusal = host_names_refusal(settings, host)
    if refusal is not None:
        return Check(name, PROBLEM, refusal)
    if not settings.allowed_hosts:
        return Check(
            name,
            OK,
            "none set: the hall answers "
            + ", ".join(settings.hosts)
            + " (this machine"
            + (" and the allowed origins)" if settings.allowed_origins else ")"),
        )
    return Check(name, OK, ", ".join(settings.allowed_hosts))


def check_https(settings: Settings) -> Check:
    name = "https"
    if settings.https_only_cookies:
        return Check(name, OK, "INZOOMEN_HTTPS_ONLY is on: cookies only travel over https")
    if settings.environment == "production":
        return Check(
            name,
            WARNING,
            "INZOOMEN_HTTPS_ONLY is off in production: session cookies may travel over plain "
            "http; set INZOOMEN_HTTPS_ONLY=true when the hall is served over https",
        )
    return Check(name, OK, f"INZOOMEN_HTTPS_ONLY is off ({settings.environment})")


def check_database(path: Path) -> Check:
    """The database file: its folder exists and is writable (SQLite writes its journal next
    to the file), the file opens as SQLite, and its migrations match this release. Nothing
    is created or changed."""
    name = "database"
    where = path if path.is_absolute() else Path.cwd() / path
    folder = where.parent
    hint = "set INZOOMEN_DB (or --db) to a file in a writable folder"
    try:
        exists = folder.is_dir()
    except OSError as error:  # a folder on the way may not be searchable
        return Check(name, PROBLEM, f"the folder {folder} cannot be reached ({error}); {hint}")
    if not exists:
        return Check(name, PROBLEM, f"the folder {folder} does not exist; create it or {hint}")
    if not os.access(folder, os.W_OK | os.X_OK):
        return Check(
            name,
            PROBLEM,
            f"the folder {folder} is not writable for this user; SQLite writes its journal "
            f"files next to the database; {hint}",
        )
    if not where.exists():
        return Check(
            name,
            OK,
            f"{path} does not exist yet; `inzoomen serve` or `inzoomen migrate` creates it",
        )
    if not where.is_file():
        return Check(name, PROBLEM, f"{path} is not a file; {hint}")
    if not os.access(where, os.R_OK | os.W_OK):
        return Check(name, PROBLEM, f"{path} is not readable and writable for this user")
    try:
        # mode=rw: open what is there, never create an empty file by mistake.
        connection = sqlite3.connect(f"{where.as_uri()}?mode=rw", uri=True, timeout=5)
        try:
            tables = {
                row[0]
                for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            applied = (
                {row[0] for row in connection.execute("SELECT version FROM schema_migrations")}
                if "schema_migrations" in tables
                else set()
            )
        finally:
            connection.close()
    except sqlite3.Error as error:
        return Check(name, PROBLEM, f"{path} does not open as an SQLite database: {error}")
    if tables and "schema_migrations" not in tables:
        return Check(
            name, PROBLEM, f"{path} is an SQLite database, but not an Inzoomen one; {hint}"
        )
    known = {version for version, _ in migrations()}
    newer = sorted(applied - known)
    if newer:
        return Check(
            name,
            PROBLEM,
            f"{path} has migrations this release does not know ({', '.join(map(str, newer))}): "
            "a newer release used it; run that release or restore a backup",
        )
    pending = sorted(known - applied)
    if pending:
        return Check(
            name,
            WARNING,
            f"{path}: {len(pending)} of {len(known)} migrations not applied yet "
            f"({', '.join(map(str, pending))}); `inzoomen serve` applies them at start, or run "
            "`inzoomen migrate` now",
        )
    return Check(name, OK, f"{path}: opens, writable, up to date (migration {max(known)})")


# Text sorts in byte order under these, as on SQLite (``ORDER BY name`` of booths, say).
_BYTE_ORDER_COLLATIONS = {"C", "POSIX", "C.UTF-8", "C.utf8"}


async def check_database_server(url: str) -> Check:
    """A PostgreSQL database: it answers, its migrations match this release, commits are
    durable (fsync and synchronous_commit on) and its text order is SQLite's. Nothing is
    changed."""
    name = "database"
    where = redact(url)
    try:
        db = await asyncio.wait_for(Database.open(url, migrate=False), 10)
    except Exception as error:
        return Check(name, PROBLEM, f"{where} does not answer: {error}")
    try:
        settings = await db.fetchone(
            "SELECT current_setting('server_version') AS version, "
            "current_setting('fsync') AS fsync, "
            "current_setting('synchronous_commit') AS synchronous_commit, "
            "(SELECT datcollate FROM pg_database WHERE datname = current_database()) AS collate, "
            "to_regclass('schema_migrations') IS NOT NULL AS migrated"
        )
        assert settings is not None
        applied = (
            {r["version"] for r in await db.fetchall("SELECT version FROM schema_migrations")}
            if settings["migrated"]
            else set()
        )
    except Exception as error:
        return Check(name, PROBLEM, f"{where} answers, but cannot be read: {error}")
    finally:
        await db.close()
    if settings["fsync"] != "on" or settings["synchronous_commit"] == "off":
        return Check(
            name,
            PROBLEM,
            f"{where}: fsync is {settings['fsync']} and synchronous_commit is "
            f"{settings['synchronous_commit']}: a change the hall acknowledged could be lost in "
            "a crash; turn both on",
        )
    known = {version for version, _ in migrations(POSTGRESQL)}
    newer = sorted(applied - known)
    if newer:
        return Check(
            name,
            PROBLEM,
            f"{where} has migrations this release does not know ({', '.join(map(str, newer))})",
        )
    pending = sorted(known - applied)
    if pending:
        return Check(
            name,
            WARNING,
            f"{where}: migrations {', '.join(map(str, pending))} not applied yet; `inzoomen "
            "serve` applies them at start, or run `inzoomen migrate` now",
        )
    if settings["collate"] not in _BYTE_ORDER_COLLATIONS:
        return Check(
            name,
            WARNING,
            f"{where}: the database sorts text by {settings['collate']}, so lists ordered by "
            "name may differ from the same hall on SQLite; create it with --locale=C.UTF-8",
        )
    return Check(
        name,
        OK,
        f"{where}: PostgreSQL {settings['version']}, up to date (migration {max(known)})",
    )


def _web_concurrency(env: Mapping[str, str]) -> int | None:
    raw = env.get("WEB_CONCURRENCY", "").strip()
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


async def check_redis(
    settings: Settings, env: Mapping[str, str], timeout: float = NETWORK_TIMEOUT_SECONDS
) -> Check:
    """A real PING to INZOOMEN_REDIS_URL, when it is set."""
    name = "redis"
    url = settings.redis_url
    if url is None:
        workers = _web_concurrency(env)
        if workers is not None and workers > 1:
            return Check(
                name,
                WARNING,
                f"WEB_CONCURRENCY={workers} but INZOOMEN_REDIS_URL is not set: live updates "
                "between worker processes need Redis, so `inzoomen serve` runs one worker; "
                "set INZOOMEN_REDIS_URL to run more",
            )
        return Check(name, OK, "not set: one worker process (set INZOOMEN_REDIS_URL for more)")
    import redis.asyncio
    import redis.exceptions

    try:
        client = redis.asyncio.Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout
        )
    except ValueError as error:  # a port that is no number, an unknown option
        return Check(name, PROBLEM, f"INZOOMEN_REDIS_URL cannot be read: {error}")
    try:
        answer = await client.ping()
    except (redis.exceptions.RedisError, OSError) as error:
        return Check(
            name,
            PROBLEM,
            f"{redact(url)} does not answer PING ({error}); start Redis there or correct "
            "INZOOMEN_REDIS_URL",
        )
    finally:
        await client.aclose()
    if answer is not True:
        return Check(name, PROBLEM, f"{redact(url)} answered PING with {answer!r}")
    return Check(name, OK, f"{redact(url)} answers PING")


async def check_smtp(settings: Settings, timeout: float = NETWORK_TIMEOUT_SECONDS) -> Check:
    """Connect to INZOOMEN_SMTP_HOST the way mail delivery does (TLS or STARTTLS as set),
    say EHLO, log in when a username is set, and NOOP."""
    name = "smtp"
    host = settings.smtp_host
    if host is None:
        status = WARNING if settings.environment == "production" else OK
        return Check(
            name,
            status,
            "INZOOMEN_SMTP_HOST is not set: mails are not sent, they wait in the outbox for "
            "the moderator",
        )
    import aiosmtplib

    where = f"{host}:{settings.smtp_port}"
    security = "TLS" if settings.smtp_tls else "STARTTLS" if settings.smtp_starttls else "plain"
    client = aiosmtplib.SMTP(
        hostname=host,
        port=settings.smtp_port,
        use_tls=settings.smtp_tls,
        start_tls=settings.smtp_starttls,
        timeout=timeout,
    )
    step = "connect"
    try:
        await client.connect()
        step = "EHLO"
        await client.ehlo()
        if settings.smtp_username is not None:
            step = f"login as {settings.smtp_username}"
            await client.login(settings.smtp_username, settings.smtp_password or "")
        step = "NOOP"
        await client.noop()
        await client.quit()
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
        client.close()
        advice = "correct INZOOMEN_SMTP_HOST and INZOOMEN_SMTP_PORT"
        if step.startswith("login"):
            advice = "correct INZOOMEN_SMTP_USERNAME and INZOOMEN_SMTP_PASSWORD"
        elif "STARTTLS" in str(error).upper():
            advice = (
                "set INZOOMEN_SMTP_STARTTLS=false for a server without STARTTLS, or "
                "INZOOMEN_SMTP_TLS=true for TLS from the start (port 465)"
            )
        return Check(
            name,
            PROBLEM,
            f"{where} ({security}): {step} failed: {error or type(error).__name__}; {advice}",
        )
    login = f", logged in as {settings.smtp_username}" if settings.smtp_username else ""
    return Check(name, OK, f"{where} answers EHLO and NOOP ({security}{login})")


def ice_host(url: str) -> str:
    """The host of a stun:/turn: URL (``turn:turn.example.nl:3478?transport=udp``)."""
    rest = url.split(":", 1)[1].split("?", 1)[0] if ":" in url else ""
    if rest.startswith("["):
        return rest[1 : rest.find("]")] if "]" in rest else rest[1:]
    return rest.rsplit(":", 1)[0] if ":" in rest else rest


async def check_turn(settings: Settings) -> Check:
    """Every STUN and TURN URL names a host that resolves, and TURN has credentials."""
    name = "turn"
    urls = (*settings.stun_urls, *settings.turn_urls)
    if not urls:
        return Check(
            name,
            OK,
            "no STUN or TURN servers: the built-in video call works within one network only "
            "(set INZOOMEN_TURN_URLS, see docs/turn.md)",
        )
    loop = asyncio.get_running_loop()
    for url in urls:
        host = ice_host(url)
        try:
            await loop.getaddrinfo(host, None, type=socket.SOCK_DGRAM)
        except (OSError, UnicodeError) as error:
            variable = "INZOOMEN_TURN_URLS" if url in settings.turn_urls else "INZOOMEN_STUN_URLS"
            return Check(
                name,
                PROBLEM,
                f"{url}: the host {host!r} does not resolve ({error}); correct {variable}",
            )
    if not settings.turn_urls:
        return Check(
            name,
            WARNING,
            "only STUN: calls between strict networks need a TURN relay (set "
            "INZOOMEN_TURN_URLS, see docs/turn.md)",
        )
    if settings.turn_secret is not None:
        if len(settings.turn_secret) < MIN_SECRET_LENGTH:
            return Check(
                name,
                WARNING,
                f"INZOOMEN_TURN_SECRET has {len(settings.turn_secret)} characters; use at "
                f"least {GOOD_SECRET_LENGTH} random ones (the same as coturn's "
                "static-auth-secret)",
            )
        credentials = "short-lived credentials from INZOOMEN_TURN_SECRET"
    else:
        credentials = f"the static user {settings.turn_username}"
    relay = "; relayed candidates only" if settings.ice_relay_only else ""
    return Check(name, OK, f"{len(urls)} server URLs resolve; {credentials}{relay}")


async def run_checks(
    env: Mapping[str, str], host: str, database_path: Path | None = None
) -> list[Check]:
    """Every check, in the order they are reported. ``host`` is the address ``serve`` will
    listen on; ``database_path`` replaces INZOOMEN_DB when given."""
    results = [check_secret_key(env, host)]
    settings, loaded = load(env, database_path)
    results.append(loaded)
    if settings is None:
        return results
    results += [
        check_environment(settings, host),
        check_trusted_proxies(settings),
        check_allowed_origins(settings),
        check_allowed_hosts(settings, host),
        check_https(settings),
        (
            await check_database_server(settings.database_url)
            if settings.database_url and backend_of(settings.database_url) == POSTGRESQL
            else await asyncio.to_thread(
                check_database, sqlite_path(settings.database_url or settings.database_path)
            )
        ),
        await check_redis(settings, env),
        await check_smtp(settings),
        await check_turn(settings),
    ]
    return results


def has_problem(results: list[Check]) -> bool:
    return any(result.status == PROBLEM for result in results)
