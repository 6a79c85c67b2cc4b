"""Settings, read once from environment variables.

Every setting has a safe default for a demo on one machine. Outside development and demo
mode the server refuses to start with the default secret key or without the host names it
answers for, and ``inzoomen serve`` refuses the default key in every mode on any address but
loopback.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

DEFAULT_SECRET_KEY = "inzoomen-development-secret-change-me"
ENVIRONMENTS = ("development", "demo", "production")
GRACE_MIN_SECONDS = 30
# The largest request body the hall reads. The largest real one is the booth import under
# Beheer: a CSV file of at most 1,000,000 bytes (``booth_admin.CSV_MAX_BYTES``) in a
# multipart form. Twice that leaves room for the form around it, and for a file somewhat
# too large to still reach the import, which says what is wrong in its own words; it is
# also nginx's client_max_body_size in docs/deploy/nginx.conf.
MAX_BODY_BYTES = 2 * 1024 * 1024
MIN_BODY_BYTES = 64 * 1024
# The host names a hall answers for when INZOOMEN_ALLOWED_HOSTS is not set (development and
# demo only): this machine, under every name a browser or test uses for it.
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
# A host name (letters, digits, hyphens, dots), optionally "*." before it for its subdomains.
_HOST_NAME = re.compile(r"(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
LOG_FORMATS = ("text", "json")
PACKAGE_DIR = Path(__file__).resolve().parent.parent
PROJECT_ROOT = PACKAGE_DIR.parent


def _files_dir(name: str) -> Path:
    """``templates`` or ``static``: inside the package when installed from the wheel, which
    carries them there; at the repository's top level in a checkout."""
    packaged = PACKAGE_DIR / name
    return packaged if packaged.is_dir() else PROJECT_ROOT / name


def redact(url: str) -> str:
    """``url`` without its password, fit for a report or a log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{parts.username or ''}:***@{host}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class ConfigError(Exception):
    """A setting is missing or has a value the server cannot run with."""


@dataclass(frozen=True)
class Settings:
    environment: str = "development"
    database_path: Path = Path("inzoomen.db")
    # sqlite:///path (the file above, when unset) or postgresql://user:password@host/db.
    database_url: str | None = None
    secret_key: str = DEFAULT_SECRET_KEY
    # Origins allowed to open the WebSocket. Empty means: the origin must match the Host
    # header the browser used, which is right for a single site behind one name.
    allowed_origins: tuple[str, ...] = ()
    # The host names (the Host header, without its port) the hall answers for; empty: the
    # development default (``hosts``). Production must set them.
    allowed_hosts: tuple[str, ...] = ()
    https_only_cookies: bool = False
    ws_max_message_bytes: int = 64 * 1024
    # HTTP request bodies (forms, uploads): a larger one is refused with 413 unread.
    max_body_bytes: int = MAX_BODY_BYTES
    # A waiting request that nobody accepted within this time expires with a kind message.
    request_ttl_seconds: int = 90 * 60
    # How long an advisor stays "wrapping up" before becoming available by themselves.
    wrap_up_seconds: int = 120
    # A candidate whose connection drops keeps their place in the queue this long.
    grace_seconds: int = 180
    # Shared live updates between worker processes; None runs everything in one process.
    redis_url: str | None = None
    # Prefix of every Redis channel and key, so several halls can share one Redis server.
    redis_prefix: str = "inzoomen"
    # Hall changes are pushed at most once per this many seconds (latest state wins).
    hall_push_seconds: float = 0.2
    # A bearer token that may read /metrics besides a signed-in moderator; None: moderators only.
    metrics_token: str | None = None
    # Incoming WebSocket messages: per connection, and per user over all their connections.
    ws_rate: float = 20.0
    ws_burst: int = 40
    ws_user_rate: float = 40.0
    ws_user_burst: int = 80
    # Simultaneous WebSockets per signed-in user, and per address for anonymous visitors
    # (generous: a whole event venue may share one address).
    ws_connections_per_user: int = 10
    ws_connections_per_ip: int = 1000
    # New requests a candidate may make per minute (socket and form together).
    requests_per_minute: int = 6
    # Failed staff log-ins of one account (known or not) from one address or known device
    # that cost nothing; each further try waits longer (``app.domain.throttles``). And the failed
    # log-ins per hour from one address, over all accounts.
    login_failures_per_account: int = 5
    login_failures_per_ip: int = 1000
    # Candidates' personal data is anonymised this many days after the event ends.
    retention_days: int = 30
    # Outgoing e-mail: without an SMTP host, mails stay in the outbox for the moderator.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = None
    # STARTTLS on a plain connection (port 587), or TLS from the start (port 465).
    smtp_starttls: bool = True
    smtp_tls: bool = False
    mail_from: str = "Inzoomen <noreply@inzoomen.invalid>"
    templates_dir: Path = field(default_factory=lambda: _files_dir("templates"))
    static_dir: Path = field(default_factory=lambda: _files_dir("static"))
    # ICE servers for the hall's own video call (see docs/turn.md). None configured: the
    # call works on one local network and on loopback only.
    stun_urls: tuple[str, ...] = ()
    turn_urls: tuple[str, ...] = ()
    # coturn's static-auth-secret: each participant gets short-lived credentials.
    turn_secret: str | None = None
    turn_ttl_seconds: int = 7200
    # Or static long-term credentials (a username and password coturn knows).
    turn_username: str | None = None
    turn_password: str | None = None
    # Relayed candidates only: no participant learns the other's address.
    ice_relay_only: bool = False
    # Addresses (or networks, or "*") of the reverse proxies whose X-Forwarded-For and
    # X-Forwarded-Proto headers are believed: behind them the scheme is https, so the
    # WebSocket's Origin check, secure cookies and HSTS see what the browser used.
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")
    # Every logger's level, and the one log format: "text" (with time stamps) or "json".
    log_level: str = "info"
    log_format: str = "text"

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def database(self) -> str:
        """What ``Database.open`` is given: INZOOMEN_DATABASE_URL, else the SQLite file."""
        return self.database_url or str(self.database_path)

    @property
    def hosts(self) -> tuple[str, ...]:
        """The host names the hall answers for: INZOOMEN_ALLOWED_HOSTS, or else this machine
        and the hosts of INZOOMEN_ALLOWED_ORIGINS."""
        if self.allowed_hosts:
            return self.allowed_hosts
        named = (urlsplit(origin).hostname for origin in self.allowed_origins)
        return tuple(dict.fromkeys([*LOCAL_HOSTS, *(host for host in named if host)]))

    def check(self) -> None:
        if self.environment not in ENVIRONMENTS:
            raise ConfigError(
                f"INZOOMEN_ENV must be one of {', '.join(ENVIRONMENTS)}, got {self.environment!r}"
            )
        if self.environment == "production" and self.secret_key == DEFAULT_SECRET_KEY:
            raise ConfigError(
                "INZOOMEN_SECRET_KEY is not set: refusing to start in production with the "
                "default secret key"
            )
        if self.environment == "production" and not self.allowed_hosts:
            raise ConfigError(
                "INZOOMEN_ALLOWED_HOSTS is not set: in production list the host names the hall "
                "is reached by, comma-separated (e.g. hall.example.org)"
            )
        if len(self.secret_key) < 16:
            raise ConfigError("INZOOMEN_SECRET_KEY must be at least 16 characters long")
        if self.max_body_bytes < MIN_BODY_BYTES:
            raise ConfigError(
                f"INZOOMEN_MAX_BODY_BYTES must be at least {MIN_BODY_BYTES}; the booth import "
                "takes files of up to 1000000 bytes, so keep it above that to use it"
            )
        if self.request_ttl_seconds < 60:
            raise ConfigError("INZOOMEN_REQUEST_TTL_SECONDS must be at least 60")
        if self.grace_seconds < (1 if self.environment == "development" else GRACE_MIN_SECONDS):
            raise ConfigError(
                f"INZOOMEN_GRACE_SECONDS must be at least {GRACE_MIN_SECONDS} "
                "(at least 1 in development)"
            )
        if self.wrap_up_seconds < 0:
            raise ConfigError("INZOOMEN_WRAP_UP_SECONDS must not be negative")
        if not 0 <= self.hall_push_seconds <= 10:
            raise ConfigError("INZOOMEN_HALL_PUSH_SECONDS must be between 0 and 10")
        if self.database_url is not None and not self.database_url.startswith(
            ("sqlite:///", "postgresql://", "postgres://")
        ):
            raise ConfigError(
                "INZOOMEN_DATABASE_URL must start with sqlite:/// or postgresql://, "
                f"got {self.database_url.split('@')[-1]!r}"
            )
        if self.redis_url is not None and not self.redis_url.startswith(
            ("redis://", "rediss://", "unix://")
        ):
            raise ConfigError(
                "INZOOMEN_REDIS_URL must start with redis://, rediss:// or unix://, "
                f"got {self.redis_url!r}"
            )
        if self.metrics_token is not None and len(self.metrics_token) < 16:
            raise ConfigError("INZOOMEN_METRICS_TOKEN must be at least 16 characters long")
        for name, value in (
            ("INZOOMEN_WS_RATE", self.ws_rate),
            ("INZOOMEN_WS_BURST", self.ws_burst),
            ("INZOOMEN_WS_USER_RATE", self.ws_user_rate),
            ("INZOOMEN_WS_USER_BURST", self.ws_user_burst),
            ("INZOOMEN_WS_CONNECTIONS_PER_USER", self.ws_connections_per_user),
            ("INZOOMEN_WS_CONNECTIONS_PER_IP", self.ws_connections_per_ip),
            ("INZOOMEN_REQUESTS_PER_MINUTE", self.requests_per_minute),
            ("INZOOMEN_LOGIN_FAILURES_PER_ACCOUNT", self.login_failures_per_account),
            ("INZOOMEN_LOGIN_FAILURES_PER_IP", self.login_failures_per_ip),
        ):
            if value < 1:
                raise ConfigError(f"{name} must be at least 1")
        if not 0 <= self.retention_days <= 3650:
            raise ConfigError("INZOOMEN_RETENTION_DAYS must be between 0 and 3650")
        if not 1 <= self.smtp_port <= 65535:
            raise ConfigError("INZOOMEN_SMTP_PORT must be between 1 and 65535")
        if self.smtp_starttls and self.smtp_tls:
            raise ConfigError("INZOOMEN_SMTP_STARTTLS and INZOOMEN_SMTP_TLS exclude each other")
        if "@" not in self.mail_from or any(c in self.mail_from for c in "\r\n"):
            raise ConfigError(
                f"INZOOMEN_MAIL_FROM must be an e-mail address, got {self.mail_from!r}"
            )
        self._check_ice()
        self._check_operations()

    def _check_ice(self) -> None:
        for name, urls, schemes in (
            ("INZOOMEN_STUN_URLS", self.stun_urls, ("stun:", "stuns:")),
            ("INZOOMEN_TURN_URLS", self.turn_urls, ("turn:", "turns:")),
        ):
            for url in urls:
                host = url.split(":", 1)[1].split("?", 1)[0] if ":" in url else ""
                if not url.startswith(schemes) or not host or any(c.isspace() for c in url):
                    raise ConfigError(
                        f"{name} holds URLs that start with {' or '.join(schemes)} and a host, "
                        f"got {url!r}"
                    )
        static = self.turn_username is not None or self.turn_password is not None
        if (self.turn_username is None) != (self.turn_password is None):
            raise ConfigError("INZOOMEN_TURN_USERNAME and INZOOMEN_TURN_PASSWORD go together")
        if self.turn_secret is not None and static:
            raise ConfigError(
                "INZOOMEN_TURN_SECRET and INZOOMEN_TURN_USERNAME/INZOOMEN_TURN_PASSWORD "
                "exclude each other"
            )
        if self.turn_urls and self.turn_secret is None and not static:
            raise ConfigError(
                "INZOOMEN_TURN_URLS needs INZOOMEN_TURN_SECRET or INZOOMEN_TURN_USERNAME and "
                "INZOOMEN_TURN_PASSWORD"
            )
        if not self.turn_urls and (self.turn_secret is not None or static):
            raise ConfigError("TURN credentials are set but INZOOMEN_TURN_URLS is empty")
        if self.turn_ttl_seconds < 60:
            raise ConfigError("INZOOMEN_TURN_TTL_SECONDS must be at least 60")
        if self.ice_relay_only and not self.turn_urls:
            raise ConfigError("INZOOMEN_ICE_RELAY_ONLY needs INZOOMEN_TURN_URLS")

    def _check_operations(self) -> None:
        for host in self.allowed_hosts:
            if not _host_ok(host):
                raise ConfigError(
                    "INZOOMEN_ALLOWED_HOSTS holds host names without a port (hall.example.org, or "
                    f"*.example.org for its subdomains), IP addresses or *, got {host!r}"
                )
        for proxy in self.trusted_proxies:
            if proxy == "*":
                continue
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ConfigError(
                    f"INZOOMEN_TRUSTED_PROXIES holds IP addresses or networks (or *), got {proxy!r}"
                ) from None
        if self.log_level not in LOG_LEVELS:
            raise ConfigError(
                f"INZOOMEN_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {self.log_level!r}"
            )
        if self.log_format not in LOG_FORMATS:
            raise ConfigError(
                f"INZOOMEN_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, "
                f"got {self.log_format!r}"
            )


def _host_ok(host: str) -> bool:
    if host == "*" or _HOST_NAME.fullmatch(host):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def normal_host(host: str) -> str:
    """A host name as compared: lower case, an IPv6 address without its brackets, no final
    dot (``Example.ORG.`` and ``example.org`` are one host)."""
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host.rstrip(".") if host != "." else host


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in env.get(name, "").split(",") if item.strip())


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    origins = tuple(
        o.strip().rstrip("/")
        for o in env.get("INZOOMEN_ALLOWED_ORIGINS", "").split(",")
        if o.strip()
    )
    settings = Settings(
        environment=env.get("INZOOMEN_ENV", "development"),
        database_path=Path(env.get("INZOOMEN_DB", "inzoomen.db")),
        database_url=env.get("INZOOMEN_DATABASE_URL") or None,
        secret_key=env.get("INZOOMEN_SECRET_KEY", DEFAULT_SECRET_KEY),
        allowed_origins=origins,
        allowed_hosts=tuple(normal_host(host) for host in _list(env, "INZOOMEN_ALLOWED_HOSTS")),
        https_only_cookies=_bool(env, "INZOOMEN_HTTPS_ONLY", False),
        ws_max_message_bytes=_int(env, "INZOOMEN_WS_MAX_BYTES", 64 * 1024),
        max_body_bytes=_int(env, "INZOOMEN_MAX_BODY_BYTES", MAX_BODY_BYTES),
        request_ttl_seconds=_int(env, "INZOOMEN_REQUEST_TTL_SECONDS", 90 * 60),
        wrap_up_seconds=_int(env, "INZOOMEN_WRAP_UP_SECONDS", 120),
        grace_seconds=_int(env, "INZOOMEN_GRACE_SECONDS", 180),
        redis_url=env.get("INZOOMEN_REDIS_URL") or None,
        redis_prefix=env.get("INZOOMEN_REDIS_PREFIX") or "inzoomen",
        hall_push_seconds=_float(env, "INZOOMEN_HALL_PUSH_SECONDS", 0.2),
        metrics_token=env.get("INZOOMEN_METRICS_TOKEN") or None,
        ws_rate=_float(env, "INZOOMEN_WS_RATE", 20.0),
        ws_burst=_int(env, "INZOOMEN_WS_BURST", 40),
        ws_user_rate=_float(env, "INZOOMEN_WS_USER_RATE", 40.0),
        ws_user_burst=_int(env, "INZOOMEN_WS_USER_BURST", 80),
        ws_connections_per_user=_int(env, "INZOOMEN_WS_CONNECTIONS_PER_USER", 10),
        ws_connections_per_ip=_int(env, "INZOOMEN_WS_CONNECTIONS_PER_IP", 1000),
        requests_per_minute=_int(env, "INZOOMEN_REQUESTS_PER_MINUTE", 6),
        login_failures_per_account=_int(env, "INZOOMEN_LOGIN_FAILURES_PER_ACCOUNT", 5),
        login_failures_per_ip=_int(env, "INZOOMEN_LOGIN_FAILURES_PER_IP", 1000),
        retention_days=_int(env, "INZOOMEN_RETENTION_DAYS", 30),
        smtp_host=env.get("INZOOMEN_SMTP_HOST") or None,
        smtp_port=_int(env, "INZOOMEN_SMTP_PORT", 587),
        smtp_username=env.get("INZOOMEN_SMTP_USERNAME") or None,
        smtp_password=env.get("INZOOMEN_SMTP_PASSWORD") or None,
        smtp_starttls=_bool(
            env, "INZOOMEN_SMTP_STARTTLS", not _bool(env, "INZOOMEN_SMTP_TLS", False)
        ),
        smtp_tls=_bool(env, "INZOOMEN_SMTP_TLS", False),
        mail_from=env.get("INZOOMEN_MAIL_FROM") or Settings.mail_from,
        stun_urls=_list(env, "INZOOMEN_STUN_URLS"),
        turn_urls=_list(env, "INZOOMEN_TURN_URLS"),
        turn_secret=env.get("INZOOMEN_TURN_SECRET") or None,
        turn_ttl_seconds=_int(env, "INZOOMEN_TURN_TTL_SECONDS", 7200),
        turn_username=env.get("INZOOMEN_TURN_USERNAME") or None,
        turn_password=env.get("INZOOMEN_TURN_PASSWORD") or None,
        ice_relay_only=_bool(env, "INZOOMEN_ICE_RELAY_ONLY", False),
        trusted_proxies=_list(env, "INZOOMEN_TRUSTED_PROXIES") or Settings.trusted_proxies,
        log_level=(env.get("INZOOMEN_LOG_LEVEL") or "info").lower(),
        log_format=(env.get("INZOOMEN_LOG_FORMAT") or "text").lower(),
    )
    settings.check()
    return settings
