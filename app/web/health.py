"""Whether this process can serve the hall: the answer a load balancer acts on.

Alive (``/healthz``) only says the process answers; ready (``/readyz``) says that what every
page and connection needs answers too: the database, and Redis when the hall runs on more
than one process. A process that is not ready keeps running and keeps trying; the load
balancer sends its visitors elsewhere until it is ready again.

The database is asked through a new connection (``Database.probe``): connections that are
already open go on reading a SQLite file that was deleted or replaced under them, and a pool
of PostgreSQL connections may outlive the server they were made to. A probe answers within a
few seconds even when a part hangs rather than fails.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass

from app.live.hub import Hub
from app.storage.db import Database

log = logging.getLogger("inzoomen.health")

OK = "ok"
UNREACHABLE = "unreachable"
NOT_CONFIGURED = "not configured"
DATABASE_TIMEOUT_SECONDS = 5.0


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
        await asyncio.wait_for(self.db.probe(), DATABASE_TIMEOUT_SECONDS)

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
