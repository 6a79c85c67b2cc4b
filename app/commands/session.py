"""Commands everyone may give, signed in or not: the whole state again, and the clock."""

from __future__ import annotations

from typing import Any

from app.commands.registry import EVERYONE, action, person_id
from app.domain.event import load_event
from app.domain.outcome import Outcome
from app.domain.principals import Principal
from app.live import snapshots
from app.live.resources import Resources


async def personal_state(resources: Resources, principal: Principal) -> dict[str, Any]:
    """Everything this principal sees, as one snapshot: the hall and their own part."""
    state: dict[str, Any] = {"hall": resources.live.feed.snapshot()}
    state["announcements"] = await resources.live.announcements_for(principal.role)
    if principal.role == "anonymous":
        return state
    db = resources.db
    event = await load_event(db)
    rev = await db.revision()
    now = resources.now()
    if principal.role == "candidate":
        me = await snapshots.candidate_state(db, event, person_id(principal), now)
        state["me"] = {**me, "rev": rev}
    elif principal.role == "advisor":
        console = await snapshots.console_state(db, event, person_id(principal), now)
        state["console"] = {**console, "rev": rev}
    elif principal.role == "moderator":
        overview = await snapshots.overview(db, event, now)
        state["overview"] = {**overview, "rev": rev}
    return state


@action("session.sync", EVERYONE)
async def session_sync(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    return Outcome(reply=await personal_state(r, p))


@action("clock.sync", EVERYONE)
async def clock_sync(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    return Outcome(reply={"server_time": r.now()})
