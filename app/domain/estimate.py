"""The estimated wait in line, from the live state of a booth.

Each advisor present (available, in conversation, wrapping up) is free after what they are
doing now: the rest of their running conversation (judged by how long conversations at this
event really last), or the rest of their wrap-up. Each place ahead in line then takes one
conversation of whichever advisor is free first. The wait is given as a range, so the pages
never promise a time the booth cannot keep: the low end assumes conversations run short, the
high end that they run long.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from typing import Any

from app.storage.db import Database, Transaction

# A conversation past its expected end is assumed to need at most this much longer.
OVERTIME_GUESS_SECONDS = 60
# Below this many ended conversations a booth's own mean is too noisy: the event's is used.
BOOTH_SAMPLE = 5
# A measured mean is never taken shorter than this (a few conversations that ended at once,
# e.g. a candidate who did not show, must not make every wait look like nothing).
MIN_LENGTH_SECONDS = 60
# How far real conversations stray from the mean, for the ends of the range.
LOW_FACTOR = 0.6
HIGH_FACTOR = 1.5
# Shown ranges above this many minutes are rounded out to whole five minutes.
COARSE_FROM_MINUTES = 15

COUNTED = ("available", "in_conversation", "wrapping_up")


@dataclass(frozen=True)
class AdvisorState:
    """What an advisor present at a booth is doing now."""

    status: str
    conversation_started_at: float | None = None
    wrap_up_until: float | None = None


@dataclass(frozen=True)
class Wait:
    """Seconds from now until the candidate is likely to be called: most likely, soonest,
    latest."""

    likely: float
    low: float
    high: float


@dataclass(frozen=True)
class Lengths:
    """Measured conversation lengths at this event: per booth (count, mean) and overall."""

    configured: float
    by_booth: dict[int, tuple[int, float]] = field(default_factory=dict)
    event_count: int = 0
    event_mean: float = 0.0

    def for_booth(self, booth_id: int) -> float:
        """The mean length to expect at a booth: its own when it has enough conversations,
        else the event's, else the configured length."""
        count, mean = self.by_booth.get(booth_id, (0, 0.0))
        if count >= BOOTH_SAMPLE:
            return max(MIN_LENGTH_SECONDS, mean)
        if self.event_count > 0:
            return max(MIN_LENGTH_SECONDS, self.event_mean)
        return self.configured


_ENDED = (
    "SELECT booth_id, COUNT(*) AS n, AVG(ended_at - started_at) AS mean FROM conversations "
    "WHERE ended_at IS NOT NULL AND no_show_at IS NULL GROUP BY booth_id"
)


def _lengths(rows: list[Any], configured_seconds: float) -> Lengths:
    by_booth = {int(r["booth_id"]): (int(r["n"]), float(r["mean"])) for r in rows}
    total = sum(n for n, _ in by_booth.values())
    mean = sum(n * m for n, m in by_booth.values()) / total if total else 0.0
    return Lengths(float(configured_seconds), by_booth, total, mean)


async def measured_lengths(db: Database | Transaction, configured_seconds: float) -> Lengths:
    """The lengths of the conversations that ended so far, in one query."""
    return _lengths(await db.fetchall(_ENDED), configured_seconds)


@dataclass(frozen=True)
class Figures:
    """What the estimate of every booth at once needs: the measured lengths, and how many
    wait at each booth now (booths nobody waits at are absent)."""

    lengths: Lengths
    waiting: dict[int, int]


async def booth_figures(db: Database | Transaction, configured_seconds: float) -> Figures:
    """``measured_lengths`` and the number waiting at each booth, in one query: the hall
    reads both for every booth each time it is pushed."""
    rows = await db.fetchall(
        f"SELECT 'ended' AS what, * FROM ({_ENDED}) AS ended UNION ALL "
        "SELECT 'waiting', booth_id, COUNT(*), NULL FROM requests WHERE status = 'waiting' "
        "GROUP BY booth_id"
    )
    ended = [r for r in rows if r["what"] == "ended"]
    waiting = {int(r["booth_id"]): int(r["n"]) for r in rows if r["what"] == "waiting"}
    return Figures(_lengths(ended, configured_seconds), waiting)


def free_in(advisor: AdvisorState, now: float, length: float) -> float | None:
    """Seconds until this advisor can take the next person, if conversations last
    ``length``; None when they are not at the booth (paused, offline)."""
    if advisor.status == "available":
        return 0.0
    if advisor.status == "in_conversation":
        started = advisor.conversation_started_at
        started = now if started is None else started
        return max(float(OVERTIME_GUESS_SECONDS), started + length - now)
    if advisor.status == "wrapping_up":
        return max(0.0, (advisor.wrap_up_until or now) - now)
    return None


def called_after(position: int, free: list[float], length: float) -> float | None:
    """When place ``position`` (1-based) is called: each place ahead takes one conversation of
    the advisor free first. None when nobody is there to call them."""
    if not free:
        return None
    heap = [max(0.0, f) for f in free]
    heapq.heapify(heap)
    start = 0.0
    for _ in range(position):
        start = heapq.heappop(heap)
        heapq.heappush(heap, start + length)
    return start


def estimate(position: int, advisors: list[AdvisorState], now: float, length: float) -> Wait | None:
    """The wait of place ``position`` among the advisors who can take it."""
    present = [a for a in advisors if a.status in COUNTED]
    if not present:
        return None

    def run(factor: float) -> float:
        free = [f for a in present if (f := free_in(a, now, length * factor)) is not None]
        wait = called_after(position, free, length * factor)
        assert wait is not None
        return wait

    likely = run(1.0)
    return Wait(likely=likely, low=min(likely, run(LOW_FACTOR)), high=max(likely, run(HIGH_FACTOR)))


def likely_minutes(wait: Wait | None) -> int | None:
    """The single number: whole minutes, rounded up so it never promises too early."""
    if wait is None:
        return None
    return max(0, math.ceil(wait.likely / 60))


def range_minutes(wait: Wait | None) -> dict[str, int] | None:
    """The shown range in whole minutes, {low, high}: equal when the wait is clear (0 is
    "now"), rounded out to five minutes when long."""
    if wait is None:
        return None
    high = max(0, math.ceil(wait.high / 60))
    low = min(high, max(0, math.floor(wait.low / 60)))
    if high >= COARSE_FROM_MINUTES:
        low = low // 5 * 5
        high = math.ceil(high / 5) * 5
    elif high - low <= 1:
        low = high
    return {"low": low, "high": high}


def shown(wait: Wait | None) -> dict[str, Any]:
    """The wire fields of a wait: ``wait_minutes`` (one number) and ``wait_range``."""
    return {"wait_minutes": likely_minutes(wait), "wait_range": range_minutes(wait)}
