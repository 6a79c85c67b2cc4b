"""Candidates: sign in, zoom in on a booth, follow and cancel my request."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app.commands import actions
from app.core.errors import DomainError
from app.core.i18n import N_
from app.core.i18n import gettext as _
from app.domain import candidates
from app.domain.event import load_event
from app.domain.presence import seen as presence_seen
from app.domain.principals import Principal
from app.live import snapshots
from app.live.resources import Resources
from app.web.auth import sign_in_candidate
from app.web.pages.common import (
    candidate_sign_in,
    error_context,
    error_page,
    form_int,
    principal_of_request,
    read_form,
    refuse,
    render,
    resources_of,
    safe_next,
    status_for,
)
from app.web.pages.guards import anyone, for_candidates

SIGN_IN_LABELS = {
    "name": N_("Naam"),
    "email": N_("E-mailadres"),
    "phone": N_("Telefoonnummer"),
    "consent": N_("Toestemming"),
}


async def sign_in_page(request: Request) -> Response:
    principal = await principal_of_request(request)
    next_url = safe_next(request.query_params.get("next"))
    if principal.role == "candidate":
        # Signing in again would make a new candidate and lose the place in the queue.
        return RedirectResponse(next_url, status_code=303)
    return await render(
        request,
        "sign_in.html",
        principal,
        {"values": {}, "next": next_url},
    )


async def sign_in_submit(request: Request, principal: Principal) -> Response:
    r = resources_of(request)
    form = await read_form(request)
    values = {k: str(form.get(k, "")) for k in ("name", "email", "phone")}
    next_url = safe_next(form.get("next"))
    if principal.role == "candidate":
        # Already signed in (a second tab, the back button): a new candidate would orphan
        # the place in the queue, so they simply go on as who they are.
        return RedirectResponse(next_url, status_code=303)
    try:
        candidate = await candidates.sign_in(
            r.db,
            name=values["name"],
            email=values["email"],
            phone=values["phone"],
            consent=form.get("consent") == "yes",
            now=r.now(),
        )
    except DomainError as error:
        labels = {k: _(v) for k, v in SIGN_IN_LABELS.items()}
        context = {"values": values, "next": next_url, **error_context(error, labels)}
        return await render(request, "sign_in.html", principal, context, 400)
    await sign_in_candidate(r.db, request.session, candidate.id, r.now())
    return RedirectResponse(next_url, status_code=303)


async def _booth_context(r: Resources, booth_id: int) -> dict[str, Any] | None:
    event = await load_event(r.db)
    views = await snapshots.booth_views(r.db, event, r.now(), booth_id)
    if not views:
        return None
    return {"booth": views[0], "event": event}


async def zoom_in_page(request: Request) -> Response:
    r = resources_of(request)
    principal = await principal_of_request(request)
    booth_id = request.path_params["booth_id"]
    if principal.role != "candidate":
        back = f"/inzoomen/{booth_id}"
        if request.url.query:
            back += "?" + request.url.query
        return await refuse(request, principal, candidate_sign_in(back))
    context = await _booth_context(r, booth_id)
    if context is None:
        error = DomainError("booth.not_found")
        return await render(request, "error.html", principal, error_context(error, {}), 404)
    advisor = request.query_params.get("adviseur", "")
    context.update(
        {
            "values": {"question": "", "advisor_id": advisor if advisor.isdigit() else ""},
            "client_key": secrets.token_urlsafe(16),
        }
    )
    return await render(request, "zoom_in.html", principal, context)


async def zoom_in_submit(request: Request, principal: Principal) -> Response:
    r = resources_of(request)
    booth_id = request.path_params["booth_id"]
    form = await read_form(request)
    data = {
        "booth_id": booth_id,
        "advisor_id": form_int(form, "advisor_id"),
        # Browsers send line breaks as CRLF; the 500-character limit counts one per break.
        "question": str(form.get("question", "")).replace("\r\n", "\n"),
        "client_key": str(form.get("client_key", "")),
    }
    try:
        await actions.perform(r, principal, "request.create", data)
    except DomainError as error:
        if principal.role == "anonymous":
            return RedirectResponse(candidate_sign_in(f"/inzoomen/{booth_id}"), status_code=303)
        context = await _booth_context(r, booth_id)
        if context is None:
            return await render(request, "error.html", principal, error_context(error, {}), 404)
        labels = {"question": _("Je vraag"), "advisor_id": _("Met wie")}
        context.update(
            {
                "values": {"question": data["question"], "advisor_id": data["advisor_id"] or ""},
                "client_key": data["client_key"] or secrets.token_urlsafe(16),
                **error_context(error, labels),
            }
        )
        return await render(request, "zoom_in.html", principal, context, status_for(error))
    if r.presence is not None and principal.id is not None:
        # No socket made this request: its grace period runs until a page or socket of
        # theirs shows they are there.
        await r.presence.request_made_without_connection(principal.id)
    return RedirectResponse("/mijn-verzoek", status_code=303)


async def my_request_page(request: Request) -> Response:
    r = resources_of(request)
    principal = await principal_of_request(request)
    if principal.role != "candidate" or principal.id is None:
        return await refuse(request, principal, candidate_sign_in("/mijn-verzoek"))
    # A page view shows the candidate is there (without JavaScript the page refreshes
    # itself well within the grace period).
    await presence_seen(r.db, principal.id, r.now())
    event = await load_event(r.db)
    me = await snapshots.candidate_state(r.db, event, principal.id, r.now())
    context = {"me": me, "event": event, "refresh_seconds": refresh_seconds(r)}
    return await render(request, "my_request.html", principal, context)


def refresh_seconds(r: Resources) -> int:
    """How often the my-request page reloads itself when JavaScript is off: often enough
    to show the place in line and to keep the place well within the grace period."""
    return max(1, min(30, r.settings.grace_seconds // 3))


async def cancel_submit(request: Request, principal: Principal) -> Response:
    r = resources_of(request)
    form = await read_form(request)
    try:
        await actions.perform(
            r, principal, "request.cancel", {"request_id": form_int(form, "request_id")}
        )
    except DomainError as error:
        return await error_page(request, principal, error)
    return RedirectResponse("/mijn-verzoek", status_code=303)


async def rate_submit(request: Request, principal: Principal) -> Response:
    """The candidate rates their ended conversation (``conversation.rate``)."""
    r = resources_of(request)
    form = await read_form(request)
    data = {
        "conversation_id": form_int(form, "conversation_id"),
        "rating": form_int(form, "rating"),
        # Browsers send line breaks as CRLF; the limit counts one per break.
        "comment": str(form.get("comment", "")).replace("\r\n", "\n"),
    }
    try:
        await actions.perform(r, principal, "conversation.rate", data)
    except DomainError as error:
        labels = {"rating": _("Cijfer"), "comment": _("Opmerking")}
        return await render(
            request, "error.html", principal, error_context(error, labels), status_for(error)
        )
    return RedirectResponse("/mijn-verzoek", status_code=303)


async def _request_step(request: Request, action: str) -> Response:
    """A readiness step without JavaScript: confirm (``request.ready``) or more time
    (``request.more_time``); back to the page, which shows the new state."""
    r = resources_of(request)
    principal = await principal_of_request(request)
    form = await read_form(request)
    try:
        await actions.perform(r, principal, action, {"request_id": form_int(form, "request_id")})
    except DomainError as error:
        return await error_page(request, principal, error)
    return RedirectResponse("/mijn-verzoek", status_code=303)


async def ready_submit(request: Request, principal: Principal) -> Response:
    return await _request_step(request, "request.ready")


async def more_time_submit(request: Request, principal: Principal) -> Response:
    return await _request_step(request, "request.more_time")


async def join_submit(request: Request, principal: Principal) -> Response:
    """The candidate joins the call: recorded (``conversation.join``), then on to the link."""
    r = resources_of(request)
    form = await read_form(request)
    data = {"conversation_id": form_int(form, "conversation_id")}
    try:
        joined = await actions.perform(r, principal, "conversation.join", data)
    except DomainError as error:
        return await error_page(request, principal, error)
    return RedirectResponse(joined["video_url"], status_code=303)


routes = [
    Route("/aanmelden", sign_in_page, methods=["GET"]),
    Route("/aanmelden", anyone(sign_in_submit), methods=["POST"]),
    Route("/inzoomen/{booth_id:int}", zoom_in_page, methods=["GET"]),
    Route("/inzoomen/{booth_id:int}", anyone(zoom_in_submit), methods=["POST"]),
    Route("/mijn-verzoek", my_request_page, methods=["GET"]),
    Route("/mijn-verzoek/annuleren", for_candidates(cancel_submit), methods=["POST"]),
    Route("/mijn-verzoek/beoordelen", for_candidates(rate_submit), methods=["POST"]),
    Route("/mijn-verzoek/klaar", for_candidates(ready_submit), methods=["POST"]),
    Route("/mijn-verzoek/meer-tijd", for_candidates(more_time_submit), methods=["POST"]),
    Route("/mijn-verzoek/deelnemen", for_candidates(join_submit), methods=["POST"]),
]
