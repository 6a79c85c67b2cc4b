"""The moderator's live dashboard: /moderator (drawn whole on first paint, then following
``overview.state`` pushes) and /moderator/grafieken, today's charts as an HTML fragment the
page fetches now and then."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from app.core.i18n import gettext as _
from app.domain import dashboard
from app.domain.charts import Chart, bars, lines
from app.domain.event import Event, load_event
from app.live import snapshots
from app.storage.db import Database
from app.web.pages.common import principal_of_request, refuse, render, resources_of


async def charts(db: Database, event: Event, now: float) -> list[tuple[str, Chart]]:
    """Today's charts, drawn by the server (``app.domain.charts``): waiting and talking over the
    day, and the wait-time distribution; each with the key the page knows it by."""
    series = await dashboard.over_the_day(db, event, now)
    waits = await dashboard.wait_distribution(db, event, now)
    day = lines(
        _("Wachtenden en lopende gesprekken vandaag (per kwartier)"),
        series.labels,
        [(_("Wachtenden"), series.waiting), (_("Lopende gesprekken"), series.running)],
        unit=_("aantal"),
        axis=_("Tijd"),
    )
    distribution = bars(
        _("Wachttijden vandaag"),
        [_("%(range)s min.", range=b) for b in dashboard.bucket_labels()],
        waits,
        unit=_("verzoeken"),
        axis=_("Wachttijd"),
    )
    return [("chart-day", day), ("chart-waits", distribution)]


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
