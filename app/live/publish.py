"""Telling everyone what changed, after it was committed.

A command says what it changed as an ``Outcome`` (``app.domain.outcome``); ``Live.publish``
turns it into the pushes, always in the same order: deadlines, the conversations that
started or were extended, the hall, booths, candidates, consoles, the overview,
announcements, calls, and last the sessions that ended.

Each function here reads committed state and publishes it to the audiences that may see it:
the hall sees booth summaries; a booth's advisors see its queue; a candidate sees only their
own request and conversation; moderators see the overview.

What one person waits for (their own request, an advisor's console) is read and published at
once. What everybody sees (the hall) and the moderators' overview are coalesced: changed
booths are marked, and on average at most once per ``push_seconds`` their views are read
again and published, so a burst of changes costs one read and one push (latest state wins).

The moderators' dashboard also moves with time alone (waits grow, conversations run into
overtime, alerts come up): every ``OVERVIEW_SECONDS`` each process reads it again and hands
it to the moderators connected to that process only (not through the shared hub, so several
workers do not multiply it), and only while one is connected.

Every state carries ``rev``, the database revision read before it: a client (and the hall
feed) ignores a state older than one it already has, whatever order they arrive in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from app.domain import announcements, feedback
from app.domain.event import Event, load_event
from app.domain.outcome import CallMessage, Outcome
from app.live import snapshots, topics
from app.live.hall_feed import HallFeed
from app.live.hub import Hub, encode
from app.storage.db import Database

log = logging.getLogger("inzoomen.live")

HALL_VIEWS = "hall.views"
DEADLINES_WAKE = "deadlines.wake"
# Booth views depend on the time too (open now, estimated waits): read them all again this
# often even when nothing was changed.
REFRESH_SECONDS = 30.0
# The dashboard is pushed to this process's moderators this often even when nothing changed.
OVERVIEW_SECONDS = 5.0
# Pushes that may follow each other closer than ``push_seconds`` before the pace applies.
PUSH_BURST = 2
# Announcements: the internal topic that carries every live one to each process, and how
# long a process answers from what it holds before it reads them again (should a change
# have been missed).
ANNOUNCEMENTS = "announcements.changed"
ANNOUNCEMENTS_HELD_SECONDS = 5.0


class Live:
    def __init__(
        self,
        db: Database,
        hub: Hub,
        clock: Callable[[], float],
        push_seconds: float = 0.2,
        feed: HallFeed | None = None,
    ) -> None:
        self.db = db
        self.hub = hub
        self.clock = clock
        self.push_seconds = push_seconds
        self.feed = feed or HallFeed(hub.local, clock=clock)
        self._dirty: set[int] = set()
        self._overview_dirty = False
        self._dirty_since: float | None = None
        self._marked = asyncio.Event()
        hub.listen(HALL_VIEWS, self._views_arrived)
        # The live announcements as last read or heard: (held since, monotonic; the state).
        self._announcements: tuple[float, dict[str, Any]] | None = None
        hub.listen(ANNOUNCEMENTS, self._announcements_arrived)

    async def event(self) -> Event:
        return await load_event(self.db)

    # -- what one command changed: the one call every command's changes go through --------

    async def publish(self, outcome: Outcome) -> None:
        """Tell everyone concerned what one command changed, after its commit.

        Always in this order: the deadlines first (whoever watches them looks again); the
        two participants of a conversation that started or was extended (they wait for the
        link or the new end); the hall; the changed booths (their advisors, their waiting
        candidates); the candidates and consoles named; the overview; announcements;
        messages between the participants of a call; and last the sessions that ended, so
        that a blocked candidate's page shows why before it closes."""
        if outcome.deadlines:
            await self.deadlines_moved()
        for candidate_id, advisor_id in sorted(outcome.started):
            await self.conversation_started(candidate_id, advisor_id)
        for extended in sorted(outcome.extended, key=lambda e: e.conversation_id):
            # Both timers take the new end at once; the deadlines task tells the warning again.
            await self.conversation_signal(
                "conversation.extended",
                extended.candidate_id,
                extended.advisor_id,
                {
                    "id": extended.conversation_id,
                    "ends_at": extended.ends_at,
                    "added_seconds": extended.added_seconds,
                    "extended_seconds": extended.extended_seconds,
                },
            )
        if outcome.hall:
            await self.hall_changed()
        if outcome.booth_ids:
            await self.booths_changed(outcome.booth_ids)
        for candidate_id in sorted(outcome.candidate_ids):
            await self.candidate_changed(candidate_id)
        if outcome.advisor_ids:
            await self.consoles_changed(sorted(outcome.advisor_ids))
        # A changed hall brings the overview with it.
        if outcome.overview and not outcome.hall:
            await self.overview_changed()
        if outcome.announcements:
            await self.announcements_changed()
        for message in outcome.calls:
            await self.call_message(message)
        for candidate_id, reason in sorted(outcome.revoked_candidates.items()):
            await self.sessions_ended(topics.candidate(candidate_id), reason)
        for staff_id, reason in sorted(outcome.revoked_staff.items()):
            await self.sessions_ended(topics.staff(staff_id), reason)

    async def call_message(self, message: CallMessage) -> None:
        """Passed on to the other participant of a call only: their call page picks it up,
        their other pages leave it."""
        if message.to_role == "candidate":
            topic = topics.candidate(message.to_id)
        else:
            topic = topics.staff(message.to_id)
        if message.kind == "signal":
            await self.hub.publish(topic, "call.signal", message.data)
        else:
            await self.hub.publish(topic, "call.fallback", message.data)

    async def sessions_ended(self, topic: str, reason: str, session_id: int | None = None) -> None:
        """Sessions of the person behind ``topic`` ended (one, ``session_id``, or all: None):
        every worker closes their connections (``app.web.socket`` watches their own topic for
        this event)."""
        payload = {"session": session_id, "reason": reason}
        await self.hub.publish(topic, "session.revoked", payload)

    async def staff_signed_out(
        self, staff_id: int, reason: str, session_id: int | None = None
    ) -> None:
        await self.sessions_ended(topics.staff(staff_id), reason, session_id)

    async def candidate_signed_out(
        self, candidate_id: int, reason: str, session_id: int | None = None
    ) -> None:
        await self.sessions_ended(topics.candidate(candidate_id), reason, session_id)

    # -- what one person waits for: at once ------------------------------------------------

    async def booths_changed(self, booth_ids: Iterable[int]) -> None:
        """A booth's advisors, queue or conversations changed: tell every audience."""
        booth_ids = sorted(set(booth_ids))
        self.mark(booth_ids)
        # Who is next may have changed: the deadlines task asks them (app.domain.readiness).
        await self.deadlines_moved()
        event = await self.event()
        for booth_id in booth_ids:
            rev = await self.db.revision()
            now = self.clock()
            advisor_ids = await self.db.fetchall(
                "SELECT id FROM staff WHERE booth_id = ? AND role = 'advisor' AND active = 1",
                (booth_id,),
            )
            await self.consoles_changed([row["id"] for row in advisor_ids], event)
            views = await snapshots.waiting_request_views(self.db, event, booth_id, now)
            rated = await feedback.for_candidates(self.db, list(views))
            for candidate_id, view in views.items():
                # The whole state: a client replaces what it holds with it.
                state = {"request": view, "conversation": None, "feedback": rated[candidate_id]}
                await self.hub.publish(
                    topics.candidate(candidate_id), "me.state", {**state, "rev": rev}
                )

    async def candidate_changed(self, candidate_id: int) -> None:
        event = await self.event()
        rev = await self.db.revision()
        state = await snapshots.candidate_state(self.db, event, candidate_id, self.clock())
        await self.hub.publish(topics.candidate(candidate_id), "me.state", {**state, "rev": rev})

    async def conversation_started(self, candidate_id: int, advisor_id: int) -> None:
        """Both participants get the link in the same moment: both states are read first,
        then published back to back."""
        event = await self.event()
        rev = await self.db.revision()
        now = self.clock()
        candidate = await snapshots.candidate_state(self.db, event, candidate_id, now)
        console = await snapshots.console_state(self.db, event, advisor_id, now)
        await self.hub.publish(
            topics.candidate(candidate_id), "me.state", {**candidate, "rev": rev}
        )
        await self.hub.publish(topics.staff(advisor_id), "console.state", {**console, "rev": rev})

    async def consoles_changed(self, advisor_ids: list[int], event: Event | None = None) -> None:
        """These advisors' consoles, read side by side (on a database server each read
        waits for its answer, and a booth has many advisors), then published in order."""
        event = event or await self.event()
        rev = await self.db.revision()
        now = self.clock()
        states = await asyncio.gather(
            *(snapshots.console_state(self.db, event, staff_id, now) for staff_id in advisor_ids)
        )
        for advisor_id, state in zip(advisor_ids, states, strict=True):
            await self.hub.publish(topics.staff(advisor_id), "console.state", {**state, "rev": rev})

    async def conversation_signal(
        self, event_name: str, candidate_id: int, advisor_id: int, data: dict[str, Any]
    ) -> None:
        """A moment of a conversation (warning, time up) told to its two participants only."""
        await self.hub.publish(topics.candidate(candidate_id), event_name, data)
        await self.hub.publish(topics.staff(advisor_id), event_name, data)

    async def deadlines_moved(self) -> None:
        """A deadline was added or moved: wake whichever process handles deadlines."""
        await self.hub.publish(DEADLINES_WAKE, DEADLINES_WAKE, {})

    # -- what everybody sees: coalesced ----------------------------------------------------

    def mark(self, booth_ids: Iterable[int]) -> None:
        """These booths changed: their hall views and the overview are read and published
        with the next push."""
        self._dirty.update(booth_ids)
        self._overview_dirty = True
        if self._dirty_since is None:
            self._dirty_since = self.clock()
        self._marked.set()

    async def read_views(self, booth_ids: set[int] | None) -> dict[str, Any]:
        """Hall views of some booths (None: all, in hall order), with their revision."""
        rev = await self.db.revision()
        event = await self.event()
        at = self.clock()
        if booth_ids is not None and len(booth_ids) == 1:
            views = await snapshots.booth_views(self.db, event, at, next(iter(booth_ids)))
        else:
            views = await snapshots.booth_views(self.db, event, at)
            if booth_ids is not None:
                views = [v for v in views if v["id"] in booth_ids]
        return {
            "rev": rev,
            "at": at,
            "views": views,
            "complete": booth_ids is None,
            "event": {"name": event.name, "timezone": event.timezone},
        }

    def _views_arrived(self, _event: str, data: Any) -> None:
        self.feed.offer(
            data["views"],
            int(data["rev"]),
            float(data["at"]),
            complete=bool(data.get("complete")),
            event=data.get("event"),
            changed_at=data.get("changed_at"),
        )

    async def refresh_hall(self) -> None:
        """Read every booth again, for this process's hall only."""
        self._views_arrived(HALL_VIEWS, await self.read_views(None))

    async def publish_marked(self) -> None:
        """Read and publish what was marked since the last push."""
        self._marked.clear()
        booth_ids, self._dirty = self._dirty, set()
        overview, self._overview_dirty = self._overview_dirty, False
        changed_at, self._dirty_since = self._dirty_since, None
        if booth_ids:
            data = await self.read_views(booth_ids)
            data["changed_at"] = changed_at
            await self.hub.publish(HALL_VIEWS, HALL_VIEWS, data)
        if overview:
            await self.overview_changed()

    async def hall_changed(self) -> None:
        """Booths were added, removed or reordered, or the event itself changed: every
        process's hall is read again whole (removed booths leave it), with the overview."""
        await self.hub.publish(HALL_VIEWS, HALL_VIEWS, await self.read_views(None))
        await self.overview_changed()

    async def overview_changed(self, event: Event | None = None) -> None:
        event = event or await self.event()
        rev = await self.db.revision()
        state = await snapshots.overview(self.db, event, self.clock())
        await self.hub.publish(topics.MODERATORS, "overview.state", {**state, "rev": rev})

    async def overview_tick(self) -> bool:
        """The dashboard read again for the moderators connected to this process (none
        connected: nothing is read). True when it was pushed."""
        if self.hub.local.count(topics.MODERATORS) == 0:
            return False
        event = await self.event()
        rev = await self.db.revision()
        state = await snapshots.overview(self.db, event, self.clock())
        self.hub.local.deliver(topics.MODERATORS, encode("overview.state", {**state, "rev": rev}))
        return True

    async def run_overview_ticks(self) -> None:
        """Push the dashboard to this process's moderators every ``OVERVIEW_SECONDS``."""
        while True:
            await asyncio.sleep(OVERVIEW_SECONDS)
            try:
                await self.overview_tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("pushing the dashboard failed")

    async def run(self) -> None:
        """Publish marked changes, on average at most once per ``push_seconds`` (a bucket of
        ``PUSH_BURST`` pushes, so a change that comes a little early after the previous
        one is not held back); read the whole hall again every ``REFRESH_SECONDS``; push
        the dashboard to this process's moderators every ``OVERVIEW_SECONDS``."""
        ticks = asyncio.create_task(self.run_overview_ticks(), name="overview-ticks")
        try:
            await self._run_pushes()
        finally:
            ticks.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticks

    async def _run_pushes(self) -> None:
        tokens = float(PUSH_BURST)
        filled_at = time.monotonic()
        next_refresh = filled_at + REFRESH_SECONDS

        def refill() -> None:
            nonlocal tokens, filled_at
            now = time.monotonic()
            if self.push_seconds > 0:
                tokens = min(float(PUSH_BURST), tokens + (now - filled_at) / self.push_seconds)
            else:
                tokens = float(PUSH_BURST)
            filled_at = now

        while True:
            timeout = max(0.0, next_refresh - time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._marked.wait(), timeout)
            try:
                if self._marked.is_set():
                    refill()
                    if tokens < 1:
                        await asyncio.sleep((1 - tokens) * self.push_seconds)
                        refill()
                    tokens -= 1
                    await self.publish_marked()
                if time.monotonic() >= next_refresh:
                    next_refresh = time.monotonic() + REFRESH_SECONDS
                    await self.refresh_hall()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("publishing hall changes failed")

    # -- announcements: every process holds the live ones, and tells its own clients ---------

    async def _read_announcements(self) -> dict[str, Any]:
        rev = await self.db.revision()
        live = await announcements.live_announcements(self.db)
        return {"rev": rev, "announcements": [announcements.view(a) for a in live]}

    def _hold_announcements(self, data: dict[str, Any]) -> bool:
        """Keep these live announcements unless newer ones are held; True when kept."""
        held = self._announcements
        if held is not None and held[1]["rev"] > data["rev"]:
            self._announcements = (time.monotonic(), held[1])
            return False
        self._announcements = (time.monotonic(), data)
        return True

    def _announcements_arrived(self, _event: str, data: Any) -> None:
        """Announcements changed (in any process): hold them and tell this process's clients,
        the hall those for everyone, advisors and moderators those for the advisors."""
        if not self._hold_announcements(data):
            return
        for topic, audience in ((topics.HALL, "all"), (topics.ADVISORS, "advisors")):
            items = [a for a in data["announcements"] if a["audience"] == audience]
            message = {"audience": audience, "announcements": items, "rev": data["rev"]}
            self.hub.local.deliver(topic, encode("announcements.state", message))

    async def announcements_changed(self) -> None:
        """An announcement was made or ended: every process holds the new list and pushes
        it to its own clients."""
        await self.hub.publish(ANNOUNCEMENTS, ANNOUNCEMENTS, await self._read_announcements())

    async def announcements_for(self, role: str) -> dict[str, Any]:
        """The live announcements this role may see, newest first, with their revision."""
        held = self._announcements
        if held is None or time.monotonic() - held[0] > ANNOUNCEMENTS_HELD_SECONDS:
            self._hold_announcements(await self._read_announcements())
            held = self._announcements
        assert held is not None
        audiences = announcements.audiences_for(role)
        return {
            "rev": held[1]["rev"],
            "announcements": [a for a in held[1]["announcements"] if a["audience"] in audiences],
        }
