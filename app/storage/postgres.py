"""PostgreSQL: one database server for a hall on several app machines (see ``app/storage/db.py``).

asyncpg is the driver: asyncio-native, maintained, with its own connection pool and
prepared-statement cache, and the fastest of the Python drivers in its own and others'
measurements; psycopg 3 would have served too, but adds a pool package and is slower per
statement for the many small queries the hall makes.

Isolation, per kind of transaction:

- Writes run READ COMMITTED after taking the hall's write lock (a transaction-level advisory
  lock, the same key on every app machine): one write transaction at a time across the whole
  hall, each seeing every commit before it, as on SQLite. The domain's check-then-write rules
  therefore hold as they are written, and the database's own constraints (guarded
  ``UPDATE … WHERE … RETURNING``, unique and partial indexes, triggers) stand behind them.
  SERIALIZABLE was the alternative; but every write moves the one revision row, so any two
  concurrent writers would conflict there and all but one be retried: for short
  transactions, waiting for the lock costs less than redoing them. Waiting is bounded
  (``lock_timeout``): a writer that cannot get the lock in time gets ``Unavailable``, never
  a hang. Since every writer takes the same lock first, writers cannot deadlock each other.
- Each node groups the transactions that queue up behind each other into one commit, like
  the SQLite backend: the lock is held for the group, and one commit (one WAL flush) ends it.
  Nothing is acknowledged before its commit has returned (``synchronous_commit`` stays on).
- Reads are single statements in autocommit (READ COMMITTED) on a pool: each sees every
  commit before it. A read that finds its pooled connection broken (after a restart of the
  server) is tried once more on a new one; reads change nothing, so that is safe.

Errors a user must not see as a crash come out as the backend-neutral ``IntegrityError``
(constraint or trigger), ``Conflict`` (a serialisation failure or a deadlock with another
session: the command layer runs the command again) and ``Unavailable`` (server gone,
restarting, lock wait or statement timeout: the command layer answers "try again").
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import shutil
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import asyncpg

from app.core.config import redact
from app.storage.db import (
    POSTGRESQL,
    Conflict,
    Database,
    IntegrityError,
    Params,
    Row,
    Transaction,
    Unavailable,
    migrations,
)

T = TypeVar("T")

# pg_advisory_xact_lock key of the hall's write lock ("inzoomen" folded into 63 bits).
WRITE_LOCK = 0x696E7A6F6F6D656E
READ_POOL_SIZE = 8
CONNECT_TIMEOUT_SECONDS = 5.0
# Server-side bounds: a writer waits this long for the write lock, no statement runs longer,
# and a session left inside a transaction (a node frozen mid-write) loses it, so the lock
# never stays with a node that stopped.
SERVER_SETTINGS = {
    "lock_timeout": "10s",
    "statement_timeout": "30s",
    "idle_in_transaction_session_timeout": "15s",
    "application_name": "inzoomen",
}

# SQLSTATE classes and codes that mean "not now" rather than "wrong".
# The transaction met another one; run again, it succeeds.
_CONFLICT_CODES = {
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected
}
_TRANSIENT_CODES = {
    "55P03",  # lock_not_available (lock_timeout)
    "57014",  # query_canceled (statement_timeout)
    "57P01",  # admin_shutdown
    "57P02",  # crash_shutdown
    "57P03",  # cannot_connect_now (starting up, recovering)
    "25P03",  # idle_in_transaction_session_timeout
}

_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|::|\?|(?<![\w:]):([A-Za-z_]\w*)")


@functools.lru_cache(maxsize=2048)
def translate(sql: str) -> tuple[str, tuple[str, ...] | None]:
    """The hall's SQL (``?`` or ``:name`` parameters) as PostgreSQL's ``$n``; for named
    parameters, the names in the order of their numbers. Quoted text is left alone."""
    numbers: dict[str, int] = {}
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        token = match.group(0)
        if token == "?":
            count += 1
            return f"${count}"
        name = match.group(1)
        if name is None:
            return token
        if name not in numbers:
            count += 1
            numbers[name] = count
        return f"${numbers[name]}"

    text = _TOKENS.sub(replace, sql)
    return text, (tuple(numbers) if numbers else None)


def _arguments(names: tuple[str, ...] | None, params: Params) -> list[Any]:
    if names is None:
        if isinstance(params, dict):
            raise TypeError("named parameters given to a statement with ? placeholders")
        return list(params)
    if not isinstance(params, dict):
        raise TypeError("a statement with :name parameters takes a dict")
    return [params[name] for name in names]


def _is_transient(error: BaseException) -> bool:
    if isinstance(error, (OSError, asyncio.TimeoutError, asyncpg.InterfaceError)):
        return True
    if isinstance(error, asyncpg.PostgresConnectionError):  # class 08
        return True
    code = getattr(error, "sqlstate", None)
    return isinstance(code, str) and code in _TRANSIENT_CODES


async def _guarded(call: Awaitable[T], sql: str | None = None) -> T:
    """Run one driver call; give its failure the hall's meaning. A statement the server
    refuses for another reason is a fault in the hall: the log shows the statement."""
    try:
        return await call
    except asyncpg.IntegrityConstraintViolationError as error:
        raise IntegrityError(str(error)) from error
    except Exception as error:
        if getattr(error, "sqlstate", None) in _CONFLICT_CODES:
            raise Conflict(f"{type(error).__name__}: {error}") from error
        if _is_transient(error):
            raise Unavailable(f"{type(error).__name__}: {error}") from error
        if sql is not None:
            error.add_note(f"statement: {sql}")
        raise


def _changed(status: str) -> int:
    """Rows a command changed, from its tag ("UPDATE 3", "INSERT 0 1", "DELETE 0")."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


def _is_change(sql: str) -> bool:
    return sql.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE")


class PostgresTransaction(Transaction):
    dialect = POSTGRESQL
    # The physical address of a row: valid for the transaction that read it.
    row_id = "ctid"

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn
        self._changes = 0

    @property
    def changes(self) -> int:
        return self._changes

    async def execute(self, sql: str, params: Params = ()) -> int:
        text, names = translate(sql)
        args = _arguments(names, params)
        status = await _guarded(self._conn.execute(text, *args), sql)
        changed = _changed(status)
        self._changes += changed
        return changed

    async def insert(self, sql: str, params: Params = ()) -> int:
        text, names = translate(f"{sql} RETURNING id")
        row = await _guarded(self._conn.fetchrow(text, *_arguments(names, params)), sql)
        assert row is not None
        self._changes += 1
        return int(row[0])

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        text, names = translate(sql)
        rows = await _guarded(self._conn.fetch(text, *_arguments(names, params)), sql)
        if _is_change(sql):
            self._changes += len(rows)
        return list(rows)


class PostgresDatabase(Database):
    dialect = POSTGRESQL
    row_id = "ctid"

    def __init__(self, url: str, pool: asyncpg.Pool) -> None:
        super().__init__()
        self._url = url
        self._pool = pool
        self._writer: asyncpg.Connection | None = None
        self._observer: Callable[[str], object] | None = None
        self._counts_revisions = True

    @classmethod
    async def connect(cls, url: str, *, migrate: bool = True) -> PostgresDatabase:
        pool = await _guarded(
            asyncpg.create_pool(
                url,
                min_size=1,
                max_size=READ_POOL_SIZE,
                timeout=CONNECT_TIMEOUT_SECONDS,
                server_settings=SERVER_SETTINGS,
            )
        )
        db = cls(url, pool)
        try:
            if migrate:
                await db.migrate()
        except BaseException:
            await db.close()
            raise
        return db

    @property
    def url(self) -> str:
        return redact(self._url)

    async def _connect(self) -> asyncpg.Connection:
        connection: asyncpg.Connection = await _guarded(
            asyncpg.connect(
                self._url, timeout=CONNECT_TIMEOUT_SECONDS, server_settings=SERVER_SETTINGS
            )
        )
        return connection

    async def close(self) -> None:
        await super().close()
        await self._drop_writer()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._pool.close(), CONNECT_TIMEOUT_SECONDS)
        self._pool.terminate()

    async def _drop_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.close(), 1.0)
            writer.terminate()

    async def migrate(self) -> list[int]:
        """Each version is applied in one transaction that holds the write lock, so nodes
        starting at the same moment apply each exactly once (PostgreSQL's DDL is
        transactional: a migration that fails leaves nothing behind)."""
        applied_now: list[int] = []
        async with self._write_lock:
            conn = await self._connect()
            try:
                for version, sql in [(0, ""), *migrations(POSTGRESQL)]:
                    async with conn.transaction():
                        await _guarded(conn.execute("SELECT pg_advisory_xact_lock($1)", WRITE_LOCK))
                        if version == 0:
                            await _guarded(
                                conn.execute(
                                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                    "version INTEGER PRIMARY KEY, "
                                    "applied_at TEXT NOT NULL DEFAULT (now()::text))"
                                )
                            )
                            continue
                        done = await conn.fetchval(
                            "SELECT 1 FROM schema_migrations WHERE version = $1", version
                        )
                        if done is None:
                            await _guarded(conn.execute(sql))
                            await conn.execute(
                                "INSERT INTO schema_migrations (version) VALUES ($1)", version
                            )
                            applied_now.append(version)
            finally:
                await conn.close()
        return applied_now

    async def _begin(self, *then: str) -> None:
        if self._writer is None or self._writer.is_closed():
            self._writer = await self._connect()
        # One round trip: the transaction, the hall's write lock and what follows.
        script = ["BEGIN", f"SELECT pg_advisory_xact_lock({WRITE_LOCK})", *then]
        try:
            await _guarded(self._writer.execute("; ".join(script)))
        except Unavailable:
            await self._drop_writer()
            raise
        except BaseException:
            with contextlib.suppress(Exception):
                await self._writer.execute("ROLLBACK")
            raise

    async def _control(self, *sql: str) -> None:
        if self._writer is None:
            raise Unavailable("the database connection was lost")
        try:
            # Without parameters, several statements go as one simple query: one round trip.
            await _guarded(self._writer.execute("; ".join(sql)))
        except Unavailable:
            await self._drop_writer()
            raise

    async def _commit_failed(self) -> None:
        if self._writer is not None:
            try:
                await asyncio.wait_for(self._writer.execute("ROLLBACK"), 2.0)
            except Exception:
                await self._drop_writer()

    def _transaction(self) -> PostgresTransaction:
        assert self._writer is not None
        return PostgresTransaction(self._writer)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        text, names = translate(sql)
        args = _arguments(names, params)
        if self._observer is not None:
            self._observer(sql)
        for attempt in (1, 2):
            try:
                rows = await _guarded(self._pool.fetch(text, *args), sql)
                return list(rows)
            except Unavailable:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def probe(self) -> None:
        """A new connection must be made and answer: pooled ones may outlive the server."""
        conn = await self._connect()
        try:
            await _guarded(conn.fetchval("SELECT rev FROM revision"))
        finally:
            with contextlib.suppress(Exception):
                await conn.close()

    async def backup_to(self, target: Path) -> None:
        """pg_dump's custom format (restored with pg_restore): a consistent snapshot taken
        while the hall runs."""
        pg_dump = shutil.which("pg_dump")
        if pg_dump is None:
            raise RuntimeError("pg_dump is not installed (Debian package postgresql-client)")
        process = await asyncio.create_subprocess_exec(
            pg_dump,
            "--format=custom",
            "--no-owner",
            f"--file={target}",
            f"--dbname={self._url}",
            stderr=asyncio.subprocess.PIPE,
        )
        _, errors = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"pg_dump failed: {errors.decode(errors='replace').strip()}")

    @contextlib.contextmanager
    def observe_reads(self, callback: Callable[[str], object]) -> Iterator[None]:
        self._observer = callback
        try:
            yield
        finally:
            self._observer = None
