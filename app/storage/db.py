"""SQLite storage: one writer connection, one reader connection, numbered migrations.

Every write runs in ``BEGIN IMMEDIATE`` on the writer connection (aiosqlite, on its own
thread: a commit may wait for the disk or for another process's write), serialised by a
lock, so a transition is one guarded transaction and is committed before anyone is told
about it. Commits are synced to disk (``synchronous = FULL``); transactions that queue up
behind each other share one commit (see ``transaction``).

Reads go through a second connection and so only ever see committed state (WAL mode, where
a reader never waits for a writer). They run on the event loop itself: they are short,
indexed queries on a local file, and handing each to a thread and back costs more than the
query. Each read runs to its end at once, so every read sees every commit before it.

Every write transaction that changes a row also moves the database revision on by one
(``revision()``), except bookkeeping that no view shows (``transaction(moves_revision=False)``):
clients compare states by the revision, so a revision moved by a background round that found
nothing to do, or by a lease renewal, would tell them of a change that is not there.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

from app.core import names

Row = sqlite3.Row
Params = Sequence[Any] | dict[str, Any]

BUSY_TIMEOUT_MS = 5000


def migrations() -> list[tuple[int, str]]:
    """Every migration the package carries, as (version, SQL), oldest first."""
    found: list[tuple[int, str]] = []
    for entry in resources.files("app.storage.migrations").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), entry.read_text(encoding="utf-8")))
    return sorted(found)


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


class Transaction:
    """The writer connection inside one ``BEGIN IMMEDIATE`` transaction.

    Each statement is one trip to the writer's thread and back, run there to its end.
    """

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run a statement; return the number of rows it changed."""
        before = self._conn.total_changes
        await self._conn.execute_fetchall(sql, params)
        return self._conn.total_changes - before

    async def insert(self, sql: str, params: Params = ()) -> int:
        row_id = (await self._conn.execute_insert(sql, params) or (None,))[0]
        assert row_id is not None
        return int(row_id)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        return list(await self._conn.execute_fetchall(sql, params))


def _connect_reader(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA query_only = ON")
    conn.create_collation(names.COLLATION, names.collate)
    return conn


class Database:
    def __init__(self, path: Path, writer: aiosqlite.Connection, reader: sqlite3.Connection):
        self.path = path
        self._writer = writer
        self._reader = reader
        self._write_lock = asyncio.Lock()
        self._counts_revisions = False
        self._group: asyncio.Future[None] | None = None
        self._committer: asyncio.Task[None] | None = None
        self.commits = 0

    @classmethod
    async def open(cls, path: Path | str, *, migrate: bool = True) -> Database:
        path = Path(path)
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

    async def close(self) -> None:
        if self._committer is not None:
            with contextlib.suppress(Exception):
                await self._committer
        self._reader.close()
        await self._writer.close()

    async def migrate(self) -> list[int]:
        """Apply every migration not yet applied; return the versions applied now.

        Each version is checked and applied inside one ``BEGIN IMMEDIATE`` transaction, so
        several processes starting on the same file apply each migration exactly once.
        """
        applied_now: list[int] = []
        async with self._write_lock:
            await self._writer.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
            )
            for version, sql in migrations():
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

    @asynccontextmanager
    async def transaction(self, *, moves_revision: bool = True) -> AsyncIterator[Transaction]:
        """One guarded transaction; the block is left only once it is committed.

        The revision moves on only when the transaction changed a row; ``moves_revision=False``
        is for rows no client's view is built from (leases, the record of a retention run).

        Transactions that arrive while others are running are committed together (group
        commit): each runs in a savepoint of one open ``BEGIN IMMEDIATE`` transaction, and
        one ``COMMIT`` — one sync to disk — ends the group. A transaction that fails rolls
        back to its savepoint and changes nothing; if the commit fails, every transaction of
        the group fails with it.
        """
        async with self._write_lock:
            if self._group is None:
                await self._writer.execute("BEGIN IMMEDIATE")
                self._group = asyncio.get_running_loop().create_future()
                self._committer = asyncio.create_task(self._commit_group())
            group = self._group
            await self._writer.execute("SAVEPOINT tx")
            changes_before = self._writer.total_changes
            try:
                yield Transaction(self._writer)
            except BaseException:
                await self._writer.execute("ROLLBACK TO tx")
                await self._writer.execute("RELEASE tx")
                raise
            changed = self._writer.total_changes != changes_before
            if self._counts_revisions and moves_revision and changed:
                await self._writer.execute("UPDATE revision SET rev = rev + 1")
            await self._writer.execute("RELEASE tx")
        await asyncio.shield(group)

    async def _commit_group(self) -> None:
        # Transactions already waiting for the writer join this group before it commits.
        await asyncio.sleep(0)
        async with self._write_lock:
            group, self._group = self._group, None
            assert group is not None
            try:
                await self._writer.execute("COMMIT")
            except BaseException as error:
                with contextlib.suppress(Exception):
                    await self._writer.execute("ROLLBACK")
                group.set_exception(error)
                group.add_done_callback(lambda done: done.exception())
                if not isinstance(error, Exception):
                    raise
            else:
                self.commits += 1
                group.set_result(None)

    async def revision(self) -> int:
        """The revision of the committed state: read it before reading a view, and the view
        includes at least every change up to it."""
        return int(await self.fetchvalue("SELECT rev FROM revision") or 0)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        """Run a read to its end. A statement left open would pin the reader to an older
        snapshot of the database, so none is."""
        return self._reader.execute(sql, params).fetchall()

    async def fetchvalue(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        async with self.transaction() as tx:
            for params in rows:
                await tx.execute(sql, params)

    async def backup_to(self, target: Path) -> None:
        """A consistent copy of the live database (SQLite online backup)."""

        def copy() -> None:
            source = sqlite3.connect(self.path)
            dest = sqlite3.connect(target)
            try:
                source.backup(dest)
            finally:
                dest.close()
                source.close()

        await asyncio.to_thread(copy)

    @contextlib.contextmanager
    def observe_reads(self, callback: Callable[[str], object]) -> Iterator[None]:
        """Call ``callback`` with the text of every statement the reader connection runs
        while the block runs (sqlite3's trace callback): how the tests and the benchmark
        count the reads a view costs, since the cost of a view is mostly how many it makes."""
        self._reader.set_trace_callback(callback)
        try:
            yield
        finally:
            self._reader.set_trace_callback(None)
