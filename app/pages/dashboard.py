"""The moderator's live dashboard: /moderator (drawn whole on first paint, then following
``overview.state`` pushes) and /moderator/grafieken, today's charts as an HTML fragment the
page fetches now and then."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from app import dashboard, snapshots
from app.db import Database
from app.event import Event, load_event
from app.i18n import gettext as _
from app.pages.common import principal_of_request, refuse, render, resources_of

# The charts' drawing area, in SVG user units.
WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 44, 16, 16, 40
# Up to this many labels along the time axis.
X_LABELS = 8


def _scale_top(values: list[int]) -> int:
    top = max([*values, 1])
    step = 1 if top <= 5 else 2 if top <= 10 else 5 if top <= 25 else 10
    return -(-top // step) * step


def _y(value: int, top: int) -> float:
    return round(TOP + (HEIGHT - TOP - BOTTOM) * (1 - value / top), 1)


def _y_ticks(top: int) -> list[tuple[float, int]]:
    return [(_y(v, top), v) for v in sorted({0, top // 2, top})]


def _lines(
    title: str, unit: str, labels: list[str], series: list[tuple[str, list[int]]]
) -> dict[str, Any]:
    top = _scale_top([v for _, values in series for v in values])
    width = WIDTH - LEFT - RIGHT
    n = len(labels)

    def x(i: int) -> float:
        return round(LEFT + (width / 2 if n == 1 else width * i / (n - 1)), 1)

    every = max(1, -(-n // X_LABELS))
    return {
        "kind": "lines",
        "title": title,
        "unit": unit,
        "labels": labels,
        "series": [
            {
                "name": name,
                "values": values,
                "points": " ".join(f"{x(i)},{_y(v, top)}" for i, v in enumerate(values)),
            }
            for name, values in series
        ],
        "x_ticks": [(x(i), label) for i, label in enumerate(labels) if i % every == 0],
        "y_ticks": _y_ticks(top),
    }


def _bars(title: str, unit: str, labels: list[str], values: list[int]) -> dict[str, Any]:
    top = _scale_top(values)
    slot = (WIDTH - LEFT - RIGHT) / max(1, len(labels))
    bars = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = _y(value, top)
        bars.append(
            {
                "x": round(LEFT + slot * i + slot * 0.15, 1),
                "y": y,
                "width": round(slot * 0.7, 1),
                "height": round(HEIGHT - BOTTOM - y, 1),
                "middle": round(LEFT + slot * i + slot / 2, 1),
                "label": label,
                "value": value,
            }
        )
    return {
        "kind": "bars",
        "title": title,
        "unit": unit,
        "labels": labels,
        "series": [{"name": unit, "values": values}],
        "bars": bars,
        "y_ticks": _y_ticks(top),
    }


async def charts(db: Database, event: Event, now: float) -> list[dict[str, Any]]:
    """Today's charts, drawn by the server: waiting and talking over the day, and the
    wait-time distribution."""
    series = await dashboard.over_the_day(db, event, now)
    waits = await dashboard.wait_distribution(db, event, now)
    day = _lines(
        _("Wachtenden en lopende gesprekken vandaag (per kwartier)"),
        _("aantal"),
        series.labels,
        [(_("Wachtenden"), series.waiting), (_("Lopende gesprekken"), series.running)],
    )
    distribution = _bars(
        _("Wachttijden vandaag"),
        _("Verzoeken"),
        [_("%(range)s min.", range=b) for b in dashboard.bucket_labels()],
        waits,
    )
    return [{"id": "chart-day", **day}, {"id": "chart-waits", **distribution}]


async def dashboard_page(request: Request) -> Response:
    r = resources_of(request)
    principal = await principal_of_request(request)
    if principal.role != "moderator":
        return await refuse(request, principal, "/inloggen")
    event = await load_event(r.db)
    now = r.now()
    rev = await r.db.revision()
    overview = await snapshots.overview(r.db, event, now)
    context = {
        "overview": {**overview, "rev": rev},
        "event": event,
        "charts": await charts(r.db, event, now),
        "alert_texts": {kind: _(text) for kind, text in dashboard.ALERT_KINDS.items()},
    }
    return await render(request, "dashboard.html", principal, context)


async def charts_fragment(request: Request) -> Response:
    r = resources_of(request)
    principal = await principal_of_request(request)
    if principal.role != "moderator":
        return await refuse(request, principal, "/inloggen")
    event = await load_event(r.db)
    context = {"event": event, "charts": await charts(r.db, event, r.now())}
    return await render(request, "dashboard_charts.html", principal, context)


routes: list[BaseRoute] = [
    Route("/moderator", dashboard_page, methods=["GET"]),
    Route("/moderator/grafieken", charts_fragment, methods=["GET"]),
]
