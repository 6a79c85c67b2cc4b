"""The PostgreSQL schema is the SQLite schema: same tables, columns, keys, indexes, triggers.

The hall's SQL runs unchanged on both backends, so a column, constraint or trigger that one
has and the other lacks is a bug that shows only on one of them. Each test reads both
catalogues (a fresh SQLite file migrated by the application, a fresh PostgreSQL database
made by app/storage/migrations/postgresql/) into the same plain structures and compares them,
then inserts the same rows on both to see the triggers, defaults and the case-insensitive
e-mail address behave alike.
"""

from __future__ import annotations

import pprint
import re
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from app.storage.db import Database
from tests.pgkit import PostgresServer, _bin

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "app" / "storage" / "migrations" / "postgresql" / "0019_schema.sql"

# SQLite's declared types and the PostgreSQL types that give the same Python values back.
TYPES = {"INTEGER": "integer", "REAL": "double precision", "TEXT": "text", "BLOB": "bytea"}
# The loader's own bookkeeping, made by the loader on either backend, not by a migration.
LOADER_TABLES = {"schema_migrations"}
FK_ACTIONS = {
    "a": "NO ACTION",
    "r": "RESTRICT",
    "c": "CASCADE",
    "n": "SET NULL",
    "d": "SET DEFAULT",
}

Schema = dict[str, dict[str, Any]]


def _default(text: str | None) -> str | None:
    """A column default as SQL text, without PostgreSQL's casts: ``''::text`` is ``''``."""
    if text is None:
        return None
    text = re.sub(r"::[a-z ]+$", "", text.strip())
    number = re.fullmatch(r"'(-?[0-9.]+)'", text)
    return number.group(1) if number else text


def _predicate(text: str | None) -> str | None:
    """A partial index's WHERE clause in one spelling: no parentheses, casts or case."""
    if text is None:
        return None
    text = re.sub(r"::[a-z ]+", "", text).replace("<>", "!=")
    return " ".join(text.replace("(", " ").replace(")", " ").lower().split())


# SQLite ------------------------------------------------------------------------------------


def sqlite_schema(path: Path) -> Schema:
    conn = sqlite3.connect(path)
    try:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        schema: Schema = {}
        for table in tables:
            if table in LOADER_TABLES:
                continue
            sql = conn.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
            ).fetchone()[0]
            info = conn.execute(f"PRAGMA table_info({table})").fetchall()
            columns = [
                # A PRIMARY KEY column never holds NULL in the hall (PostgreSQL forbids it;
                # SQLite reports notnull 0 for it, an old quirk), so it counts as NOT NULL.
                (name, TYPES[type_], bool(notnull or pk), _default(default))
                for _, name, type_, notnull, default, pk in info
            ]
            primary_key = tuple(name for *_, name in sorted((r[5], r[1]) for r in info if r[5]))
            nocase = {
                name
                for _, name, *_ in info
                if re.search(rf"\b{name}\b[^,]*\bCOLLATE\s+NOCASE\b", sql, re.IGNORECASE)
            }
            unique_constraints: set[tuple[str, ...]] = set()
            indexes: dict[str, tuple[bool, tuple[str, ...], str | None]] = {}
            for _, index, unique, origin, _partial in conn.execute(
                f"PRAGMA index_list({table})"
            ).fetchall():
                cols = tuple(r[2] for r in conn.execute(f"PRAGMA index_info({index})"))
                if origin == "u":
                    unique_constraints.add(cols)
                elif origin == "c":
                    index_sql = conn.execute(
                        "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?",
                        (index,),
                    ).fetchone()[0]
                    where = re.search(r"\bWHERE\b(.*)$", index_sql, re.IGNORECASE | re.DOTALL)
                    indexes[index] = (bool(unique), cols, _predicate(where and where.group(1)))
            keys: dict[int, list[Any]] = {}
            for fk_id, _seq, target, source, to, on_update, on_delete, _match in conn.execute(
                f"PRAGMA foreign_key_list({table})"
            ):
                keys.setdefault(fk_id, [[], target, [], on_update, on_delete])
                keys[fk_id][0].append(source)
                keys[fk_id][2].append(to)
            foreign_keys = {
                (tuple(src), target, tuple(dst), on_update, on_delete)
                for src, target, dst, on_update, on_delete in keys.values()
            }
            schema[table] = {
                "columns": columns,
                "primary_key": primary_key,
                "nocase_columns": nocase,
                "unique_constraints": unique_constraints,
                "indexes": indexes,
                "foreign_keys": foreign_keys,
                "checks": len(re.findall(r"\bCHECK\s*\(", sql, re.IGNORECASE)),
                "triggers": {
                    row[0]
                    for row in conn.execute(
                        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?",
                        (table,),
                    )
                },
            }
        return schema
    finally:
        conn.close()


# PostgreSQL --------------------------------------------------------------------------------

_COLUMNS = """
SELECT c.relname AS table_name, a.attname, format_type(a.atttypid, a.atttypmod) AS type,
       a.attnotnull, pg_get_expr(d.adbin, d.adrelid) AS dflt, coll.collname
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
LEFT JOIN pg_collation coll ON coll.oid = a.attcollation
WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY c.relname, a.attnum
"""

_NAMES = """
ARRAY(SELECT a.attname FROM unnest({keys}) WITH ORDINALITY AS k(num, i)
      JOIN pg_attribute a ON a.attrelid = {rel} AND a.attnum = k.num ORDER BY k.i)
"""

_CONSTRAINTS = f"""
SELECT c.conrelid::regclass::text AS table_name, c.contype::text AS contype,
       {_NAMES.format(keys="c.conkey", rel="c.conrelid")} AS cols,
       c.confrelid::regclass::text AS target,
       {_NAMES.format(keys="c.confkey", rel="c.confrelid")} AS target_cols,
       c.confupdtype::text AS confupdtype, c.confdeltype::text AS confdeltype
FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
WHERE n.nspname = 'public' AND c.conrelid <> 0
"""

_INDEXES = f"""
SELECT t.relname AS table_name, i.relname AS index_name, x.indisunique,
       {_NAMES.format(keys="x.indkey::int2[]", rel="x.indrelid")} AS cols,
       pg_get_expr(x.indpred, x.indrelid) AS predicate
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = 'public'
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
"""

_TRIGGERS = """
SELECT tgrelid::regclass::text AS table_name, tgname FROM pg_trigger WHERE NOT tgisinternal
"""


async def pg_schema(conn: asyncpg.Connection) -> Schema:
    schema: Schema = {}
    for row in await conn.fetch(_COLUMNS):
        table = schema.setdefault(
            row["table_name"],
            {
                "columns": [],
                "primary_key": (),
                "nocase_columns": set(),
                "unique_constraints": set(),
                "indexes": {},
                "foreign_keys": set(),
                "checks": 0,
                "triggers": set(),
            },
        )
        table["columns"].append(
            (row["attname"], row["type"], row["attnotnull"], _default(row["dflt"]))
        )
        if row["collname"] == "nocase":
            table["nocase_columns"].add(row["attname"])
    for row in await conn.fetch(_CONSTRAINTS):
        table = schema[row["table_name"]]
        cols = tuple(row["cols"])
        if row["contype"] == "p":
            table["primary_key"] = cols
        elif row["contype"] == "u":
            table["unique_constraints"].add(cols)
        elif row["contype"] == "c":
            table["checks"] += 1
        elif row["contype"] == "f":
            table["foreign_keys"].add(
                (
                    cols,
                    row["target"],
                    tuple(row["target_cols"]),
                    FK_ACTIONS[row["confupdtype"]],
                    FK_ACTIONS[row["confdeltype"]],
                )
            )
    for row in await conn.fetch(_INDEXES):
        schema[row["table_name"]]["indexes"][row["index_name"]] = (
            row["indisunique"],
            tuple(row["cols"]),
            _predicate(row["predicate"]),
        )
    for row in await conn.fetch(_TRIGGERS):
        schema[row["table_name"]]["triggers"].add(row["tgname"])
    return schema


# Fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


def apply_schema(pg: PostgresServer, schema: Path = SCHEMA) -> str:
    """A new PostgreSQL database holding the schema file's tables; its URL."""
    url = pg.empty_database()
    done = subprocess.run(
        [_bin("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-1", "-f", str(schema), url],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return url


@pytest.fixture
async def pg_conn(pg: PostgresServer) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(apply_schema(pg))
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def lite(tmp_path: Path) -> AsyncIterator[sqlite3.Connection]:
    """A fresh SQLite file migrated by the application, opened plainly."""
    path = tmp_path / "hall.db"
    db = await Database.open(path)
    await db.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    try:
        yield conn
    finally:
        conn.close()


def sqlite_path_of(conn: sqlite3.Connection) -> Path:
    return Path(conn.execute("PRAGMA database_list").fetchone()[2])


def _differences(sqlite: Schema, postgres: Schema) -> dict[str, Any]:
    """Per table and aspect, what SQLite has against what PostgreSQL has."""
    found: dict[str, Any] = {}
    for table in sorted(set(sqlite) | set(postgres)):
        if table not in postgres or table not in sqlite:
            found[table] = {"sqlite": table in sqlite, "postgresql": table in postgres}
            continue
        for aspect, value in sqlite[table].items():
            other = postgres[table][aspect]
            if other == value:
                continue
            if aspect == "columns":
                # Only the columns that differ, or the two orders when only the order does.
                only_sqlite = [c for c in value if c not in other]
                only_pg = [c for c in other if c not in value]
                if only_sqlite or only_pg:
                    value, other = only_sqlite, only_pg
                else:
                    value, other = [c[0] for c in value], [c[0] for c in other]
            found.setdefault(table, {})[aspect] = {"sqlite": value, "postgresql": other}
    return found


# The catalogue -----------------------------------------------------------------------------


async def test_postgresql_has_every_table_column_key_index_and_trigger_of_sqlite(
    pg_conn: asyncpg.Connection, lite: sqlite3.Connection
) -> None:
    sqlite = sqlite_schema(sqlite_path_of(lite))
    postgres = await pg_schema(pg_conn)
    assert len(sqlite) > 20 and sum(len(t["columns"]) for t in sqlite.values()) > 150
    found = _differences(sqlite, postgres)
    assert not found, pprint.pformat(found)


async def test_a_missing_column_is_a_difference(
    pg: PostgresServer, lite: sqlite3.Connection, tmp_path: Path
) -> None:
    """The comparison itself sees a column the PostgreSQL file leaves out."""
    text = SCHEMA.read_text(encoding="utf-8")
    line = "    callback_phone TEXT NOT NULL DEFAULT '',\n"
    assert text.count(line) == 1
    shorter = tmp_path / "shorter.sql"
    shorter.write_text(text.replace(line, ""), encoding="utf-8")
    conn = await asyncpg.connect(apply_schema(pg, shorter))
    try:
        postgres = await pg_schema(conn)
    finally:
        await conn.close()
    found = _differences(sqlite_schema(sqlite_path_of(lite)), postgres)
    assert list(found) == ["conversations"]
    assert list(found["conversations"]) == ["columns"]


async def test_the_seeded_rows_are_the_same(
    pg_conn: asyncpg.Connection, lite: sqlite3.Connection
) -> None:
    sqlite = sqlite_schema(sqlite_path_of(lite))
    assert lite.execute("SELECT id, rev FROM revision").fetchall() == [(1, 0)]
    for table, shape in sqlite.items():
        names = ", ".join(name for name, *_ in shape["columns"])
        order = ", ".join(shape["primary_key"])
        query = f"SELECT {names} FROM {table} ORDER BY {order}"
        pg_rows = [tuple(r) for r in await pg_conn.fetch(query)]
        assert pg_rows == lite.execute(query).fetchall(), table


# Behaviour ---------------------------------------------------------------------------------

# The same statements on both: literals, no parameters, so nothing differs but the database.
HALL = [
    "INSERT INTO booths (slug, name, kind, sector) VALUES ('acme', 'Acme', 'employer', 'ict')",
    "INSERT INTO staff (email, name, role, password_hash, booth_id) "
    "VALUES ('Ada@Example.org', 'Ada', 'advisor', 'x', 1)",
    "INSERT INTO staff (email, name, role, password_hash, booth_id) "
    "VALUES ('bob@example.org', 'Bob', 'advisor', 'x', 1)",
    "INSERT INTO candidates (name, email, consent_at, created_at) "
    "VALUES ('Cas', 'Cas@Example.org', 1.0, 1.0)",
    "INSERT INTO candidates (name, email, consent_at, created_at, erased_at) "
    "VALUES ('', '', 1.0, 1.0, 5.0)",
    "INSERT INTO candidates (name, email, consent_at, created_at, blocked_at, blocked_by) "
    "VALUES ('Dirk', 'dirk@example.org', 1.0, 1.0, 6.0, 1)",
    "INSERT INTO candidates (name, email, consent_at, created_at, erased_at, blocked_at) "
    "VALUES ('', '', 1.0, 1.0, 7.0, 7.0)",
]


async def _both(lite: sqlite3.Connection, pg_conn: asyncpg.Connection, sql: str) -> None:
    lite.execute(sql)
    await pg_conn.execute(sql)


async def _refusals(
    lite: sqlite3.Connection, pg_conn: asyncpg.Connection, sql: str
) -> tuple[str, tuple[str | None, str]]:
    """What each database says when it refuses the statement."""
    with pytest.raises(sqlite3.IntegrityError) as on_sqlite:
        lite.execute(sql)
    with pytest.raises(asyncpg.PostgresError) as on_pg:
        await pg_conn.execute(sql)
    return str(on_sqlite.value), (on_pg.value.sqlstate, str(on_pg.value))


def _request(candidate: int, key: str, line_at: str = "NULL") -> str:
    return (
        "INSERT INTO requests (booth_id, candidate_id, client_key, created_at, expires_at, "
        f"line_at) VALUES (1, {candidate}, '{key}', 10.5, 70.5, {line_at})"
    )


async def test_erased_and_blocked_candidates_are_refused_with_the_same_message(
    pg_conn: asyncpg.Connection, lite: sqlite3.Connection
) -> None:
    for sql in HALL:
        await _both(lite, pg_conn, sql)
    refused = {
        "erased": await _refusals(lite, pg_conn, _request(2, "a")),
        "blocked": await _refusals(lite, pg_conn, _request(3, "b")),
        "blocked and erased": await _refusals(lite, pg_conn, _request(4, "c")),
    }
    assert refused == {
        "erased": ("candidate erased", ("23000", "candidate erased")),
        "blocked": ("candidate blocked", ("23000", "candidate blocked")),
        "blocked and erased": ("candidate blocked", ("23000", "candidate blocked")),
    }
    # A candidate who is neither may ask, on both.
    await _both(lite, pg_conn, _request(1, "d"))
    assert await pg_conn.fetchval("SELECT COUNT(*) FROM requests") == 1
    assert lite.execute("SELECT COUNT(*) FROM requests").fetchone() == (1,)


async def test_the_insert_triggers_fill_in_the_same_values(
    pg_conn: asyncpg.Connection, lite: sqlite3.Connection
) -> None:
    for sql in HALL:
        await _both(lite, pg_conn, sql)
    await _both(lite, pg_conn, _request(1, "own place"))
    await _both(lite, pg_conn, "UPDATE requests SET status = 'accepted'")
    await _both(lite, pg_conn, _request(1, "given place", line_at="3.25"))
    await _both(lite, pg_conn, "UPDATE requests SET status = 'accepted'")
    await _both(lite, pg_conn, _request(1, "waiting"))
    conversation = (
        "INSERT INTO conversations (request_id, booth_id, advisor_id, candidate_id, video_url, "
        "started_at, ends_at, ended_at, join_until) VALUES ({}, 1, {}, 1, '', 100.5, 700.5, "
        "{}, {})"
    )
    # Without an event the deadline to join stays NULL, as the sum with NULL is.
    await _both(lite, pg_conn, conversation.format(1, 1, "800.0", "NULL"))
    await _both(
        lite,
        pg_conn,
        "INSERT INTO event (id, name, join_seconds) VALUES (1, 'Beurs', 90)",
    )
    await _both(lite, pg_conn, conversation.format(2, 1, "800.0", "NULL"))
    await _both(lite, pg_conn, conversation.format(3, 2, "NULL", "150.0"))

    def rows(fetched: list[Any]) -> list[dict[str, Any]]:
        return [dict(r) for r in fetched]

    lite.row_factory = sqlite3.Row
    for query, expected in [
        ("SELECT id, created_at, line_at FROM requests ORDER BY id", [10.5, 3.25, 10.5]),
        ("SELECT id, started_at, join_until FROM conversations ORDER BY id", [None, 190.5, 150.0]),
    ]:
        on_sqlite = rows(lite.execute(query).fetchall())
        on_pg = rows(await pg_conn.fetch(query))
        assert on_pg == on_sqlite
        assert [row[query.split(", ")[2].split()[0]] for row in on_pg] == expected
        # The same Python types too (1 == 1.0, so equality alone would not tell).
        assert [{k: type(v) for k, v in r.items()} for r in on_pg] == [
            {k: type(v) for k, v in r.items()} for r in on_sqlite
        ]
    row = "SELECT * FROM conversations WHERE id = 2"
    assert dict(await pg_conn.fetchrow(row)) == dict(lite.execute(row).fetchone())


async def test_staff_addresses_are_one_account_whatever_their_capitals(
    pg_conn: asyncpg.Connection, lite: sqlite3.Connection
) -> None:
    for sql in HALL:
        await _both(lite, pg_conn, sql)
    duplicate = (
        "INSERT INTO staff (email, name, role, password_hash) "
        "VALUES ('ada@EXAMPLE.ORG', 'Ada 2', 'moderator', 'x')"
    )
    on_sqlite, (sqlstate, message) = await _refusals(lite, pg_conn, duplicate)
    assert "UNIQUE" in on_sqlite and sqlstate == "23505" and "staff_email_key" in message

    # An accent is another letter on both.
    await _both(
        lite,
        pg_conn,
        "INSERT INTO staff (email, name, role, password_hash) "
        "VALUES ('adà@example.org', 'Adà', 'moderator', 'x')",
    )
    for query in [
        # By name: the refused insert used up an id on PostgreSQL (a sequence is not rolled
        # back), not on SQLite.
        "SELECT name FROM staff WHERE email = 'ADA@example.org' ORDER BY id",
        "SELECT name FROM staff WHERE email = 'ADà@EXAMPLE.ORG' ORDER BY id",
        # A column without NOCASE of its own, compared with it in the query (as the outbox
        # does), and without it.
        "SELECT id FROM candidates WHERE email = 'cas@example.org' COLLATE NOCASE",
        "SELECT id FROM candidates WHERE email = 'cas@example.org'",
    ]:
        on_pg = [tuple(r) for r in await pg_conn.fetch(query)]
        assert on_pg == lite.execute(query).fetchall(), query
    found = await pg_conn.fetch("SELECT name FROM staff WHERE email = 'ADA@example.org'")
    assert [tuple(r) for r in found] == [("Ada",)]
