"""Whether this process can serve the hall: the answer a load balancer acts on.

Alive (``/healthz``) only says the process answers; ready (``/readyz``) says that what every
page and connection needs answers too: the database, and Redis when the hall runs on more
than one process. A process that is not ready keeps running and keeps trying; the load
balancer sends its visitors elsewhere until it is ready again.

The database is asked twice. The hall's own reader connection must answer a query on a
hall table; and a new connection must open the file at the configured path and answer the
same query, because connections that are already open go on reading a file that was deleted
or replaced under them, while whatever is written after that is lost.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path

from app.live.hub import Hub
from app.storage.db import Database

log = logging.getLogger("inzoomen.health")

OK = "ok"
UNREACHABLE = "unreachable"
NOT_CONFIGURED = "not configured"
# A probe answers within a few seconds even when a part hangs rather than fails.
DATABASE_TIMEOUT_SECONDS = 2.0
PROBE_QUERY = "SELECT rev FROM revision"


@dataclass(frozen=True)
class Readiness:
    database: str
    redis: str

    @property
    def ready(self) -> bool:
        return self.database == OK and self.redis in (OK, NOT_CONFIGURED)

    def as_dict(self) -> dict[str, str]:
        return {
            "status": OK if self.ready else "error",
            "database": self.database,
            "redis": self.redis,
        }


def _open_and_query(path: Path) -> None:
    # mode=rw: a missing file is an error here, not a new empty database.
    connection = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=DATABASE_TIMEOUT_SECONDS)
    try:
        connection.execute("PRAGMA query_only = ON")
        if connection.execute(PROBE_QUERY).fetchone() is None:
            raise sqlite3.DatabaseError("the revision table is empty")
    finally:
        connection.close()


class Health:
    """The readiness of one process. A change of state is logged once, with its reason;
    the probe's answer names only the part that failed."""

    def __init__(self, db: Database, hub: Hub, redis_configured: bool) -> None:
        self.db = db
        self.hub = hub
        self.redis_configured = redis_configured
        self._failing: dict[str, str] = {}

    async def readiness(self) -> Readiness:
        database = await self._check("database", self._database())
        if self.redis_configured:
            redis = await self._check("redis", self.hub.ping())
        else:
            redis = NOT_CONFIGURED
        return Readiness(database, redis)

    async def _database(self) -> None:
        await self.db.fetchvalue(PROBE_QUERY)
        await asyncio.wait_for(
            asyncio.to_thread(_open_and_query, self.db.path), DATABASE_TIMEOUT_SECONDS
        )

    async def _check(self, part: str, probe: Awaitable[None]) -> str:
        try:
            await probe
        except Exception as error:
            reason = f"{type(error).__name__}: {error}"
            if self._failing.get(part) != reason:
                log.warning("not ready: %s does not answer (%s)", part, reason)
            self._failing[part] = reason
            return UNREACHABLE
        if self._failing.pop(part, None) is not None:
            log.info("ready again: %s answers", part)
        return OK
