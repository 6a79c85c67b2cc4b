"""The moderator's dashboard: every figure of the event as it is now, per booth and per
advisor, the alerts that ask the moderator to step in, and today's charts.

Everything here is a pure reading of committed state at a given ``now``: no HTTP, no
WebSocket. ``state`` is the JSON-ready dict pushed to moderators as ``overview.state`` and
used for the first paint of /moderator; the charts are read separately (they look back over
the whole day) when the page is drawn and when it refreshes them.

The state holds moments, not durations: how long someone has waited, how long an advisor
has had their status or how far a conversation runs over are ``now`` minus a moment in it
(``waited``), worked out where it is shown. So two reads of an unchanged hall are equal; the
state moves with the time alone only where a limit is crossed (an alert comes up, a
conversation goes into overtime, a day begins), and the moderators get it pushed again every
few seconds for that (``app.live.publish``).

Definitions (the numbers the dashboard shows):

- candidates online: candidates whose ``online_until`` lies after now (kept up to date by
  ``app.domain.presence`` while any worker holds a connection of theirs);
- requests waiting: requests with status ``waiting``; their waits are now minus
  ``created_at``: the median and the longest are of those waiting now (as the moments
  ``median_waiting_since`` and ``longest_wait_since``: the median wait is now minus the
  median of the moments they asked);
- conversations running: not ended; in overtime: running and past ``ends_at``;
- "today" is the event's calendar day in its time zone: conversations started today,
  conversations done today (ended today), follow-ups booked today (status ``booked``,
  created today);
- an advisor is online in any status but ``offline``; free when ``available``;
- alerts: see ``ALERT_KINDS``.
"""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from app.core import names
from app.core.i18n import N_, gettext
from app.domain import booths
from app.domain.advisors import PRESENT
from app.domain.event import Event
from app.storage.db import Database

# An advisor free while their booth has a queue raises an alert only after both have lasted
# this long, so the normal moment between one conversation and accepting the next is quiet.
FREE_WITH_QUEUE_SECONDS = 60
# The charts of the day sample the hall every this many seconds.
CHART_STEP_SECONDS = 15 * 60
# The wait-time distribution: lower bounds of the buckets, in minutes.
WAIT_BUCKETS_MINUTES = (0, 2, 5, 10, 20)

# What each alert kind means, in the order they are listed (most pressing first). The texts
# take %(booth)s, %(advisor)s and %(minutes)s (the limit that was passed).
ALERT_KINDS: dict[str, str] = {
    "no_advisor": N_("Wachtrij bij %(booth)s, maar geen adviseur aanwezig."),
    "long_wait": N_("Bij %(booth)s wacht iemand langer dan %(minutes)s min."),
    "long_overtime": N_(
        "Het gesprek van %(advisor)s (%(booth)s) loopt meer dan %(minutes)s min. uit."
    ),
    "free_with_queue": N_("%(advisor)s (%(booth)s) is vrij terwijl er een wachtrij is."),
    "nobody_present": N_("%(booth)s is volgens het rooster open, maar er is niemand."),
}


@dataclass(frozen=True)
class Day:
    """The event's calendar day around a moment: [start, end) in epoch seconds."""

    start: float
    end: float
    local_date: str


def day_of(event: Event, now: float) -> Day:
    local = event.local(now).date()
    start = datetime.combine(local, time(0), tzinfo=event.zone).timestamp()
    end = datetime.combine(local + timedelta(days=1), time(0), tzinfo=event.zone).timestamp()
    return Day(start, end, local.isoformat())


def _whole(seconds: float) -> int:
    return max(0, int(seconds))


def minutes(seconds: float | None) -> int | None:
    """Whole minutes of a duration, as the dashboard shows them."""
    return None if seconds is None else _whole(seconds) // 60


def waited(since: float | None, now: float) -> int | None:
    """Whole seconds from a moment of the state until now (None stays None)."""
    return None if since is None else _whole(now - since)


def alert_text(kind: str, **params: Any) -> str:
    return gettext(ALERT_KINDS[kind], **params)


# -- reading -------------------------------------------------------------------------------


async def _waiting(db: Database) -> list[dict[str, Any]]:
    rows = await db.fetchall(
        "SELECT id, booth_id, advisor_id, created_at FROM requests WHERE status = 'waiting' "
        "ORDER BY line_at, id"
    )
    return [dict(r) for r in rows]


async def _running(db: Database) -> list[dict[str, Any]]:
    rows = await db.fetchall(
        "SELECT c.id, c.booth_id, c.advisor_id, c.started_at, c.ends_at, "
        "b.name AS booth_name, s.name AS advisor_name, k.name AS candidate_name "
        "FROM conversations c JOIN booths b ON b.id = c.booth_id "
        "JOIN staff s ON s.id = c.advisor_id JOIN candidates k ON k.id = c.candidate_id "
        "WHERE c.ended_at IS NULL ORDER BY c.ends_at, c.id"
    )
    return [dict(r) for r in rows]


async def _advisors(db: Database) -> list[dict[str, Any]]:
    rows = await db.fetchall(
        "SELECT id, name, booth_id, status, status_since FROM staff "
        "WHERE role = 'advisor' AND active = 1"
    )
    # As ORDER BY name COLLATE DUTCH_NAME, id, with each name's key worked out once.
    return sorted((dict(r) for r in rows), key=lambda a: (names.sort_key(a["name"]), a["id"]))


async def _totals(
    db: Database,
    event: Event,
    now: float,
    waiting: list[dict[str, Any]],
    running: list[dict[str, Any]],
    advisors: list[dict[str, Any]],
) -> dict[str, Any]:
    """The now-figures of the whole event."""
    day = day_of(event, now)
    asked = [r["created_at"] for r in waiting]
    # The four counts in one read.
    counts = await db.fetchone(
        "SELECT (SELECT COUNT(*) FROM candidates WHERE online_until > :now) AS online, "
        "(SELECT COUNT(*) FROM conversations WHERE started_at >= :start AND started_at < :end "
        "AND no_show_at IS NULL) AS started, "
        "(SELECT COUNT(*) FROM conversations WHERE ended_at >= :start AND ended_at < :end "
        "AND no_show_at IS NULL) AS done, "
        "(SELECT COUNT(*) FROM follow_ups WHERE status = 'booked' "
        "AND created_at >= :start AND created_at < :end) AS follow_ups",
        {"now": now, "start": day.start, "end": day.end},
    )
    assert counts is not None
    return {
        "candidates_online": int(counts["online"]),
        "waiting": len(waiting),
        "median_waiting_since": statistics.median(asked) if asked else None,
        "longest_wait_since": min(asked, default=None),
        "running": len(running),
        "overtime": sum(1 for c in running if now > c["ends_at"]),
        "conversations_today": int(counts["started"]),
        "conversations_done_today": int(counts["done"]),
        "follow_ups_today": int(counts["follow_ups"]),
        "advisors_present": sum(1 for a in advisors if a["status"] in PRESENT),
    }


async def state(db: Database, event: Event, now: float) -> dict[str, Any]:
    """Everything the dashboard shows that moves while the event runs: figures, booths,
    advisors, running conversations and alerts."""
    waiting = await _waiting(db)
    running = await _running(db)
    advisors = await _advisors(db)
    day = day_of(event, now)
    local_now = event.local(now)
    hall = await booths.with_slots(db, local_now.date())
    done: dict[int, int] = {
        row[0]: row[1]
        for row in await db.fetchall(
            "SELECT booth_id, COUNT(*) FROM conversations WHERE ended_at >= ? AND ended_at < ? "
            "AND no_show_at IS NULL GROUP BY booth_id",
            (day.start, day.end),
        )
    }
    by_booth_waiting: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for request in waiting:
        by_booth_waiting[request["booth_id"]].append(request)
    by_booth_advisors: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for advisor in advisors:
        by_booth_advisors[advisor["booth_id"]].append(advisor)

    booth_views = []
    for booth, slots in hall:
        staff = by_booth_advisors.get(booth.id, [])
        queue = by_booth_waiting.get(booth.id, [])
        oldest = queue[0]["created_at"] if queue else None
        booth_views.append(
            {
                "id": booth.id,
                "name": booth.name,
                "closed": booth.closed,
                "scheduled_open": booths.opening(slots, local_now).open_now,
                "advisors": [
                    {
                        "id": a["id"],
                        "name": a["name"],
                        "status": a["status"],
                        # 0: never changed since the account was made; not known.
                        "since": a["status_since"] or None,
                    }
                    for a in staff
                ],
                "advisors_online": sum(1 for a in staff if a["status"] != "offline"),
                "free": sum(1 for a in staff if a["status"] == "available"),
                "in_conversation": sum(1 for a in staff if a["status"] == "in_conversation"),
                "present": any(a["status"] in PRESENT for a in staff),
                "queue_length": len(queue),
                "longest_waiting_since": oldest,
                "conversations_done": int(done.get(booth.id, 0)),
            }
        )

    figures = await _totals(db, event, now, waiting, running, advisors)
    return {
        "event": {"name": event.name, "timezone": event.timezone, "is_open": event.is_open},
        "totals": figures,
        "booths": booth_views,
        "conversations": [{**c, "overtime": now > c["ends_at"]} for c in running],
        "alerts": alerts(event, now, booth_views, waiting, running, advisors),
    }


# -- alerts --------------------------------------------------------------------------------


def _alert(
    kind: str,
    *,
    booth: dict[str, Any],
    since: float | None = None,
    limit: int = 0,
    advisor: dict[str, Any] | None = None,
    conversation_id: int | None = None,
    request_id: int | None = None,
) -> dict[str, Any]:
    params = {
        "booth": booth["name"],
        "advisor": advisor["name"] if advisor else "",
        "minutes": minutes(limit),
    }
    subject = (
        f"conversation:{conversation_id}"
        if conversation_id is not None
        else f"advisor:{advisor['id']}"
        if advisor is not None
        else f"booth:{booth['id']}"
    )
    return {
        "key": f"{kind}:{subject}",
        "kind": kind,
        "booth_id": booth["id"],
        "booth_name": booth["name"],
        "advisor_id": advisor["id"] if advisor else None,
        "advisor_name": advisor["name"] if advisor else None,
        "conversation_id": conversation_id,
        "request_id": request_id,
        "since": since,
        "params": params,
        "text": alert_text(kind, **params),
    }


def alerts(
    event: Event,
    now: float,
    booth_views: list[dict[str, Any]],
    waiting: list[dict[str, Any]],
    running: list[dict[str, Any]],
    advisors: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """What needs the moderator now, most pressing kind first, in hall order within a kind.

    - ``no_advisor``: people wait at a booth and no advisor there is available, in a
      conversation or wrapping up;
    - ``long_wait``: someone at a booth has waited longer than the event's
      ``wait_alert_seconds`` (one alert per booth, about its longest wait);
    - ``long_overtime``: a conversation has run past its end for longer than the event's
      ``overtime_alert_seconds``;
    - ``free_with_queue``: an advisor has been available for over
      ``FREE_WITH_QUEUE_SECONDS`` while a request they could take has waited as long;
    - ``nobody_present``: a booth the schedule says is open now (not closed by the
      moderator, the event open) has nobody available, in a conversation or wrapping up.
    """
    by_id = {b["id"]: b for b in booth_views}
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    queues: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for request in waiting:
        queues[request["booth_id"]].append(request)

    for booth in booth_views:
        queue = queues.get(booth["id"], [])
        if queue and not booth["present"]:
            found["no_advisor"].append(
                _alert("no_advisor", booth=booth, since=queue[0]["created_at"])
            )
        if queue and now - queue[0]["created_at"] > event.wait_alert_seconds:
            found["long_wait"].append(
                _alert(
                    "long_wait",
                    booth=booth,
                    since=queue[0]["created_at"],
                    limit=event.wait_alert_seconds,
                    request_id=queue[0]["id"],
                )
            )
        if (
            booth["scheduled_open"]
            and not booth["closed"]
            and event.is_open
            and not booth["present"]
        ):
            found["nobody_present"].append(_alert("nobody_present", booth=booth))

    for conversation in running:
        over = now - conversation["ends_at"]
        at = by_id.get(conversation["booth_id"])
        if at is not None and over > event.overtime_alert_seconds:
            found["long_overtime"].append(
                _alert(
                    "long_overtime",
                    booth=at,
                    since=conversation["ends_at"],
                    limit=event.overtime_alert_seconds,
                    advisor={
                        "id": conversation["advisor_id"],
                        "name": conversation["advisor_name"],
                    },
                    conversation_id=conversation["id"],
                )
            )

    for advisor in advisors:
        home = by_id.get(advisor["booth_id"])
        if home is None or advisor["status"] != "available":
            continue
        free_for = now - advisor["status_since"]
        if free_for <= FREE_WITH_QUEUE_SECONDS:
            continue
        takeable = [
            r
            for r in queues.get(home["id"], [])
            if r["advisor_id"] in (None, advisor["id"])
            and now - r["created_at"] > FREE_WITH_QUEUE_SECONDS
        ]
        if takeable:
            found["free_with_queue"].append(
                _alert(
                    "free_with_queue",
                    booth=home,
                    since=max(advisor["status_since"], takeable[0]["created_at"]),
                    advisor=advisor,
                )
            )

    return [alert for kind in ALERT_KINDS for alert in found.get(kind, [])]


# -- charts --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    """Today's hall over time: at each moment, how many waited and how many talked."""

    labels: list[str]
    waiting: list[int]
    running: list[int]


async def _day_start(db: Database, event: Event, day: Day) -> float:
    """Today's chart starts at the event's opening time today, or else at midnight."""
    opens = await db.fetchvalue("SELECT opens FROM event_days WHERE day = ?", (day.local_date,))
    if not opens:
        return day.start
    hours, _, mins = str(opens).partition(":")
    local = datetime.fromtimestamp(day.start, event.zone).date()
    start = datetime.combine(local, time(int(hours), int(mins or 0)), tzinfo=event.zone)
    return start.timestamp()


async def over_the_day(db: Database, event: Event, now: float) -> Series:
    """Waiting candidates and running conversations at every quarter of an hour of today,
    from the opening (or midnight) up to now."""
    day = day_of(event, now)
    start = min(await _day_start(db, event, day), now)
    moments: list[float] = []
    at = start
    while at <= now and at < day.end:
        moments.append(at)
        at += CHART_STEP_SECONDS
    requests = await db.fetchall(
        "SELECT created_at, closed_at FROM requests WHERE created_at <= ? "
        "AND (closed_at IS NULL OR closed_at > ?)",
        (now, start),
    )
    talks = await db.fetchall(
        "SELECT started_at, ended_at FROM conversations WHERE started_at <= ? "
        "AND (ended_at IS NULL OR ended_at > ?)",
        (now, start),
    )

    def open_at(rows: list[Any], moment: float) -> int:
        return sum(1 for a, b in rows if a <= moment and (b is None or b > moment))

    return Series(
        labels=[event.local(m).strftime("%H:%M") for m in moments],
        waiting=[open_at(requests, m) for m in moments],
        running=[open_at(talks, m) for m in moments],
    )


def bucket_labels() -> list[str]:
    bounds = WAIT_BUCKETS_MINUTES
    labels = [f"{a}–{b}" for a, b in itertools.pairwise(bounds)]
    return [*labels, f"{bounds[-1]}+"]


async def wait_distribution(db: Database, event: Event, now: float) -> list[int]:
    """How long the requests made today waited (until accepted, declined, cancelled or
    lapsed; until now for those still waiting), counted per bucket of
    ``WAIT_BUCKETS_MINUTES``."""
    day = day_of(event, now)
    rows = await db.fetchall(
        "SELECT created_at, closed_at FROM requests WHERE created_at >= ? AND created_at < ? "
        "AND created_at <= ?",
        (day.start, day.end, now),
    )
    counts = [0] * len(WAIT_BUCKETS_MINUTES)
    for created, closed in rows:
        waited = ((now if closed is None else closed) - created) / 60
        index = max(i for i, low in enumerate(WAIT_BUCKETS_MINUTES) if waited >= low or i == 0)
        counts[index] += 1
    return counts
