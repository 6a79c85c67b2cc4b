"""Announcements to the hall or to the advisors: the moderator's page and its two forms,
thin adapters over ``actions.perform`` (``announcement.create``, ``announcement.end``)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from app.commands import actions
from app.core.errors import DomainError
from app.core.i18n import gettext as _
from app.domain import announcements
from app.domain.event import load_event
from app.domain.principals import Principal
from app.web.pages.common import (
    error_context,
    read_form,
    render,
    resources_of,
    status_for,
)
from app.web.pages.guards import for_moderators

PATH = "/moderator/mededelingen"
# What the page says after a form did its work (``?gedaan=...``).
DONE = ("geplaatst", "beeindigd")


def _labels() -> dict[str, str]:
    return {"text": _("Tekst van de mededeling"), "audience": _("Voor wie")}


async def _page(
    request: Request,
    principal: Principal,
    context: dict[str, Any],
    status_code: int = 200,
) -> Response:
    r = resources_of(request)
    event = await load_event(r.db)
    now = r.now()
    done = request.query_params.get("gedaan")
    base = {
        "event": event,
        "live": await announcements.live_announcements(r.db),
        "ended": await announcements.ended_today(r.db, event, now),
        "text_max": announcements.TEXT_MAX,
        "live_max": announcements.LIVE_MAX,
        "values": {"audience": "all"},
        "done": done if done in DONE and status_code == 200 else None,
    }
    base.update(context)
    return await render(request, "announcements.html", principal, base, status_code)


async def announcements_page(request: Request, principal: Principal) -> Response:
    return await _page(request, principal, {})


async def create_submit(request: Request, principal: Principal) -> Response:
    r = resources_of(request)
    form = await read_form(request)
    text = form.get("text")
    audience = form.get("audience")
    data = {
        # Browsers send line breaks as CRLF; the limit counts one per break.
        "text": text.replace("\r\n", "\n") if isinstance(text, str) else None,
        "audience": audience if isinstance(audience, str) else None,
    }
    try:
        await actions.perform(r, principal, "announcement.create", data)
    except DomainError as error:
        values = {"text": data["text"] or "", "audience": data["audience"] or ""}
        context = {"values": values, **error_context(error, _labels())}
        return await _page(request, principal, context, status_for(error))
    return RedirectResponse(f"{PATH}?gedaan=geplaatst", status_code=303)


async def end_submit(request: Request, principal: Principal) -> Response:
    r = resources_of(request)
    data = {"announcement_id": request.path_params["announcement_id"]}
    try:
        await actions.perform(r, principal, "announcement.end", data)
    except DomainError as error:
        return await _page(request, principal, error_context(error, {}), status_for(error))
    return RedirectResponse(f"{PATH}?gedaan=beeindigd", status_code=303)


routes: list[BaseRoute] = [
    Route(PATH, for_moderators(announcements_page), methods=["GET"]),
    Route(PATH, for_moderators(create_submit), methods=["POST"]),
    Route(
        f"{PATH}/{{announcement_id:int}}/beeindigen", for_moderators(end_submit), methods=["POST"]
    ),
]
