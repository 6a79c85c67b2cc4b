from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from app.domain.event import Event
from app.storage.db import POSTGRESQL, SQLITE, Database
from tests.a11ykit import CheckedBrowser
from tests.browserkit import chromium
from tests.livekit import Browserless, LiveServer, World, seed_world
from tests.pgkit import PostgresServer
from tests.rediskit import RedisServer, unique_prefix
from tests.servicekit import make_event, open_db


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server of the test run's own on a loopback port (one per xdist
    worker); each test that needs one gets a database of its own (``pg_server.database()``)."""
    with PostgresServer() as server:
        yield server


@pytest.fixture(params=[SQLITE, POSTGRESQL])
def database_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a test's hall lives, once on each backend: a new SQLite file, or a new database
    on the test run's PostgreSQL server holding the hall's schema."""
    if request.param == SQLITE:
        return str(tmp_path / "service.db")
    server: PostgresServer = request.getfixturevalue("pg_server")
    return server.database()


@pytest.fixture
async def db(database_target: str) -> AsyncIterator[Database]:
    """The hall's database of its own for each test, on SQLite and on PostgreSQL."""
    database = await open_db(database_target)
    yield database
    await database.close()


@pytest.fixture
async def event(db: Database) -> Event:
    return await make_event(db)


@pytest.fixture
async def world_db(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path | str, World]:
    """A seeded test hall: a SQLite file, or with ``parametrize("world_db", [SQLITE,
    POSTGRESQL], indirect=True)`` once on each backend (a module's protocol tests)."""
    target: Path | str = tmp_path / "hall.db"
    if getattr(request, "param", SQLITE) == POSTGRESQL:
        server: PostgresServer = request.getfixturevalue("pg_server")
        target = server.database()
    world = await seed_world(target)
    return target, world


@pytest.fixture
def server(world_db: tuple[Path | str, World], tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(world_db[0], tmp_path / "server.log")
    live.start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
async def short_hall(tmp_path: Path) -> AsyncIterator[tuple[LiveServer, World]]:
    """A hall of its own whose conversations last 8 s with a warning at 5 s left."""
    path = tmp_path / "short.db"
    world = await seed_world(path, conversation_seconds=8, warning_seconds=5)
    live = LiveServer(path, tmp_path / "short-server.log")
    live.start()
    try:
        yield live, world
    finally:
        live.stop()


@pytest.fixture
def world(world_db: tuple[Path | str, World]) -> World:
    return world_db[1]


@pytest.fixture
async def visitors(server: LiveServer) -> AsyncIterator[list[Browserless]]:
    """Make as many independent visitors (cookie jars) as a test needs."""
    made: list[Browserless] = []
    yield made
    for visitor in made:
        await visitor.aclose()


@pytest.fixture
def new_visitor(server: LiveServer, visitors: list[Browserless]):  # type: ignore[no-untyped-def]
    def make() -> Browserless:
        visitor = Browserless(server)
        visitors.append(visitor)
        return visitor

    return make


@pytest.fixture
async def checked_browser() -> AsyncIterator[CheckedBrowser]:
    """Real Chromium whose pages are checked with axe-core (WCAG 2.0/2.1 A and AA) after
    every load and whenever a test calls ``checked_browser.check(page, state)``; the test
    fails at the end with every violation found."""
    async with chromium() as browser:
        checked = CheckedBrowser(browser)
        yield checked
        await checked.assert_clean()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server of the test run's own on a loopback port (``.url``)."""
    with RedisServer(directory=tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def redis_prefix(request: pytest.FixtureRequest) -> str:
    """An ``INZOOMEN_REDIS_PREFIX`` no other test uses, so tests never share channels."""
    return unique_prefix(request.node.name)


@pytest.fixture
def two_workers(
    tmp_path: Path, redis_server: RedisServer, redis_prefix: str, world_db: tuple[Path | str, World]
) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two server processes on one database file, sharing live updates through Redis."""
    env = {"INZOOMEN_REDIS_URL": redis_server.url, "INZOOMEN_REDIS_PREFIX": redis_prefix}
    with ExitStack() as stack:
        servers = []
        for name in ("a", "b"):
            server = LiveServer(world_db[0], tmp_path / f"worker-{name}.log", env=env)
            server.start()
            stack.callback(server.stop)
            servers.append(server)
        yield servers[0], servers[1]


@pytest.fixture
async def people() -> AsyncIterator[list[Browserless]]:
    """Visitors of any server a test starts (``Browserless(server)``), closed at the end."""
    made: list[Browserless] = []
    yield made
    for visitor in made:
        await visitor.aclose()
