"""Copy a hall's database to another database, SQLite or PostgreSQL, and prove the copy equal.

An organiser whose event outgrows one machine moves it from its SQLite file to PostgreSQL;
after the event, a PostgreSQL hall may be archived as one SQLite file. Both go through the
hall's own ``Database`` at each end, so the copy obeys the same schema, constraints and
triggers as the hall itself, and ends with every row read back from both ends and compared.

What the copy promises:

- The source is a hall database on the newest schema (else: migrate it first). The target is
  migrated here and must hold no hall data; only the revision row its migration seeds is
  replaced. A refused copy changes nothing.
- All or nothing: every row goes into the target in ONE write transaction, in batches, with
  its own id. A failure rolls the whole copy back.
- Consistency while the source hall runs: a SQLite source is first copied with SQLite's
  online backup into a temporary file (one consistent snapshot; the hall goes on meanwhile),
  and everything is read from that snapshot. A PostgreSQL source is read inside one of its
  own write transactions, which holds the hall's write lock: no write commits meanwhile, so
  every table is read at the same moment, but the running hall's writes wait (and after
  ``lock_timeout`` fail with "try again") until the copy is done. Stop a PostgreSQL hall
  before copying it, or copy it after the event.
- The revision goes over as it is: clients compare revisions, and the target continues
  from the source's, never below it. On PostgreSQL each identity sequence is moved past the
  highest id copied, so the next row gets the next id.
- Rows arrive exactly as they are. Foreign keys stay checked while rows go in: tables are
  copied parents first (read from the database's own catalogue), and a reference that would
  point forward (``requests.transferred_from`` to a conversation copied later) is written
  once the row it points to is there. Triggers stay on, so no special privilege is needed
  (PostgreSQL's ``session_replication_role`` needs a superuser, which a managed database
  does not give): the columns the triggers read when refusing a row (a candidate's
  ``blocked_at`` and ``erased_at``, which refuse requests of that candidate) are written
  after the rows that depend on them, and a column a trigger fills only when it is NULL
  (``requests.line_at``, ``conversations.join_until``) is put back to NULL where the source
  has NULL. The comparison at the end finds any row a trigger would still change.
- Verification happens after the commit, against the same snapshot: every table, every row,
  every column (texts, integers and floats exactly). A difference is reported and the target
  must not be used.
"""

from __future__ import annotations

import contextlib
import math
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.storage.db import (
    POSTGRESQL,
    SQLITE,
    Database,
    Row,
    Transaction,
    backend_of,
    migrations,
    sqlite_path,
    table_columns,
)

BATCH_ROWS = 500
# Both SQLite (32766) and PostgreSQL (32767) bound the parameters of one statement.
MAX_PARAMETERS = 30000
# The only row a newly migrated hall database holds.
SEEDED_TABLES = frozenset({"revision"})
# Columns that BEFORE INSERT triggers of another table read to refuse a row: a request of a
# blocked or erased candidate is refused. They are written once every table is in.
TRIGGER_INPUTS: dict[str, tuple[str, ...]] = {"candidates": ("blocked_at", "erased_at")}
# Columns a trigger fills on insert when they are NULL: a NULL in the source is put back.
FILLED_ON_INSERT: dict[str, tuple[str, ...]] = {
    "requests": ("line_at",),
    "conversations": ("join_until",),
}
SHOWN_DIFFERENCES = 20

Reader = Database | Transaction


class CopyRefused(Exception):
    """The copy was not started: the source or target is not fit for it. Nothing changed."""


class CopyMismatch(Exception):
    """The copy was committed, but the target does not hold the same rows as the source."""

    def __init__(self, differences: list[str]) -> None:
        super().__init__(f"{len(differences)} difference(s) between source and target")
        self.differences = differences


@dataclass(frozen=True)
class ForeignKey:
    table: str
    column: str
    parent: str
    nullable: bool


@dataclass
class CopyResult:
    source: str
    target: str
    # Rows copied per table, in the order they were copied.
    tables: dict[str, int] = field(default_factory=dict)
    revision: int = 0
    # Rows per table found equal at both ends after the commit.
    verified: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def foreign_keys(db: Reader) -> list[ForeignKey]:
    """Every foreign key of the hall's tables (one column each), from the catalogue."""
    if db.dialect == POSTGRESQL:
        rows = await db.fetchall(
            "SELECT child.relname AS child, attribute.attname AS column_name, "
            "parent.relname AS parent, NOT attribute.attnotnull AS nullable "
            "FROM pg_constraint AS c "
            "JOIN pg_class AS child ON child.oid = c.conrelid "
            "JOIN pg_class AS parent ON parent.oid = c.confrelid "
            "JOIN pg_attribute AS attribute ON attribute.attrelid = c.conrelid "
            "AND attribute.attnum = ANY (c.conkey) "
            "WHERE c.contype = 'f' AND child.relnamespace = current_schema()::regnamespace "
            "ORDER BY child.relname, attribute.attname"
        )
        return [
            ForeignKey(r["child"], r["column_name"], r["parent"], bool(r["nullable"])) for r in rows
        ]
    found: list[ForeignKey] = []
    for table in await table_columns(db):
        not_null = {
            c["name"]
            for c in await db.fetchall(f"PRAGMA table_info({_quoted(table)})")
            if c["notnull"]
        }
        for key in await db.fetchall(f"PRAGMA foreign_key_list({_quoted(table)})"):
            column = key["from"]
            found.append(ForeignKey(table, column, key["table"], column not in not_null))
    return sorted(found, key=lambda k: (k.table, k.column))


def copy_order(
    tables: Sequence[str], keys: Sequence[ForeignKey]
) -> tuple[list[str], dict[str, tuple[str, ...]]]:
    """Tables parents first, and per table the columns to write only once every table is in:
    references to a table copied later (a cycle, broken at a column that may be NULL) or to
    the table itself."""
    order: list[str] = []
    later: dict[str, list[str]] = {}
    remaining = sorted(tables)
    while remaining:

        def waits_for(table: str) -> list[ForeignKey]:
            return [
                k
                for k in keys
                if k.table == table
                and k.parent != table
                and k.parent not in order
                and k.parent in tables
            ]

        ready = [t for t in remaining if not waits_for(t)]
        if not ready:
            # A cycle: start with a table whose forward references may all be NULL for now.
            breakable = [t for t in remaining if all(k.nullable for k in waits_for(t))]
            if not breakable:
                raise CopyRefused(
                    f"no order of copying the tables {remaining} satisfies their keys"
                )
            table = breakable[0]
            later.setdefault(table, []).extend(k.column for k in waits_for(table))
            ready = [table]
        for table in ready:
            later.setdefault(table, []).extend(
                k.column for k in keys if k.table == table and k.parent == table and k.nullable
            )
            order.append(table)
            remaining.remove(table)
    return order, {t: tuple(dict.fromkeys(c)) for t, c in later.items() if c}


async def schema_version(db: Database) -> int | None:
    """The newest migration applied to a database; None when it has no hall schema."""
    try:
        value = await db.fetchvalue("SELECT MAX(version) FROM schema_migrations")
    except Exception:
        return None
    return None if value is None else int(value)


def newest_version(dialect: str) -> int:
    return migrations(dialect)[-1][0]


async def tables_with_rows(db: Reader) -> list[str]:
    """The hall tables that hold rows, the row a migration seeds aside."""
    found = []
    for table in await table_columns(db):
        if table in SEEDED_TABLES:
            continue
        if await db.fetchone(f"SELECT 1 FROM {_quoted(table)} LIMIT 1") is not None:
            found.append(table)
    return found


def _same_place(a: str, b: str) -> bool:
    if backend_of(a) != backend_of(b):
        return False
    if backend_of(a) == SQLITE:
        return sqlite_path(a).resolve() == sqlite_path(b).resolve()
    return a.rstrip("/") == b.rstrip("/")


@contextlib.asynccontextmanager
async def _snapshot(source: Database) -> AsyncIterator[Reader]:
    """The source as one consistent state, for as long as the copy and its check need it."""
    if source.dialect == POSTGRESQL:
        async with source.transaction(moves_revision=False) as tx:
            yield tx
        return
    with tempfile.TemporaryDirectory(prefix="inzoomen-copy-") as folder:
        path = Path(folder) / "snapshot.db"
        await source.backup_to(path)
        snapshot = await Database.open(path, migrate=False)
        try:
            yield snapshot
        finally:
            await snapshot.close()


async def _check_source(source: Database, shown: str) -> None:
    version = await schema_version(source)
    newest = newest_version(source.dialect)
    if version is None:
        raise CopyRefused(f"{shown} holds no hall database (no schema_migrations table)")
    if version < newest:
        raise CopyRefused(
            f"{shown} is on schema version {version}, this version of the hall writes "
            f"{newest}: run `inzoomen migrate` on it first (or start the hall on it once)"
        )
    if version > newest:
        raise CopyRefused(
            f"{shown} is on schema version {version}, newer than this version of the hall "
            f"knows ({newest}): copy it with the version of the hall that wrote it"
        )


async def _check_target(target: Database) -> None:
    """Refuse a target with hall data before changing it, then migrate it."""
    if await schema_version(target) is not None:
        filled = await tables_with_rows(target)
        if filled:
            raise CopyRefused(
                f"the target {target.url} already holds hall data (rows in "
                f"{', '.join(filled)}): copy into a new, empty database"
            )
    await target.migrate()
    filled = await tables_with_rows(target)
    if filled:  # pragma: no cover - a migration seeds only the revision row
        raise CopyRefused(f"the target {target.url} holds rows in {', '.join(filled)}")


async def _insert_rows(
    tx: Transaction,
    table: str,
    columns: list[str],
    rows: list[Row],
    held: tuple[str, ...],
    batch_rows: int,
) -> None:
    held_at = [columns.index(c) for c in held]
    per_statement = max(1, min(batch_rows, MAX_PARAMETERS // len(columns)))
    head = f"INSERT INTO {_quoted(table)} ({', '.join(_quoted(c) for c in columns)}) VALUES "
    one = "(" + ", ".join("?" for _ in columns) + ")"
    for start in range(0, len(rows), per_statement):
        batch = rows[start : start + per_statement]
        params: list[Any] = []
        for row in batch:
            values = list(row)
            for index in held_at:
                values[index] = None
            params.extend(values)
        await tx.execute(head + ", ".join(one for _ in batch), params)


async def _restore_columns(
    tx: Transaction,
    table: str,
    columns: list[str],
    rows: list[Row],
    held: tuple[str, ...],
) -> None:
    """Write the held-back values, and NULL where a trigger filled a column the source left
    NULL."""
    filled = FILLED_ON_INSERT.get(table, ())
    if not held and not filled:
        return
    if "id" not in columns:
        raise CopyRefused(f"table {table} has columns to write later but no id column")
    id_at = columns.index("id")
    if held:
        sets = ", ".join(f"{_quoted(c)} = ?" for c in held)
        sql = f"UPDATE {_quoted(table)} SET {sets} WHERE id = ?"
        for row in rows:
            values = [row[columns.index(c)] for c in held]
            if any(v is not None for v in values):
                await tx.execute(sql, [*values, row[id_at]])
    for column in filled:
        at = columns.index(column)
        sql = f"UPDATE {_quoted(table)} SET {_quoted(column)} = NULL WHERE id = ?"
        for row in rows:
            if row[at] is None:
                await tx.execute(sql, [row[id_at]])


async def _move_sequences(tx: Transaction, tables: dict[str, list[str]]) -> None:
    """Each identity sequence past the highest id copied: the next insert gets max + 1."""
    for table, columns in tables.items():
        if "id" not in columns:
            continue
        sequence = await tx.fetchvalue("SELECT pg_get_serial_sequence(?, 'id')", (_quoted(table),))
        if sequence is None:
            continue
        await tx.fetchvalue(
            f"SELECT setval(?::regclass, COALESCE((SELECT MAX(id) FROM {_quoted(table)}), 0) + 1, "
            "false)",
            (sequence,),
        )


def _sort_key(row: tuple[Any, ...]) -> tuple[tuple[bool, Any], ...]:
    return tuple((value is None, 0 if value is None else value) for value in row)


def _same_value(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        if not (isinstance(a, float) and isinstance(b, float)):
            return False
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, (bytes, bytearray, memoryview)) and isinstance(
        b, (bytes, bytearray, memoryview)
    ):
        return bytes(a) == bytes(b)
    return type(a) is type(b) and bool(a == b)


async def _all_rows(db: Reader, table: str, columns: list[str]) -> list[tuple[Any, ...]]:
    listed = ", ".join(_quoted(c) for c in columns)
    rows = await db.fetchall(f"SELECT {listed} FROM {_quoted(table)}")
    # Sorted here, not by ORDER BY: the two databases may order text differently.
    return sorted((tuple(r) for r in rows), key=_sort_key)


async def compare(
    source: Reader, target: Reader, tables: dict[str, list[str]]
) -> tuple[dict[str, int], list[str]]:
    """Every row of every table at both ends: rows per table, and the differences found."""
    counts: dict[str, int] = {}
    differences: list[str] = []
    for table, columns in tables.items():
        ours = await _all_rows(source, table, columns)
        theirs = await _all_rows(target, table, columns)
        counts[table] = len(theirs)
        if len(ours) != len(theirs):
            differences.append(
                f"{table}: {len(ours)} rows in the source, {len(theirs)} in the target"
            )
            continue
        for mine, copied in zip(ours, theirs, strict=True):
            for column, a, b in zip(columns, mine, copied, strict=True):
                if not _same_value(a, b):
                    differences.append(
                        f"{table} row {columns[0]}={mine[0]!r}: {column} is {a!r} in the "
                        f"source, {b!r} in the target"
                    )
    return counts, differences


async def copy_database(source: str, target: str, *, batch_rows: int = BATCH_ROWS) -> CopyResult:
    """Copy every row of the hall at ``source`` into the empty hall database at ``target``
    (paths or URLs), then compare both ends row for row.

    Raises ``CopyRefused`` before changing anything, ``CopyMismatch`` when the committed
    copy differs from the source."""
    if backend_of(source) == SQLITE and not sqlite_path(source).is_file():
        raise CopyRefused(f"the source {source} does not exist")
    if _same_place(source, target):
        raise CopyRefused("the source and the target are the same database")
    origin = await Database.open(source, migrate=False)
    try:
        await _check_source(origin, origin.url)
        destination = await Database.open(target, migrate=False)
        try:
            await _check_target(destination)
            return await _copy(origin, destination, batch_rows)
        finally:
            await destination.close()
    finally:
        await origin.close()


async def _copy(origin: Database, destination: Database, batch_rows: int) -> CopyResult:
    result = CopyResult(source=origin.url, target=destination.url)
    async with _snapshot(origin) as reader:
        tables = await table_columns(reader)
        theirs = await table_columns(destination)
        if tables != theirs:
            differ = sorted(t for t in set(tables) | set(theirs) if tables.get(t) != theirs.get(t))
            raise CopyRefused(
                f"the source and target schemas differ in {', '.join(differ)}: "
                "both must be on the same version of the hall"
            )
        order, later = copy_order(list(tables), await foreign_keys(reader))
        async with destination.transaction(moves_revision=False) as tx:
            for table in SEEDED_TABLES & set(tables):
                await tx.execute(f"DELETE FROM {_quoted(table)}")
            kept: dict[str, tuple[list[Row], tuple[str, ...]]] = {}
            for table in order:
                columns = tables[table]
                listed = ", ".join(_quoted(c) for c in columns)
                rows = await reader.fetchall(f"SELECT {listed} FROM {_quoted(table)}")
                held = later.get(table, ()) + TRIGGER_INPUTS.get(table, ())
                held = tuple(c for c in dict.fromkeys(held) if c in columns)
                await _insert_rows(tx, table, columns, rows, held, batch_rows)
                if held or table in FILLED_ON_INSERT:
                    kept[table] = (rows, held)
                result.tables[table] = len(rows)
            for table, (rows, held) in kept.items():
                await _restore_columns(tx, table, tables[table], rows, held)
            if tx.dialect == POSTGRESQL:
                await _move_sequences(tx, tables)
        result.revision = int(await reader.fetchvalue("SELECT rev FROM revision") or 0)
        counts, differences = await compare(reader, destination, tables)
    if differences:
        raise CopyMismatch(differences)
    result.verified = counts
    return result
