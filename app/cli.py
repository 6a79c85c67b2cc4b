"""The ``inzoomen`` command: serve, check, migrate, create-user, backup, copy-db, retention.

Operators meet the hall through this command, on a console or a hosting platform that starts
it for them. So every option says what it does, its default and the environment variable it
falls back to; settings a platform sets on its own (``WEB_CONCURRENCY``) never make the server
crash in a loop; and ``inzoomen check`` tells what is wrong before the event starts.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from app import demo, preflight, version
from app.core import logs
from app.core.config import ConfigError, Settings, load_settings
from app.domain import accounts
from app.domain.event import has_event
from app.storage.db import POSTGRESQL, Database

log = logging.getLogger("inzoomen")


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings()
    if getattr(args, "db", None):
        settings = settings.with_overrides(database_path=Path(args.db), database_url=None)
    if getattr(args, "database_url", None):
        settings = settings.with_overrides(database_url=args.database_url)
    if getattr(args, "demo", False) and settings.environment == "development":
        settings = settings.with_overrides(environment="demo")
    settings.check()
    logs.configure(settings.log_level, settings.log_format)
    return settings


async def _prepare_demo(settings: Settings) -> demo.DemoLogins:
    db = await Database.open(settings.database)
    try:
        if not await has_event(db):
            today = datetime.now(ZoneInfo("Europe/Amsterdam")).date()
            return await demo.seed_demo(db, today)
        return await demo.existing_logins(db)
    finally:
        await db.close()


def _print_demo(logins: demo.DemoLogins, url: str) -> None:
    print(f"\nInzoomen demo: open {url}\n")
    print(f"  password for every demo account: {logins.password}")
    print(f"  moderator: {logins.moderator_email}")
    for email, booth in logins.advisor_emails:
        print(f"  advisor:   {email}  ({booth})")
    print(flush=True)


def _port(args: argparse.Namespace) -> int:
    if args.port is not None:
        port: int = args.port
    else:
        raw = os.environ.get("PORT", "").strip() or "8000"
        try:
            port = int(raw)
        except ValueError:
            raise ConfigError(f"PORT must be a whole number, got {raw!r}") from None
    if not 0 <= port <= 65535:
        raise ConfigError(f"the port must be between 0 and 65535, got {port}")
    return port


def _workers(args: argparse.Namespace, settings: Settings) -> int:
    """How many worker processes to start. Several workers share live updates through
    Redis only. An explicit --workers without Redis is refused; WEB_CONCURRENCY, which
    hosting platforms set from the machine's size, falls back to one worker with a warning,
    so a missing Redis does not become a crash loop."""
    if args.workers is not None:
        if args.workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {args.workers}")
        if args.workers > 1 and not settings.redis_url:
            raise ConfigError(
                f"--workers {args.workers} needs INZOOMEN_REDIS_URL: live updates between "
                "worker processes go through Redis; set INZOOMEN_REDIS_URL or use --workers 1"
            )
        workers: int = args.workers
        return workers
    raw = os.environ.get("WEB_CONCURRENCY", "").strip()
    if not raw:
        return 1
    try:
        wanted = int(raw)
    except ValueError:
        raise ConfigError(f"WEB_CONCURRENCY must be a whole number, got {raw!r}") from None
    if wanted < 1:
        log.warning("WEB_CONCURRENCY=%s is below 1; running one worker process", raw)
        return 1
    if wanted > 1 and not settings.redis_url:
        log.warning(
            "WEB_CONCURRENCY=%d asks for %d worker processes, but INZOOMEN_REDIS_URL is not "
            "set: live updates between worker processes need Redis, so one worker runs; set "
            "INZOOMEN_REDIS_URL to run %d",
            wanted,
            wanted,
            wanted,
        )
        return 1
    return wanted


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.web.push_transport import push_protocol
    from app.web.server import create_app

    settings = _settings(args)
    for refusal in (
        preflight.default_secret_refusal(settings.secret_key, args.host),
        preflight.host_names_refusal(settings, args.host),
    ):
        if refusal is not None:
            raise ConfigError(refusal)
    port = _port(args)
    workers = _workers(args, settings)
    if args.demo:
        logins = asyncio.run(_prepare_demo(settings))
        host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
        _print_demo(logins, f"http://{host}:{port}/")
    options: dict[str, Any] = {
        "host": args.host,
        "port": port,
        "ws": push_protocol() or "auto",
        "ws_max_size": settings.ws_max_message_bytes,
        "ws_per_message_deflate": False,
        "timeout_graceful_shutdown": 5,
        "proxy_headers": True,
        "forwarded_allow_ips": list(settings.trusted_proxies),
        # uvicorn applies this in every worker process it starts, so all log alike.
        "log_config": logs.log_config(settings.log_level, settings.log_format),
        "log_level": settings.log_level,
    }
    log.info(
        "inzoomen %s (%s) on %s port %d, %d worker process%s",
        version(),
        settings.environment,
        args.host,
        port,
        workers,
        "" if workers == 1 else "es",
    )
    if workers > 1:
        # Each worker process builds the app from the environment.
        os.environ["INZOOMEN_DB"] = str(settings.database_path)
        if settings.database_url is not None:
            os.environ["INZOOMEN_DATABASE_URL"] = settings.database_url
        else:
            os.environ.pop("INZOOMEN_DATABASE_URL", None)
        os.environ["INZOOMEN_ENV"] = settings.environment
        factory = "app.web.server:app_from_environment"
        uvicorn.run(factory, factory=True, workers=workers, **options)
    else:
        # workers=1 given outright: uvicorn would otherwise read WEB_CONCURRENCY itself.
        uvicorn.run(create_app(settings), workers=1, **options)
    return 0


def check(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    level = env.get("INZOOMEN_LOG_LEVEL", "").lower()
    log_format = env.get("INZOOMEN_LOG_FORMAT", "").lower()
    logs.configure(
        level if level in logs.LEVELS else "info",
        log_format if log_format in logs.FORMATS else "text",
    )
    if args.database_url:
        env["INZOOMEN_DATABASE_URL"] = args.database_url
    database = Path(args.db) if args.db else None
    if database is not None:
        env.pop("INZOOMEN_DATABASE_URL", None)
    results = asyncio.run(preflight.run_checks(env, args.host, database))
    for result in results:
        print(f"{result.status:<8} {result.name}: {result.message}")
    problems = sum(1 for r in results if r.status == preflight.PROBLEM)
    warnings = sum(1 for r in results if r.status == preflight.WARNING)
    print(f"{problems} problem(s), {warnings} warning(s)")
    return 1 if problems else 0


def migrate(args: argparse.Namespace) -> int:
    settings = _settings(args)

    async def run() -> list[int]:
        db = await Database.open(settings.database, migrate=False)
        try:
            return await db.migrate()
        finally:
            await db.close()

    applied = asyncio.run(run())
    print(f"applied migrations: {applied or 'none (up to date)'}")
    return 0


def create_user(args: argparse.Namespace) -> int:
    settings = _settings(args)
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
    if password is None:
        password = getpass.getpass("Password: ")
    if len(password) < accounts.MIN_PASSWORD_LENGTH:
        print(
            f"error: a password needs at least {accounts.MIN_PASSWORD_LENGTH} characters",
            file=sys.stderr,
        )
        return 2

    async def run() -> int:
        db = await Database.open(settings.database)
        try:
            booth_id = None
            if args.role == "advisor":
                if not args.booth:
                    raise ValueError("an advisor needs --booth SLUG")
                booth_id = await db.fetchvalue(
                    "SELECT id FROM booths WHERE slug = ?", (args.booth,)
                )
                if booth_id is None:
                    raise ValueError(f"there is no booth with slug {args.booth!r}")
            async with db.transaction() as tx:
                return await accounts.create_staff(
                    tx,
                    email=args.email,
                    name=args.name,
                    role=args.role,
                    password=password,
                    booth_id=booth_id,
                    personal_link=args.personal_link or "",
                )
        finally:
            await db.close()

    try:
        staff_id = asyncio.run(run())
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # a duplicate e-mail, for one
        print(f"error: could not create the account: {error}", file=sys.stderr)
        return 1
    print(f"created {args.role} {args.email} (id {staff_id})")
    return 0


def backup(args: argparse.Namespace) -> int:
    settings = _settings(args)
    target = Path(args.target)
    if target.exists():
        print(f"error: {target} exists already; choose a new file", file=sys.stderr)
        return 2

    async def run() -> str:
        db = await Database.open(settings.database, migrate=False)
        try:
            await db.backup_to(target)
            return db.dialect
        finally:
            await db.close()

    try:
        dialect = asyncio.run(run())
    except Exception as error:  # pg_dump missing or refused, the database unreachable
        target.unlink(missing_ok=True)
        print(f"error: the backup failed: {error}", file=sys.stderr)
        return 1
    if dialect == POSTGRESQL:
        print(
            f"backup written to {target}: a pg_dump archive (custom format); restore it with "
            f"pg_restore --no-owner --dbname=URL_OF_A_NEW_EMPTY_DATABASE {target}"
        )
    else:
        print(
            f"backup written to {target}: a SQLite database file; the hall runs on it as it "
            f"is (--db {target})"
        )
    return 0


def copy_db(args: argparse.Namespace) -> int:
    from app.storage import copy

    logs.configure("warning", "text")
    started = time.monotonic()
    try:
        result = asyncio.run(copy.copy_database(args.source, args.target))
    except copy.CopyRefused as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except copy.CopyMismatch as error:
        print(
            f"error: THE COPY IS NOT THE SAME AS THE SOURCE; do not use the target. {error}:",
            file=sys.stderr,
        )
        for difference in error.differences[: copy.SHOWN_DIFFERENCES]:
            print(f"  {difference}", file=sys.stderr)
        return 1
    except Exception as error:  # unreachable server, a row the target refused: nothing kept
        print(f"error: the copy failed and was rolled back: {error}", file=sys.stderr)
        return 1
    print(f"copied {result.source} to {result.target}")
    for table, rows in result.tables.items():
        print(f"  {table:<22} {rows:>8} rows")
    print(f"revision {result.revision}")
    print(
        f"verified: {sum(result.verified.values())} rows in {len(result.verified)} tables "
        f"identical ({time.monotonic() - started:.1f} s)"
    )
    return 0


def retention(args: argparse.Namespace) -> int:
    from app.domain import privacy

    settings = _settings(args)
    days = settings.retention_days if args.days is None else args.days
    if not 0 <= days <= 3650:
        print("error: --days must be between 0 and 3650", file=sys.stderr)
        return 2

    async def run() -> privacy.RetentionResult:
        db = await Database.open(settings.database)
        try:
            return await privacy.run_retention(
                db,
                now=time.time(),
                days=days,
                wrap_up_seconds=settings.wrap_up_seconds,
                dry_run=args.dry_run,
            )
        finally:
            await db.close()

    result = asyncio.run(run())
    verb = "would anonymise" if result.dry_run else "anonymised"
    ends = (
        "no event days"
        if result.event_ends_at is None
        else datetime.fromtimestamp(result.event_ends_at).astimezone().isoformat(timespec="minutes")
    )
    print(
        f"retention ({days} days after the event; event ends {ends}): {verb} "
        f"{result.candidates} candidates, {result.requests} requests, "
        f"{result.conversations} conversations"
    )
    return 0


DB_HELP = "SQLite database file (default: $INZOOMEN_DB, else inzoomen.db)"
DATABASE_URL_HELP = (
    "the database as a URL: sqlite:///FILE or postgresql://USER:PASSWORD@HOST:PORT/NAME "
    "(default: $INZOOMEN_DATABASE_URL, else the SQLite file of --db)"
)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="inzoomen",
        description="The Inzoomen live event hall. Settings come from INZOOMEN_* environment "
        "variables (see docs/operations.md); `inzoomen check` reports what is wrong with them.",
    )
    top.add_argument(
        "--version",
        action="version",
        version=f"inzoomen {version()}",
        help="print the installed version and exit",
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser(
        "serve",
        help="run the hall",
        description="Run the hall's web server. The default secret key is refused on any "
        "address but loopback: set INZOOMEN_SECRET_KEY first. Logging follows "
        "INZOOMEN_LOG_LEVEL and INZOOMEN_LOG_FORMAT.",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0 for every "
        "address, which needs INZOOMEN_SECRET_KEY)",
    )
    p.add_argument(
        "--port", type=int, default=None, help="port to listen on (default: $PORT, else 8000)"
    )
    p.add_argument("--db", help=DB_HELP)
    p.add_argument("--database-url", help=DATABASE_URL_HELP)
    p.add_argument(
        "--demo",
        action="store_true",
        help="create a demo event with sample booths and accounts when the database has no "
        "event, and print the demo logins (default: off)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes; above 1 needs INZOOMEN_REDIS_URL (default: $WEB_CONCURRENCY, "
        "else 1; a WEB_CONCURRENCY above 1 without INZOOMEN_REDIS_URL runs one worker with a "
        "warning)",
    )
    p.set_defaults(run=serve)

    p = commands.add_parser(
        "check",
        help="report what is wrong with the configuration",
        description="Check the configuration before the event: secret key, proxies and "
        "origins, the database file, and (when set) Redis, the SMTP server and TURN, which "
        "are really contacted. One line per check: ok, warning or problem. Exit status 0 "
        "without problems, 1 with any.",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address `inzoomen serve` will listen on, to judge the secret key against "
        "it (default: 127.0.0.1)",
    )
    p.add_argument("--db", help=DB_HELP)
    p.add_argument("--database-url", help=DATABASE_URL_HELP)
    p.set_defaults(run=check)

    p = commands.add_parser(
        "migrate",
        help="apply database migrations",
        description="Apply every database migration not applied yet (serve does so at start).",
    )
    p.add_argument("--db", help=DB_HELP)
    p.add_argument("--database-url", help=DATABASE_URL_HELP)
    p.set_defaults(run=migrate)

    p = commands.add_parser(
        "create-user",
        help="create an advisor or moderator account",
        description="Create a staff account. The password is asked for, or read from stdin.",
    )
    p.add_argument("--db", help=DB_HELP)
    p.add_argument("--database-url", help=DATABASE_URL_HELP)
    p.add_argument(
        "--role", choices=accounts.ROLES, required=True, help="the account's role (required)"
    )
    p.add_argument("--email", required=True, help="the e-mail address to log in with (required)")
    p.add_argument("--name", required=True, help="the name shown to others (required)")
    p.add_argument(
        "--booth", help="slug of the advisor's booth (required for advisors; default: none)"
    )
    p.add_argument("--personal-link", help="the advisor's own meeting link (default: none)")
    p.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin instead of asking (default: ask)",
    )
    p.set_defaults(run=create_user)

    p = commands.add_parser(
        "retention",
        help="anonymise candidates' personal data past its retention time",
        description="Anonymise candidates' personal data once the retention time after the "
        "event has passed.",
    )
    p.add_argument("--db", help=DB_HELP)
    p.add_argument("--database-url", help=DATABASE_URL_HELP)
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="only say what would be anonymised (default: anonymise)",
    )
    p.add_argument(
        "--days",
        type=int,
        help="days after the event, 0 to 3650 (default: $INZOOMEN_RETENTION_DAYS, else 30)",
    )
    p.set_defaults(run=retention)

    p = commands.add_parser(
        "backup",
        help="consistent copy of the live database",
        description="Write a consistent copy of the database, also while the hall runs: for "
        "SQLite a database file (SQLite's online backup) the hall can run on as it is; for "
        "PostgreSQL a pg_dump archive in custom format, restored with pg_restore into a new "
        "empty database (see docs/operations.md). Exit status 0 when written, 1 when the "
        "backup failed (no file is left), 2 when the file exists already.",
    )
    p.add_argument("--db", help=DB_HELP)
    p.add_argument("--database-url", help=DATABASE_URL_HELP)
    p.add_argument("target", help="the new file to write (must not exist)")
    p.set_defaults(run=backup)

    p = commands.add_parser(
        "copy-db",
        help="copy the hall's data to another database (SQLite or PostgreSQL) and verify it",
        description="Copy every row of a hall database into a new, empty one, e.g. from a "
        "SQLite file to PostgreSQL or back, in one transaction, then compare both row for "
        "row. The source must be on the newest schema (`inzoomen migrate` first); the target "
        "is migrated here and must hold no hall data. A SQLite source may keep running (the "
        "copy reads a snapshot); a running PostgreSQL source waits with its writes until the "
        "copy is done. Exit status 0 when copied and identical, 2 when refused (nothing "
        "changed), 1 when the copy failed or differs (do not use the target then).",
    )
    p.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="URL_OR_PATH",
        help="the hall's database: a SQLite file, sqlite:///FILE or postgresql://... (required)",
    )
    p.add_argument(
        "--to",
        dest="target",
        required=True,
        metavar="URL_OR_PATH",
        help="the new database: a SQLite file (made when missing), sqlite:///FILE or "
        "postgresql://... of an empty database (required)",
    )
    p.set_defaults(run=copy_db)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
