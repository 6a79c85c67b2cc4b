"""The hall as every client sees it, kept in memory and pushed as small versioned deltas.

Booth views come in (from this process or, through the hub, from another one) with the
database revision they were read at; a view older than the one held is ignored, so views that
cross on their way never take the hall back in time. Changes are pushed to the process's hall
clients as one ``hall.delta`` per push: the booths that changed since the previous push and
the booths that are gone, numbered with this process's hall version. Everything that arrives
while a push is being written goes into the next one (latest state wins).

A connecting client gets ``snapshot()``, built from memory: the whole hall and its version.
A client that sees a version that does not follow its own asks for a snapshot again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from app.live import topics
from app.live.hub import LocalFanout, encode

log = logging.getLogger("inzoomen.hall")

TOPIC = topics.HALL


@dataclass
class _Held:
    rev: int
    at: float
    view: dict[str, Any]


class HallFeed:
    def __init__(
        self,
        fanout: LocalFanout,
        observe: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._fanout = fanout
        self._observe = observe
        self._clock = clock
        self._booths: dict[int, _Held] = {}
        self._order: list[int] = []
        self._event: dict[str, Any] = {}
        self.version = 0
        self._changed: dict[int, dict[str, Any]] = {}
        self._removed: set[int] = set()
        self._changed_at: float | None = None
        self._pending = asyncio.Event()
        self._snapshot: dict[str, Any] | None = None
        self.pushes = 0

    # -- incoming ---------------------------------------------------------------------------

    def offer(
        self,
        views: Iterable[dict[str, Any]],
        rev: int,
        at: float,
        *,
        complete: bool = False,
        event: dict[str, Any] | None = None,
        changed_at: float | None = None,
    ) -> None:
        """Take booth views read at database revision ``rev`` (time ``at``).

        ``complete`` means these are all the booths, in hall order: any other is gone.
        """
        views = list(views)
        if event is not None and event != self._event:
            self._event = dict(event)
            self._snapshot = None
        changed = False
        for view in views:
            booth_id = int(view["id"])
            held = self._booths.get(booth_id)
            if held is not None and (held.rev, held.at) >= (rev, at):
                continue
            self._booths[booth_id] = _Held(rev, at, view)
            if held is None:
                self._order.append(booth_id)
            if held is None or held.view != view:
                self._changed[booth_id] = view
                self._removed.discard(booth_id)
                changed = True
        if complete:
            ids = [int(v["id"]) for v in views]
            gone = [b for b in self._booths if b not in set(ids) and self._booths[b].rev <= rev]
            for booth_id in gone:
                del self._booths[booth_id]
                self._changed.pop(booth_id, None)
                self._removed.add(booth_id)
                changed = True
            if self._order != [b for b in ids if b in self._booths]:
                self._order = [b for b in ids if b in self._booths] + [
                    b for b in self._order if b in self._booths and b not in set(ids)
                ]
                self._snapshot = None
        if changed:
            self._snapshot = None
            if self._changed_at is None:
                self._changed_at = changed_at if changed_at is not None else self._clock()
            self._pending.set()

    # -- outgoing ---------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The whole hall as this process holds it now, including changes not yet pushed (a
        later delta that repeats them changes nothing)."""
        if self._snapshot is None:
            self._snapshot = {
                "v": self.version,
                "event": self._event,
                "booths": [self._booths[b].view for b in self._order if b in self._booths],
            }
        return self._snapshot

    def _take_delta(self) -> str | None:
        if not self._changed and not self._removed:
            return None
        self.version += 1
        self._snapshot = None
        delta = {
            "v": self.version,
            "booths": list(self._changed.values()),
            "removed": sorted(self._removed),
        }
        self._changed = {}
        self._removed = set()
        return encode("hall.delta", delta)

    async def push_pending(self) -> None:
        self._pending.clear()
        changed_at = self._changed_at
        self._changed_at = None
        message = self._take_delta()
        if message is None:
            return
        await self._fanout.deliver_chunked(TOPIC, message)
        self.pushes += 1
        if self._observe is not None and changed_at is not None:
            self._observe(max(0.0, self._clock() - changed_at))

    async def run(self) -> None:
        """Push changes as they come; a push in progress collects what arrives meanwhile."""
        while True:
            await self._pending.wait()
            try:
                await self.push_pending()
            except Exception:
                log.exception("pushing a hall change failed")
