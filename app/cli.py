"""The ``inzoomen`` command: serve, migrate, create-user, backup, retention."""

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

from app import accounts, demo
from app.config import ConfigError, Settings, load_settings
from app.db import Database
from app.event import has_event


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings()
    if getattr(args, "db", None):
        settings = settings.with_overrides(database_path=Path(args.db))
    if getattr(args, "demo", False) and settings.environment == "development":
        settings = settings.with_overrides(environment="demo")
    settings.check()
    return settings


async def _prepare_demo(settings: Settings) -> demo.DemoLogins:
    db = await Database.open(settings.database_path)
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


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.server import create_app
    from app.wsprotocol import PushProtocol

    settings = _settings(args)
    port = args.port if args.port is not None else int(os.environ.get("PORT", "8000"))
    if args.demo:
        logins = asyncio.run(_prepare_demo(settings))
        host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
        _print_demo(logins, f"http://{host}:{port}/")
    options: dict[str, Any] = {
        "host": args.host,
        "port": port,
        "ws": PushProtocol,
        "ws_max_size": settings.ws_max_message_bytes,
        "ws_per_message_deflate": False,
        "timeout_graceful_shutdown": 5,
        "proxy_headers": True,
        "forwarded_allow_ips": list(settings.trusted_proxies),
        "log_level": os.environ.get("INZOOMEN_LOG_LEVEL", "info"),
    }
    if args.workers > 1:
        if not settings.redis_url:
            raise ConfigError("--workers above 1 needs INZOOMEN_REDIS_URL for live updates")
        # Each worker process builds the app from the environment.
        os.environ["INZOOMEN_DB"] = str(settings.database_path)
        os.environ["INZOOMEN_ENV"] = settings.environment
        factory = "app.server:app_from_environment"
        uvicorn.run(factory, factory=True, workers=args.workers, **options)
    else:
        uvicorn.run(create_app(settings), **options)
    return 0


def migrate(args: argparse.Namespace) -> int:
    settings = _settings(args)

    async def run() -> list[int]:
        db = await Database.open(settings.database_path, migrate=False)
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
        db = await Database.open(settings.database_path)
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

    async def run() -> None:
        db = await Database.open(settings.database_path, migrate=False)
        try:
            await db.backup_to(target)
        finally:
            await db.close()

    asyncio.run(run())
    print(f"backup written to {target}")
    return 0


def retention(args: argparse.Namespace) -> int:
    from app import privacy

    settings = _settings(args)
    days = settings.retention_days if args.days is None else args.days
    if not 0 <= days <= 3650:
        print("error: --days must be between 0 and 3650", file=sys.stderr)
        return 2

    async def run() -> privacy.RetentionResult:
        db = await Database.open(settings.database_path)
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


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="inzoomen", description="The Inzoomen live event hall")
    commands = top.add_subparsers(dest="command", required=True)

    p = commands.add_parser("serve", help="run the hall")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=None, help="default: $PORT or 8000")
    p.add_argument("--db", help="SQLite file (default: $INZOOMEN_DB or inzoomen.db)")
    p.add_argument("--demo", action="store_true", help="create a demo event when none exists")
    p.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("WEB_CONCURRENCY", "1")),
        help="worker processes (above 1 needs INZOOMEN_REDIS_URL); default: $WEB_CONCURRENCY or 1",
    )
    p.set_defaults(run=serve)

    p = commands.add_parser("migrate", help="apply database migrations")
    p.add_argument("--db")
    p.set_defaults(run=migrate)

    p = commands.add_parser("create-user", help="create an advisor or moderator account")
    p.add_argument("--db")
    p.add_argument("--role", choices=accounts.ROLES, required=True)
    p.add_argument("--email", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--booth", help="booth slug (advisors)")
    p.add_argument("--personal-link", help="the advisor's own meeting link")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p.set_defaults(run=create_user)

    p = commands.add_parser(
        "retention", help="anonymise candidates' personal data past its retention time"
    )
    p.add_argument("--db")
    p.add_argument("--dry-run", action="store_true", help="only say what would be anonymised")
    p.add_argument(
        "--days", type=int, help="days after the event (default: $INZOOMEN_RETENTION_DAYS)"
    )
    p.set_defaults(run=retention)

    p = commands.add_parser("backup", help="consistent copy of the live database")
    p.add_argument("--db")
    p.add_argument("target")
    p.set_defaults(run=backup)
    return top


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    args = parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
