"""Operational figures for Prometheus, one registry per running hall, served at ``/metrics``.

Counted in this process as things happen: open WebSocket connections (by role), hall pushes
and how long a change took to reach this process's clients, clients dropped for falling
behind. Read from the database at each scrape: the queues, the longest wait, running and
overtime conversations, conversations started, requests of today and advisors by status.
Those are the same in every worker process; the counted ones are per process (``pid``).

The HTTP side (who may read ``/metrics``) is ``app.web.metrics_endpoint``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import metadata

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    generate_latest,
)
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from app.domain.advisors import PRESENT, STATUSES
from app.domain.event import Event
from app.domain.principals import ROLES
from app.storage.db import Database

BROADCAST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
REQUEST_STATUSES = ("waiting", "accepted", "declined", "cancelled", "expired")


def _version() -> str:
    try:
        return metadata.version("inzoomen")
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class HallFigures:
    """What the database says about the hall at one moment."""

    waiting_by_booth: dict[str, int]
    present_by_booth: dict[str, int]
    longest_wait_seconds: float
    conversations_running: int
    conversations_overtime: int
    conversations_started_today: int
    conversations_started: int
    requests_today: dict[str, int]
    advisors_by_status: dict[str, int]

    @property
    def waiting(self) -> int:
        return sum(self.waiting_by_booth.values())


async def read_figures(db: Database, event: Event, now: float) -> HallFigures:
    """A few small aggregate queries; "today" is the event's day in its own time zone."""
    midnight = event.local(now).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    placeholders = ", ".join("?" for _ in PRESENT)
    booths = await db.fetchall(
        "SELECT b.slug, "
        "(SELECT COUNT(*) FROM requests r WHERE r.booth_id = b.id AND r.status = 'waiting'), "
        "(SELECT COUNT(*) FROM staff s WHERE s.booth_id = b.id AND s.role = 'advisor' "
        f"AND s.active = 1 AND s.status IN ({placeholders})) "
        "FROM booths b ORDER BY b.position, b.id",
        PRESENT,
    )
    oldest = await db.fetchvalue("SELECT MIN(created_at) FROM requests WHERE status = 'waiting'")
    running = await db.fetchone(
        "SELECT COUNT(*), COUNT(CASE WHEN ends_at < ? THEN 1 END) FROM conversations "
        "WHERE ended_at IS NULL",
        (now,),
    )
    started = await db.fetchone(
        "SELECT COUNT(*), COUNT(CASE WHEN started_at >= ? THEN 1 END) FROM conversations",
        (midnight,),
    )
    requests_today = dict.fromkeys(REQUEST_STATUSES, 0)
    for status, number in await db.fetchall(
        "SELECT status, COUNT(*) FROM requests WHERE created_at >= ? GROUP BY status",
        (midnight,),
    ):
        requests_today[status] = number
    advisors = dict.fromkeys(STATUSES, 0)
    for status, number in await db.fetchall(
        "SELECT status, COUNT(*) FROM staff WHERE role = 'advisor' AND active = 1 GROUP BY status"
    ):
        advisors[status] = number
    assert running is not None and started is not None
    return HallFigures(
        waiting_by_booth={row[0]: int(row[1]) for row in booths},
        present_by_booth={row[0]: int(row[2]) for row in booths},
        longest_wait_seconds=0.0 if oldest is None else max(0.0, now - float(oldest)),
        conversations_running=int(running[0]),
        conversations_overtime=int(running[1]),
        conversations_started_today=int(started[1]),
        conversations_started=int(started[0]),
        requests_today=requests_today,
        advisors_by_status=advisors,
    )


class HallCollector:
    """Turns the figures of the latest scrape into metric families."""

    def __init__(self) -> None:
        self.figures: HallFigures | None = None

    def describe(self) -> Iterable[Metric]:
        return self._families(None)

    def collect(self) -> Iterable[Metric]:
        return self._families(self.figures)

    def _families(self, f: HallFigures | None) -> Iterator[Metric]:
        def gauge(name: str, doc: str, value: float | None) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, value=value)

        yield gauge(
            "inzoomen_requests_waiting",
            "Requests waiting in every queue of the hall",
            None if f is None else f.waiting,
        )
        per_booth = GaugeMetricFamily(
            "inzoomen_booth_requests_waiting", "Requests waiting at one booth", labels=["booth"]
        )
        present = GaugeMetricFamily(
            "inzoomen_booth_advisors_present",
            "Advisors of one booth who are available, in conversation or wrapping up",
            labels=["booth"],
        )
        if f is not None:
            for slug, number in f.waiting_by_booth.items():
                per_booth.add_metric([slug], number)
            for slug, number in f.present_by_booth.items():
                present.add_metric([slug], number)
        yield per_booth
        yield present
        yield gauge(
            "inzoomen_longest_wait_seconds",
            "How long the request that has waited longest has been waiting (0: nobody waits)",
            None if f is None else f.longest_wait_seconds,
        )
        yield gauge(
            "inzoomen_conversations_running",
            "Conversations that have started and not ended",
            None if f is None else f.conversations_running,
        )
        yield gauge(
            "inzoomen_conversations_overtime",
            "Running conversations past their end time",
            None if f is None else f.conversations_overtime,
        )
        yield gauge(
            "inzoomen_conversations_started_today",
            "Conversations started since midnight in the event's time zone",
            None if f is None else f.conversations_started_today,
        )
        yield CounterMetricFamily(
            "inzoomen_conversations_started",
            "Conversations started since the event began",
            value=None if f is None else f.conversations_started,
        )
        requests = GaugeMetricFamily(
            "inzoomen_requests_today",
            "Requests made since midnight in the event's time zone, by their status now",
            labels=["status"],
        )
        advisors = GaugeMetricFamily(
            "inzoomen_advisors", "Active advisor accounts by live status", labels=["status"]
        )
        if f is not None:
            for status, number in f.requests_today.items():
                requests.add_metric([status], number)
            for status, number in f.advisors_by_status.items():
                advisors.add_metric([status], number)
        yield requests
        yield advisors


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.connections = Gauge(
            "inzoomen_connections",
            "Open WebSocket connections in this process",
            ["role"],
            registry=self.registry,
        )
        for role in ROLES:
            self.connections.labels(role=role)
        self.broadcast_seconds = Histogram(
            "inzoomen_hall_broadcast_seconds",
            "From a hall change to its push having been written to every client of this process",
            buckets=BROADCAST_BUCKETS,
            registry=self.registry,
        )
        self.slow_clients_dropped = Counter(
            "inzoomen_slow_clients_dropped",
            "Connections closed because the client did not keep up with its messages",
            registry=self.registry,
        )
        self.process = Info(
            "inzoomen_process", "The process that answered this scrape", registry=self.registry
        )
        self.process.info({"pid": str(os.getpid()), "version": _version()})
        # The standard process, Python and garbage-collector figures of this process.
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            self.registry.register(collector)
        self.hall = HallCollector()
        self.registry.register(self.hall)

    def connection_opened(self, role: str) -> None:
        self.connections.labels(role=role).inc()

    def connection_closed(self, role: str) -> None:
        self.connections.labels(role=role).dec()

    def observe_broadcast(self, seconds: float) -> None:
        self.broadcast_seconds.observe(seconds)

    def slow_client_dropped(self) -> None:
        self.slow_clients_dropped.inc()

    async def render(self, db: Database, event: Event, now: float) -> bytes:
        """The text exposition, with the database figures read just now."""
        figures = await read_figures(db, event, now)
        # No await between setting and rendering: this scrape renders its own figures.
        self.hall.figures = figures
        return generate_latest(self.registry)
