"""The resources of one running hall, created in the app's lifespan and shared by adapters."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from app.core.config import Settings
from app.domain.presence import Presence
from app.live.deadlines import Deadlines
from app.live.hub import Hub
from app.live.metrics import Metrics
from app.live.publish import Live
from app.storage.db import Database


@dataclass
class Resources:
    settings: Settings
    db: Database
    hub: Hub
    live: Live
    deadlines: Deadlines
    clock: Callable[[], float] = time.time
    metrics: Metrics = field(default_factory=Metrics)
    # Which candidates are connected to this process (None: nobody's presence is kept).
    presence: Presence | None = None

    def now(self) -> float:
        return self.clock()
