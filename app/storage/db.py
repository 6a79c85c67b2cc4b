"""The hall's database, whichever it is: what every part above the storage layer sees.

Two backends keep the same rules: SQLite (``app/storage/sqlite.py``), the embedded default
for one machine, and PostgreSQL (``app/storage/postgres.py``) for a hall on several app
machines. ``Database.open`` takes a file path, ``sqlite:///path`` or ``postgresql://…``.

Writes: every change is one guarded transaction, committed (durable) before anyone is told of
it. Write transactions run one at a time — on SQLite because the file has one writer, on
PostgreSQL because each takes the hall's write lock first, across every app machine — so
each sees every commit before it, and the rules the domain checks before it writes hold as
they would for a single user. Transactions that queue up on one process share one commit
(group commit): each runs in a savepoint of one open transaction, and one ``COMMIT`` ends
the group. A transaction that fails rolls back to its savepoint and changes nothing; if the
commit fails, every transaction of the group fails with it.

Every write transaction that changes a row also moves the database revision on by one
(``revision()``), except bookkeeping that no view shows (``transaction(moves_revision=False)``):
clients compare states by the revision, so a revision moved by a background round that found
nothing to do, or by a lease renewal, would tell them of a change that is not there. The
revision is a row, moved inside the write lock, so revisions are committed in their order.

Reads only ever see committed state, and each read sees every commit before it.

The SQL the domain writes is one dialect for both: ``?`` (or ``:name``) parameters, standard
SQL, ``RETURNING``, ``ON CONFLICT``, partial indexes, and ``COLLATE NOCASE`` for e-mail
addresses. What differs (the catalogue of tables, row identity) is asked of the backend.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

Params = Sequence[Any] | dict[str, Any]

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
# A transaction that changed a row moves the hall's revision on by one.
REVISION_STEP = "UPDATE revision SET rev = rev + 1"


class Row(Protocol):
    """A result row: by column name or position (``sqlite3.Row``, ``asyncpg.Record``)."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def keys(self) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...

    def __len__(self) -> int: ...


class IntegrityError(Exception):
    """The database's own rules refused a change: a unique index, a check, a trigger."""


class Unavailable(Exception):
    """The database does not answer now (restarting, unreachable, busy past its wait). The
    action changed nothing that was acknowledged and may be tried again."""


class Conflict(Unavailable):
    """The database broke off this transaction because it met another one (a deadlock, a
    serialisation failure). Nothing of it was kept; done again, it goes through."""


def backend_of(target: str | Path) -> str:
    text = str(target)
    if text.startswith(("postgresql://", "postgres://")):
        return POSTGRESQL
    return SQLITE


def sqlite_path(target: str | Path) -> Path:
    """The file of a SQLite target: a path, or ``sqlite:///relative`` /
    ``sqlite:////absolute``."""
    text = str(target)
    if text.startswith("sqlite:///"):
        return Path(text.removeprefix("sqlite:///"))
    if text.startswith("sqlite:"):
        raise ValueError(f"a SQLite URL is sqlite:///path, got {text!r}")
    return Path(text)


def migrations(backend: str = SQLITE) -> list[tuple[int, str]]:
    """Every migration the package carries for a backend, as (version, SQL), oldest first.

    PostgreSQL starts from one file that creates the schema SQLite has after the same
    version; later versions come as a pair, one file in each folder."""
    folder = resources.files("app.storage.migrations")
    if backend == POSTGRESQL:
        folder = folder / "postgresql"
    found: list[tuple[int, str]] = []
    for entry in folder.iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), entry.read_text(encoding="utf-8")))
    return sorted(found)


class Transaction(ABC):
    """One write transaction; each statement runs to its end before the next."""

    dialect: str
    # How a statement names a row of any table (privacy's scrub reads and updates by it).
    row_id: str

    @abstractmethod
    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run a statement; return the number of rows it changed."""

    @abstractmethod
    async def insert(self, sql: str, params: Params = ()) -> int:
        """Insert one row into a table with an ``id`` column; return its id."""

    @abstractmethod
    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]: ...

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def fetchvalue(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]

    @property
    @abstractmethod
    def changes(self) -> int:
        """Rows changed so far in this transaction (to know whether the revision moves)."""


class Database(ABC):
    """The hall's database. ``open`` picks the backend from the target."""

    dialect: str
    row_id: str

    def __init__(self) -> None:
        self._write_lock = asyncio.Lock()
        self._counts_revisions = False
        self._group: asyncio.Future[None] | None = None
        self._committer: asyncio.Task[None] | None = None
        self.commits = 0

    @staticmethod
    async def open(target: str | Path, *, migrate: bool = True) -> Database:
        if backend_of(target) == POSTGRESQL:
            from app.storage.postgres import PostgresDatabase

            return await PostgresDatabase.connect(str(target), migrate=migrate)
        from app.storage.sqlite import SqliteDatabase

        return await SqliteDatabase.connect(sqlite_path(target), migrate=migrate)

    @property
    @abstractmethod
    def url(self) -> str:
        """Where the database is, without a password (for logs and health)."""

    @property
    def path(self) -> Path | None:
        """The SQLite file, or None for a database server."""
        return None

    async def close(self) -> None:
        if self._committer is not None:
            with contextlib.suppress(Exception):
                await self._committer

    @abstractmethod
    async def migrate(self) -> list[int]:
        """Apply every migration not yet applied, exactly once even when several processes
        start at the same moment; return the versions applied now."""

    # What each backend does for the shared write path.

    @abstractmethod
    async def _begin(self, *then: str) -> None:
        """Open the write transaction a group runs in (taking the hall's write lock), then
        run ``then`` (as ``_control``)."""

    @abstractmethod
    async def _control(self, *sql: str) -> None:
        """Run statements without parameters on the writer, in order: SAVEPOINT, RELEASE,
        ROLLBACK TO, COMMIT, ROLLBACK, the revision's step. A database server gets them in
        one round trip."""

    @abstractmethod
    def _transaction(self) -> Transaction: ...

    async def _commit_failed(self) -> None:
        """Called after a failed COMMIT: leave the writer ready for the next group."""
        with contextlib.suppress(Exception):
            await self._control("ROLLBACK")

    @asynccontextmanager
    async def transaction(self, *, moves_revision: bool = True) -> AsyncIterator[Transaction]:
        """One guarded transaction; the block is left only once it is committed.

        The revision moves on only when the transaction changed a row; ``moves_revision=False``
        is for rows no client's view is built from (leases, the record of a retention run).
        """
        async with self._write_lock:
            if self._group is None:
                await self._begin("SAVEPOINT tx")
                self._group = asyncio.get_running_loop().create_future()
                self._committer = asyncio.create_task(self._commit_group())
            else:
                await self._control("SAVEPOINT tx")
            group = self._group
            tx = self._transaction()
            try:
                yield tx
            except BaseException:
                with contextlib.suppress(Unavailable):
                    await self._control("ROLLBACK TO tx", "RELEASE tx")
                raise
            if self._counts_revisions and moves_revision and tx.changes:
                await self._control(REVISION_STEP, "RELEASE tx")
            else:
                await self._control("RELEASE tx")
        await asyncio.shield(group)

    async def _commit_group(self) -> None:
        # Transactions already waiting for the writer join this group before it commits.
        await asyncio.sleep(0)
        async with self._write_lock:
            group, self._group = self._group, None
            assert group is not None
            try:
                await self._control("COMMIT")
            except BaseException as error:
                await self._commit_failed()
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

    @abstractmethod
    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        """Run a read to its end, on committed state."""

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def fetchvalue(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        async with self.transaction() as tx:
            for params in rows:
                await tx.execute(sql, params)

    @abstractmethod
    async def probe(self) -> None:
        """Ask the database through a new connection whether it answers (readiness)."""

    @abstractmethod
    async def backup_to(self, target: Path) -> None:
        """A consistent copy of the live database in a file."""

    @abstractmethod
    @contextlib.contextmanager
    def observe_reads(self, callback: Callable[[str], object]) -> Iterator[None]:
        """Call ``callback`` with the text of every read statement while the block runs: how
        the tests and the benchmark count the reads a view costs."""


async def table_columns(db: Database | Transaction) -> dict[str, list[str]]:
    """Every hall table and its columns in order (the migrations' own table aside), read from
    the backend's catalogue."""
    found: dict[str, list[str]] = {}
    if db.dialect == POSTGRESQL:
        rows = await db.fetchall(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name != 'schema_migrations' "
            "ORDER BY table_name, ordinal_position"
        )
        for row in rows:
            found.setdefault(row["table_name"], []).append(row["column_name"])
        return found
    tables = await db.fetchall(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "AND name != 'schema_migrations' ORDER BY name"
    )
    for table in tables:
        columns = await db.fetchall(f'PRAGMA table_info("{table["name"]}")')
        found[table["name"]] = [c["name"] for c in columns]
    return found
