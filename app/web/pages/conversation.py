"""One conversation as its booth's advisors and the moderator see it: who, when, and the
advisor's notes, which the booth's advisors can edit here after the conversation ended."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app.commands import actions
from app.core.errors import DomainError
from app.core.i18n import gettext as _
from app.domain import notes
from app.domain.principals import Principal
from app.web.pages.common import (
    error_context,
    error_page,
    principal_of_request,
    read_form,
    refuse,
    render,
    resources_of,
    status_for,
)
from app.web.pages.guards import for_advisors


async def conversation_page(request: Request) -> Response:
    r = resources_of(request)
    principal = await principal_of_request(request)
    if principal.role not in ("advisor", "moderator"):
        return await refuse(request, principal, "/inloggen")
    try:
        found = await notes.notes_for(
            r.db,
            request.path_params["conversation_id"],
            role=principal.role,
            booth_id=principal.booth_id,
        )
    except DomainError as error:
        return await render(request, "error.html", principal, error_context(error, {}), 404)
    return await render(
        request,
        "conversation.html",
        principal,
        {"c": found, "values": {"notes": found.notes}, "notes_max": notes.NOTES_MAX},
    )


async def notes_submit(request: Request, principal: Principal) -> Response:
    r = resources_of(request)
    form = await read_form(request)
    conversation_id = request.path_params["conversation_id"]
    text = str(form.get("notes", "")).replace("\r\n", "\n")
    try:
        await actions.perform(
            r, principal, "conversation.note", {"conversation_id": conversation_id, "notes": text}
        )
    except DomainError as error:
        found = None
        if principal.role == "advisor":
            found = await notes.read_notes(r.db, conversation_id)
        if found is None or found.booth_id != principal.booth_id:
            return await error_page(request, principal, error)
        context = {
            "c": found,
            "values": {"notes": text},
            "notes_max": notes.NOTES_MAX,
            **error_context(error, {"notes": _("Notities")}),
        }
        return await render(request, "conversation.html", principal, context, status_for(error))
    return RedirectResponse(f"/gesprekken/{conversation_id}", status_code=303)


routes = [
    Route("/gesprekken/{conversation_id:int}", conversation_page, methods=["GET"]),
    Route(
        "/gesprekken/{conversation_id:int}/notities", for_advisors(notes_submit), methods=["POST"]
    ),
]
