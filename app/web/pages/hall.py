"""The hall: every booth, live, with filters that work without scripts."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.domain import booths
from app.domain.event import load_event
from app.live import snapshots
from app.web.pages.common import (
    principal_of_request,
    render,
    resources_of,
)


def _filters(request: Request) -> dict[str, Any]:
    sector = request.query_params.get("sector", "")
    offer = request.query_params.get("offer", "")
    return {
        "sector": sector if sector in booths.SECTORS else "",
        "offer": offer if offer in booths.OFFERS else "",
        "open": request.query_params.get("open") == "1",
    }


def _matches(view: dict[str, Any], filters: dict[str, Any]) -> bool:
    if filters["sector"] and view["sector"] != filters["sector"]:
        return False
    if filters["offer"] and filters["offer"] not in view["offers"]:
        return False
    if filters["open"] and (view.get("closed") or view.get("event_closed")):
        return False
    return not (filters["open"] and not (view["open_now"] or view["present"]))


async def hall_page(request: Request) -> Response:
    r = resources_of(request)
    principal = await principal_of_request(request)
    event = await load_event(r.db)
    now = r.now()
    hall = await snapshots.hall(r.db, event, now)
    filters = _filters(request)
    for view in hall["booths"]:
        view["visible"] = _matches(view, filters)
    me = None
    if principal.role == "candidate" and principal.id is not None:
        me = await snapshots.candidate_state(r.db, event, principal.id, now)
    sectors = sorted({v["sector"] for v in hall["booths"]})
    return await render(
        request,
        "hall.html",
        principal,
        {
            "event": event,
            "hall": hall,
            "filters": filters,
            "sectors": sectors,
            "me": me,
            "today": event.local(now).date().isoformat(),
        },
    )


routes = [
    Route("/", hall_page),
]
