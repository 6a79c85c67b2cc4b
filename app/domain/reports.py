"""Figures after the event, and the rows of the CSV exports. No HTTP here.

Every figure can cover the whole event or one day (a calendar day in the event's time zone):
candidates by when they signed in, requests by when they were made, conversations by when
they started (their ratings with them), follow-ups by when they were booked.

The exports hold no more personal data than counting and planning need: a candidate is
their number, never a name, e-mail address or phone number; the question a candidate typed,
the advisor's decline message and a follow-up's location and message are left out. Feedback
comments are in (they are what feedback is for), without the candidate's number.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.domain.event import Event, event_days
from app.storage.db import Database, Row

# Upper bounds (seconds) of the distribution buckets; the last bucket has no upper bound.
WAIT_BOUNDS = (60, 120, 300, 600, 900, 1800)
LENGTH_BOUNDS = (120, 300, 600, 900, 1200)

# A cell starting with one of these is read as a formula by spreadsheet programs.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"

Cell = str | int | float | None


@dataclass(frozen=True)
class Scope:
    """The whole event (``day`` None) or one local day, as a half-open range of timestamps."""

    zone: ZoneInfo
    day: date | None = None

    @property
    def bounds(self) -> tuple[float, float] | None:
        if self.day is None:
            return None
        start = datetime.combine(self.day, time(0), self.zone)
        end = datetime.combine(self.day + timedelta(days=1), time(0), self.zone)
        return start.timestamp(), end.timestamp()

    def where(self, column: str) -> tuple[str, tuple[float, ...]]:
        """An SQL condition keeping rows whose ``column`` falls inside the scope."""
        bounds = self.bounds
        if bounds is None:
            return "TRUE", ()
        return f"({column} >= ? AND {column} < ?)", bounds

    def local(self, timestamp: float) -> datetime:
        return datetime.fromtimestamp(timestamp, self.zone)


@dataclass(frozen=True)
class Bucket:
    """How many values fell in ``[lower, upper)`` seconds (``upper`` None: no upper bound)."""

    lower: int
    upper: int | None
    count: int


@dataclass(frozen=True)
class Totals:
    candidates: int  # signed in
    requests: int
    served: int  # accepted: a conversation started
    cancelled: int
    declined: int
    expired: int
    waiting: int  # still waiting at the moment of the report
    conversations: int
    running: int  # conversations not ended yet
    follow_ups: int  # booked, not cancelled
    with_follow_up: int  # conversations that led to at least one follow-up
    ratings: int
    average_rating: float | None
    median_wait_seconds: float | None  # of served requests
    median_length_seconds: float | None  # of ended conversations

    @property
    def follow_up_share(self) -> float | None:
        """Conversations that led to a follow-up, as a fraction of all conversations."""
        return self.with_follow_up / self.conversations if self.conversations else None


@dataclass(frozen=True)
class BoothFigures:
    booth_id: int
    name: str
    removed: bool
    requests: int
    served: int
    not_served: int  # cancelled, declined or expired
    conversations: int
    follow_ups: int
    with_follow_up: int
    ratings: int
    average_rating: float | None
    median_wait_seconds: float | None


@dataclass(frozen=True)
class DayFigures:
    day: date
    candidates: int
    requests: int
    served: int
    conversations: int
    follow_ups: int


@dataclass(frozen=True)
class HourFigures:
    hour: int  # 0–23, local
    requests: int
    conversations: int


@dataclass(frozen=True)
class Report:
    scope: Scope
    totals: Totals
    booths: list[BoothFigures]
    days: list[DayFigures]
    hours: dict[date, list[HourFigures]] = field(default_factory=dict)
    waits: list[Bucket] = field(default_factory=list)
    lengths: list[Bucket] = field(default_factory=list)


def scope_of(event: Event, day: date | None = None) -> Scope:
    return Scope(event.zone, day)


def distribution(values: Iterable[float], bounds: Sequence[int]) -> list[Bucket]:
    """Count values into buckets [0, b0), [b0, b1), …, [b_last, ∞)."""
    counts = [0] * (len(bounds) + 1)
    for value in values:
        index = next((i for i, bound in enumerate(bounds) if value < bound), len(bounds))
        counts[index] += 1
    lowers = [0, *bounds]
    uppers: list[int | None] = [*bounds, None]
    return [Bucket(lo, up, n) for lo, up, n in zip(lowers, uppers, counts, strict=True)]


def _median(values: list[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def _mean(values: list[int]) -> float | None:
    return sum(values) / len(values) if values else None


async def _requests(db: Database, scope: Scope) -> list[Row]:
    where, params = scope.where("created_at")
    return await db.fetchall(
        f"SELECT id, booth_id, status, created_at, closed_at FROM requests WHERE {where}", params
    )


async def _conversations(db: Database, scope: Scope) -> list[Row]:
    where, params = scope.where("c.started_at")
    return await db.fetchall(
        "SELECT c.id, c.booth_id, c.started_at, c.ended_at, f.rating, "
        "EXISTS (SELECT 1 FROM follow_ups u WHERE u.conversation_id = c.id "
        "AND u.status != 'cancelled') AS followed_up "
        "FROM conversations c LEFT JOIN feedback f ON f.conversation_id = c.id "
        # A candidate who never joined (app.domain.readiness) was no conversation held.
        f"WHERE c.no_show_at IS NULL AND {where}",
        params,
    )


async def _follow_ups(db: Database, scope: Scope) -> list[Row]:
    where, params = scope.where("created_at")
    return await db.fetchall(
        f"SELECT id, booth_id, created_at FROM follow_ups WHERE status != 'cancelled' AND {where}",
        params,
    )


async def _candidates(db: Database, scope: Scope) -> list[float]:
    where, params = scope.where("created_at")
    rows = await db.fetchall(f"SELECT created_at FROM candidates WHERE {where}", params)
    return [float(r["created_at"]) for r in rows]


def _wait(row: Row) -> float:
    return float(row["closed_at"]) - float(row["created_at"])


def _length(row: Row) -> float:
    return float(row["ended_at"]) - float(row["started_at"])


async def report(db: Database, event: Event, day: date | None = None) -> Report:
    """Every figure of the post-event report, for the whole event or for one day."""
    scope = scope_of(event, day)
    requests = await _requests(db, scope)
    conversations = await _conversations(db, scope)
    follow_ups = await _follow_ups(db, scope)
    signed_in = await _candidates(db, scope)

    status = Counter(str(r["status"]) for r in requests)
    served = [r for r in requests if r["status"] == "accepted" and r["closed_at"] is not None]
    ended = [c for c in conversations if c["ended_at"] is not None]
    ratings = [int(c["rating"]) for c in conversations if c["rating"] is not None]
    totals = Totals(
        candidates=len(signed_in),
        requests=len(requests),
        served=status["accepted"],
        cancelled=status["cancelled"],
        declined=status["declined"],
        expired=status["expired"],
        waiting=status["waiting"],
        conversations=len(conversations),
        running=len(conversations) - len(ended),
        follow_ups=len(follow_ups),
        with_follow_up=sum(1 for c in conversations if c["followed_up"]),
        ratings=len(ratings),
        average_rating=_mean(ratings),
        median_wait_seconds=_median([_wait(r) for r in served]),
        median_length_seconds=_median([_length(c) for c in ended]),
    )
    return Report(
        scope=scope,
        totals=totals,
        booths=await _per_booth(db, requests, conversations, follow_ups),
        days=_per_day(scope, signed_in, requests, conversations, follow_ups),
        hours=await _per_hour(db, scope, requests, conversations),
        waits=distribution([_wait(r) for r in served], WAIT_BOUNDS),
        lengths=distribution([_length(c) for c in ended], LENGTH_BOUNDS),
    )


async def _per_booth(
    db: Database, requests: list[Row], conversations: list[Row], follow_ups: list[Row]
) -> list[BoothFigures]:
    """Every booth of the hall, and a removed booth when it has figures in the scope."""
    by_booth_requests: dict[int, list[Row]] = defaultdict(list)
    for r in requests:
        by_booth_requests[int(r["booth_id"])].append(r)
    by_booth_conversations: dict[int, list[Row]] = defaultdict(list)
    for c in conversations:
        by_booth_conversations[int(c["booth_id"])].append(c)
    follow_up_count = Counter(int(f["booth_id"]) for f in follow_ups)
    booths = await db.fetchall(
        "SELECT id, name, removed_at FROM booths ORDER BY removed_at IS NOT NULL, position, name"
    )
    figures = []
    for booth in booths:
        booth_id = int(booth["id"])
        mine = by_booth_requests[booth_id]
        talks = by_booth_conversations[booth_id]
        removed = booth["removed_at"] is not None
        if removed and not mine and not talks and not follow_up_count[booth_id]:
            continue
        served = [r for r in mine if r["status"] == "accepted" and r["closed_at"] is not None]
        ratings = [int(c["rating"]) for c in talks if c["rating"] is not None]
        figures.append(
            BoothFigures(
                booth_id=booth_id,
                name=str(booth["name"]),
                removed=removed,
                requests=len(mine),
                served=len(served),
                not_served=sum(
                    1 for r in mine if r["status"] in ("cancelled", "declined", "expired")
                ),
                conversations=len(talks),
                follow_ups=follow_up_count[booth_id],
                with_follow_up=sum(1 for c in talks if c["followed_up"]),
                ratings=len(ratings),
                average_rating=_mean(ratings),
                median_wait_seconds=_median([_wait(r) for r in served]),
            )
        )
    return figures


def _per_day(
    scope: Scope,
    signed_in: list[float],
    requests: list[Row],
    conversations: list[Row],
    follow_ups: list[Row],
) -> list[DayFigures]:
    """One line per local day with anything on it, in order."""

    def day_of(timestamp: object) -> date:
        return scope.local(float(timestamp)).date()  # type: ignore[arg-type]

    candidates = Counter(day_of(t) for t in signed_in)
    asked = Counter(day_of(r["created_at"]) for r in requests)
    served = Counter(day_of(r["created_at"]) for r in requests if r["status"] == "accepted")
    talks = Counter(day_of(c["started_at"]) for c in conversations)
    booked = Counter(day_of(f["created_at"]) for f in follow_ups)
    days = sorted(set(candidates) | set(asked) | set(talks) | set(booked))
    return [DayFigures(d, candidates[d], asked[d], served[d], talks[d], booked[d]) for d in days]


async def _per_hour(
    db: Database, scope: Scope, requests: list[Row], conversations: list[Row]
) -> dict[date, list[HourFigures]]:
    """Per day: requests made and conversations started in each hour, from the opening
    hour (or the first activity, when earlier) to the closing hour (or the last activity)."""
    asked: Counter[tuple[date, int]] = Counter()
    for r in requests:
        moment = scope.local(float(r["created_at"]))
        asked[(moment.date(), moment.hour)] += 1
    talks: Counter[tuple[date, int]] = Counter()
    for c in conversations:
        moment = scope.local(float(c["started_at"]))
        talks[(moment.date(), moment.hour)] += 1
    hours: dict[date, set[int]] = defaultdict(set)
    for d, h in [*asked, *talks]:
        hours[d].add(h)
    for event_day in await event_days(db):
        if scope.day is not None and event_day.day != scope.day:
            continue
        if not hours[event_day.day] and scope.day is None:
            continue  # a day of the event without any activity: nothing to chart
        first = int(event_day.opens[:2])
        last = min(23, int(event_day.closes[:2]) - (event_day.closes[3:] == "00"))
        hours[event_day.day].update(range(first, max(first, last) + 1))
    result = {}
    for d in sorted(hours):
        if not hours[d]:
            continue
        span = range(min(hours[d]), max(hours[d]) + 1)
        result[d] = [HourFigures(h, asked[(d, h)], talks[(d, h)]) for h in span]
    return result


async def report_days(db: Database, event: Event) -> list[date]:
    """The days a report can be asked for: the event's days and any day with requests."""
    days = {d.day for d in await event_days(db)}
    rows = await db.fetchall("SELECT created_at FROM requests")
    days.update(event.local(float(r["created_at"])).date() for r in rows)
    return sorted(days)


# -- CSV ---------------------------------------------------------------------------------------


def iso(timestamp: float | None, zone: ZoneInfo) -> str:
    """A moment in the event's time zone, ISO 8601 with its offset; empty when there is none."""
    if timestamp is None:
        return ""
    return datetime.fromtimestamp(timestamp, zone).isoformat(timespec="seconds")


def safe_cell(value: Cell) -> str:
    """A cell as text; text a spreadsheet would run as a formula gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> bytes:
    """UTF-8 with a byte order mark (so spreadsheet programs read it as UTF-8), CRLF lines."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return (BOM + out.getvalue()).encode("utf-8")


def _seconds(start: float | None, end: float | None) -> int | None:
    if start is None or end is None:
        return None
    return round(end - start)


@dataclass(frozen=True)
class Export:
    """One CSV export: its file name stem, header and rows."""

    name: str
    header: tuple[str, ...]
    rows: list[tuple[Cell, ...]]

    def filename(self, day: date | None) -> str:
        return f"{self.name}-{day.isoformat()}.csv" if day else f"{self.name}.csv"

    def to_csv(self) -> bytes:
        return to_csv(self.header, self.rows)


REQUEST_HEADER = (
    "request_id",
    "candidate",
    "booth_id",
    "booth",
    "advisor_asked",
    "status",
    "reason",
    "created_at",
    "closed_at",
    "closed_by",
    "seconds_waited",
)


async def export_requests(db: Database, event: Event, day: date | None = None) -> Export:
    """Every request: who (a number) asked which booth, what became of it, how long it waited
    (until it was accepted, declined, cancelled or expired; empty while it still waits)."""
    scope = scope_of(event, day)
    where, params = scope.where("r.created_at")
    rows = await db.fetchall(
        "SELECT r.id, r.candidate_id, r.booth_id, b.name AS booth, a.name AS asked, r.status, "
        "r.closed_reason, r.created_at, r.closed_at, s.name AS closed_by "
        "FROM requests r JOIN booths b ON b.id = r.booth_id "
        "LEFT JOIN staff a ON a.id = r.advisor_id LEFT JOIN staff s ON s.id = r.closed_by "
        f"WHERE {where} ORDER BY r.created_at, r.id",
        params,
    )
    return Export(
        "aanvragen",
        REQUEST_HEADER,
        [
            (
                r["id"],
                r["candidate_id"],
                r["booth_id"],
                r["booth"],
                r["asked"],
                r["status"],
                r["closed_reason"],
                iso(r["created_at"], scope.zone),
                iso(r["closed_at"], scope.zone),
                r["closed_by"],
                _seconds(r["created_at"], r["closed_at"]),
            )
            for r in rows
        ],
    )


CONVERSATION_HEADER = (
    "conversation_id",
    "request_id",
    "candidate",
    "booth_id",
    "booth",
    "advisor",
    "started_at",
    "planned_end",
    "ended_at",
    "state",
    "seconds",
    "seconds_overtime",
    "follow_ups",
)


def _conversation_state(ended_at: float | None, no_show_at: float | None) -> str:
    if ended_at is None:
        return "running"
    return "ended" if no_show_at is None else "no_show"


async def export_conversations(
    db: Database, event: Event, now: float, day: date | None = None
) -> Export:
    """Every conversation, ended, running or a no-show (the candidate never joined, see
    ``app.domain.readiness``). ``seconds`` is its length (for a running one: so far, at ``now``);
    ``seconds_overtime`` how far it ran past its planned end."""
    scope = scope_of(event, day)
    where, params = scope.where("c.started_at")
    rows = await db.fetchall(
        "SELECT c.id, c.request_id, c.candidate_id, c.booth_id, b.name AS booth, "
        "s.name AS advisor, c.started_at, c.ends_at, c.ended_at, c.no_show_at, "
        "(SELECT COUNT(*) FROM follow_ups u WHERE u.conversation_id = c.id "
        "AND u.status != 'cancelled') AS follow_ups "
        "FROM conversations c JOIN booths b ON b.id = c.booth_id "
        "JOIN staff s ON s.id = c.advisor_id "
        f"WHERE {where} ORDER BY c.started_at, c.id",
        params,
    )
    out: list[tuple[Cell, ...]] = []
    for r in rows:
        until = now if r["ended_at"] is None else float(r["ended_at"])
        out.append(
            (
                r["id"],
                r["request_id"],
                r["candidate_id"],
                r["booth_id"],
                r["booth"],
                r["advisor"],
                iso(r["started_at"], scope.zone),
                iso(r["ends_at"], scope.zone),
                iso(r["ended_at"], scope.zone),
                _conversation_state(r["ended_at"], r["no_show_at"]),
                _seconds(r["started_at"], until),
                max(0, round(until - float(r["ends_at"]))),
                r["follow_ups"],
            )
        )
    return Export("gesprekken", CONVERSATION_HEADER, out)


FOLLOW_UP_HEADER = (
    "follow_up_id",
    "conversation_id",
    "candidate",
    "booth_id",
    "booth",
    "advisor",
    "starts_at",
    "minutes",
    "mode",
    "status",
    "created_at",
)


async def export_follow_ups(db: Database, event: Event, day: date | None = None) -> Export:
    """Every follow-up appointment booked (by when it was booked), cancelled ones too."""
    scope = scope_of(event, day)
    where, params = scope.where("u.created_at")
    rows = await db.fetchall(
        "SELECT u.id, u.conversation_id, u.candidate_id, u.booth_id, b.name AS booth, "
        "s.name AS advisor, u.starts_at, u.minutes, u.mode, u.status, u.created_at "
        "FROM follow_ups u JOIN booths b ON b.id = u.booth_id "
        "LEFT JOIN staff s ON s.id = u.advisor_id "
        f"WHERE {where} ORDER BY u.created_at, u.id",
        params,
    )
    return Export(
        "vervolgafspraken",
        FOLLOW_UP_HEADER,
        [
            (
                r["id"],
                r["conversation_id"],
                r["candidate_id"],
                r["booth_id"],
                r["booth"],
                r["advisor"],
                iso(r["starts_at"], scope.zone),
                r["minutes"],
                r["mode"],
                r["status"],
                iso(r["created_at"], scope.zone),
            )
            for r in rows
        ],
    )


FEEDBACK_HEADER = (
    "feedback_id",
    "conversation_id",
    "booth_id",
    "booth",
    "advisor",
    "rating",
    "comment",
    "created_at",
)


async def export_feedback(db: Database, event: Event, day: date | None = None) -> Export:
    """Every rating with its comment, by the day of the conversation rated."""
    scope = scope_of(event, day)
    where, params = scope.where("c.started_at")
    rows = await db.fetchall(
        "SELECT f.id, f.conversation_id, c.booth_id, b.name AS booth, s.name AS advisor, "
        "f.rating, f.comment, f.created_at "
        "FROM feedback f JOIN conversations c ON c.id = f.conversation_id "
        "JOIN booths b ON b.id = c.booth_id JOIN staff s ON s.id = c.advisor_id "
        f"WHERE {where} ORDER BY f.created_at, f.id",
        params,
    )
    return Export(
        "feedback",
        FEEDBACK_HEADER,
        [
            (
                r["id"],
                r["conversation_id"],
                r["booth_id"],
                r["booth"],
                r["advisor"],
                r["rating"],
                r["comment"],
                iso(r["created_at"], scope.zone),
            )
            for r in rows
        ],
    )
