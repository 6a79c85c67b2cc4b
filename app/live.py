"""Telling everyone what changed, after it was committed.

Each function here reads committed state and publishes it to the audiences that may see it:
the hall sees booth summaries; a booth's advisors see its queue; a candidate sees only their
own request and conversation; moderators see the overview.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from app import snapshots
from app.db import Database
from app.event import Event, load_event
from app.hub import Hub


class Live:
    def __init__(self, db: Database, hub: Hub, clock: Callable[[], float]) -> None:
        self.db = db
        self.hub = hub
        self.clock = clock

    async def event(self) -> Event:
        return await load_event(self.db)

    async def booths_changed(self, booth_ids: Iterable[int]) -> None:
        """A booth's advisors, queue or conversations changed: tell every audience."""
        event = await self.event()
        now = self.clock()
        for booth_id in sorted(set(booth_ids)):
            for view in await snapshots.booth_views(self.db, event, now, booth_id):
                await self.hub.publish("hall", "hall.booth", view)
            advisor_ids = await self.db.fetchall(
                "SELECT id FROM staff WHERE booth_id = ? AND role = 'advisor' AND active = 1",
                (booth_id,),
            )
            for row in advisor_ids:
                await self.console_changed(row["id"], event)
            for candidate_id, view in (
                await snapshots.waiting_request_views(self.db, event, booth_id, now)
            ).items():
                await self.hub.publish(
                    f"candidate:{candidate_id}",
                    "me.state",
                    {"request": view, "conversation": None},
                )
        await self.overview_changed(event)

    async def candidate_changed(self, candidate_id: int) -> None:
        event = await self.event()
        state = await snapshots.candidate_state(self.db, event, candidate_id, self.clock())
        await self.hub.publish(f"candidate:{candidate_id}", "me.state", state)

    async def conversation_started(self, candidate_id: int, advisor_id: int) -> None:
        """Both participants get the link in the same moment: both states are read first,
        then published back to back."""
        event = await self.event()
        now = self.clock()
        candidate = await snapshots.candidate_state(self.db, event, candidate_id, now)
        console = await snapshots.console_state(self.db, event, advisor_id, now)
        await self.hub.publish(f"candidate:{candidate_id}", "me.state", candidate)
        await self.hub.publish(f"staff:{advisor_id}", "console.state", console)

    async def console_changed(self, advisor_id: int, event: Event | None = None) -> None:
        event = event or await self.event()
        state = await snapshots.console_state(self.db, event, advisor_id, self.clock())
        await self.hub.publish(f"staff:{advisor_id}", "console.state", state)

    async def overview_changed(self, event: Event | None = None) -> None:
        event = event or await self.event()
        state = await snapshots.overview(self.db, event, self.clock())
        await self.hub.publish("moderators", "overview.state", state)

    async def conversation_signal(
        self, event_name: str, candidate_id: int, advisor_id: int, data: dict[str, Any]
    ) -> None:
        """A moment of a conversation (warning, time up) told to its two participants only."""
        await self.hub.publish(f"candidate:{candidate_id}", event_name, data)
        await self.hub.publish(f"staff:{advisor_id}", event_name, data)
