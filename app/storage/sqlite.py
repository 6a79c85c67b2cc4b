"""SQLite: the embedded default, one file on one machine (see ``app/storage/db.py``).

One writer connection and one reader connection. Every write group runs in ``BEGIN
IMMEDIATE`` on the writer (aiosqlite, on its own thread: a commit may wait for the disk or for
another process's write). Commits are synced to disk (``synchronous = FULL``).

Reads go through the second connection and so only ever see committed state (WAL mode, where
a reader never waits for a writer). They run on the event loop itself: they are short,
indexed queries on a local file, and handing each to a thread and back costs more than the
query. Each read runs to its end at once, so every read sees every commit before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import aiosqlite

from app.core import names
from app.storage.db import (
    SQLITE,
    Database,
    IntegrityError,
    Params,
    Row,
    Transaction,
    Unavailable,
    migrations,
)

BUSY_TIMEOUT_MS = 5000
# A readiness probe answers within a few seconds even when the file hangs rather than fails.
PROBE_TIMEOUT_SECONDS = 2.0


def _statements(script: str) -> list[str]:
    """Split a migration into statements (executescript would commit on its own)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        if line.lstrip().startswith("--"):
            continue
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        raise ValueError(f"incomplete SQL statement in migration: {current.strip()[:80]}")
    return statements


async def _connect(path: Path) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    await conn.execute("PRAGMA journal_mode = WAL")
    await conn.execute("PRAGMA synchronous = FULL")
    await conn.execute("PRAGMA foreign_keys = ON")
    # Erased personal data is overwritten with zeros, not left in free space of the file.
    await conn.execute("PRAGMA secure_delete = ON")
    # Lists of people are ordered as a Dutch reader expects (app/core/names.py). aiosqlite has no
    # create_collation of its own; its _execute runs the call on the connection's thread,
    # as its create_function does.
    await conn._execute(  # type: ignore[no-untyped-call]
        conn._conn.create_collation, names.COLLATION, names.collate
    )
    return conn


class SqliteTransaction(Transaction):
    """The writer connection inside one ``BEGIN IMMEDIATE`` transaction.

    Each statement is one trip to the writer's thread and back, run there to its end.
    """

    dialect = SQLITE
    row_id = "rowid"

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._before = conn.total_changes

    @property
    def changes(self) -> int:
        return self._conn.total_changes - self._before

    async def execute(self, sql: str, params: Params = ()) -> int:
        before = self._conn.total_changes
        try:
            await self._conn.execute_fetchall(sql, params)
        except sqlite3.IntegrityError as error:
            raise IntegrityError(str(error)) from error
        return self._conn.total_changes - before

    async def insert(self, sql: str, params: Params = ()) -> int:
        try:
            row_id = (await self._conn.execute_insert(sql, params) or (None,))[0]
        except sqlite3.IntegrityError as error:
            raise IntegrityError(str(error)) from error
        assert row_id is not None
        return int(row_id)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        try:
            return list(await self._conn.execute_fetchall(sql, params))
        except sqlite3.IntegrityError as error:
            raise IntegrityError(str(error)) from error


def _connect_reader(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA query_only = ON")
    conn.create_collation(names.COLLATION, names.collate)
    return conn


class SqliteDatabase(Database):
    dialect = SQLITE
    row_id = "rowid"

    def __init__(self, path: Path, writer: aiosqlite.Connection, reader: sqlite3.Connection):
        super().__init__()
        self._path = path
        self._writer = writer
        self._reader = reader

    @classmethod
    async def connect(cls, path: Path, *, migrate: bool = True) -> SqliteDatabase:
        writer = await _connect(path)
        reader = _connect_reader(path)
        db = cls(path, writer, reader)
        try:
            if migrate:
                await db.migrate()
            db._counts_revisions = (
                await db.fetchvalue(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'revision'"
                )
                is not None
            )
        except BaseException:
            await db.close()
            raise
        return db

    @property
    def path(self) -> Path:
        return self._path

    @property
    def url(self) -> str:
        return f"sqlite:///{self._path}"

    async def close(self) -> None:
        await super().close()
        self._reader.close()
        await self._writer.close()

    async def migrate(self) -> list[int]:
        """Each version is checked and applied inside one ``BEGIN IMMEDIATE`` transaction, so
        several processes starting on the same file apply each migration exactly once."""
        applied_now: list[int] = []
        async with self._write_lock:
            await self._writer.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
            )
            for version, sql in migrations(SQLITE):
                await self._writer.execute("BEGIN IMMEDIATE")
                try:
                    cursor = await self._writer.execute(
                        "SELECT 1 FROM schema_migrations WHERE version = ?", (version,)
                    )
                    done = await cursor.fetchone() is not None
                    await cursor.close()
                    if not done:
                        for statement in _statements(sql):
                            await self._writer.execute(statement)
                        await self._writer.execute(
                            "INSERT INTO schema_migrations (version) VALUES (?)", (version,)
                        )
                except BaseException:
                    await self._writer.execute("ROLLBACK")
                    raise
                await self._writer.execute("COMMIT")
                if not done:
                    applied_now.append(version)
        self._counts_revisions = True
        return applied_now

    async def _begin(self, *then: str) -> None:
        try:
            await self._writer.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            # Another process held the file past the busy timeout.
            raise Unavailable(str(error)) from error
        await self._control(*then)

    async def _control(self, *sql: str) -> None:
        for statement in sql:
            await self._writer.execute(statement)

    def _transaction(self) -> SqliteTransaction:
        return SqliteTransaction(self._writer)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        """A statement left open would pin the reader to an older snapshot of the database,
        so none is."""
        rows: list[Row] = self._reader.execute(sql, params).fetchall()
        return rows

    async def probe(self) -> None:
        """The hall's own reader must answer, and so must a new connection to the file at
        the configured path: connections already open go on reading a file that was deleted
        or replaced under them, while whatever is written after that is lost."""
        await self.fetchvalue("SELECT rev FROM revision")
        await asyncio.wait_for(
            asyncio.to_thread(_open_and_query, self._path), PROBE_TIMEOUT_SECONDS
        )

    async def backup_to(self, target: Path) -> None:
        """SQLite's online backup."""

        def copy() -> None:
            source = sqlite3.connect(self._path)
            dest = sqlite3.connect(target)
            try:
                source.backup(dest)
            finally:
                dest.close()
                source.close()

        await asyncio.to_thread(copy)

    @contextlib.contextmanager
    def observe_reads(self, callback: Callable[[str], object]) -> Iterator[None]:
        """sqlite3's trace callback on the reader connection."""
        self._reader.set_trace_callback(callback)
        try:
            yield
        finally:
            self._reader.set_trace_callback(None)


def _open_and_query(path: Path) -> None:
    # mode=rw: a missing file is an error here, not a new empty database.
    connection = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=PROBE_TIMEOUT_SECONDS)
    try:
        connection.execute("PRAGMA query_only = ON")
        if connection.execute("SELECT rev FROM revision").fetchone() is None:
            raise sqlite3.DatabaseError("the revision table is empty")
    finally:
        connection.close()
