"""The call page of a conversation (app.domain.calls), for its two participants only.

Opening it is the candidate's join (``conversation.join``): the call starts from the accept
without another click. Everyone else gets the same "not found" for a real token and a
made-up one; visitors who are not signed in are asked to sign in first, whatever the token.
The call itself runs in the page's script: WebRTC between the two browsers, signalling over
the live connection (``call.signal``).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app.commands import actions
from app.core.errors import DomainError
from app.core.i18n import gettext as _
from app.domain import calls
from app.domain.calls import Call
from app.domain.candidates import PHONE_MAX
from app.domain.ice import client_config
from app.domain.principals import Principal
from app.domain.video import call_url
from app.web.pages.common import (
    candidate_sign_in,
    error_context,
    principal_of_request,
    read_form,
    render,
    resources_of,
    status_for,
)
from app.web.pages.guards import anyone

PARTICIPANTS = ("candidate", "advisor")


def call_texts() -> dict[str, str]:
    """The texts the call page's script shows besides the shared ones (client_texts)."""
    return {
        "state.new": _("Camera en microfoon starten…"),
        "state.waiting": _("Wachten tot de ander er is…"),
        "state.connecting": _("Verbinden…"),
        "state.connected": _("Verbonden"),
        "state.reconnecting": _("Verbinding weg. We verbinden opnieuw…"),
        "state.ended": _("Het gesprek is afgelopen."),
        "no_media": _(
            "We kunnen je camera of microfoon niet gebruiken. Geef de browser toestemming, "
            "of kies hieronder een andere manier om te praten."
        ),
        "mic_on": _("Microfoon uit"),
        "mic_off": _("Microfoon aan"),
        "camera_on": _("Camera uit"),
        "camera_off": _("Camera aan"),
        "audio_only_on": _("Ook video"),
        "audio_only_off": _("Alleen geluid"),
        "other_muted": _("De ander heeft de microfoon uit."),
        "other_camera_off": _("De ander heeft de camera uit."),
        "other_audio_only": _("Alleen geluid: zwakke verbinding."),
        "fallback_external": _("%(who)s gaat verder in de externe videoruimte."),
        "fallback_personal": _("%(who)s gaat verder via de eigen videolink van de adviseur."),
        "fallback_phone": _("%(name)s vraagt of je belt: %(phone)s"),
        "fallback_open": _("Openen"),
        "who.candidate": _("De kandidaat"),
        "who.advisor": _("De adviseur"),
        "phone_asked": _("De adviseur belt je op %(phone)s."),
        "camera_n": _("Camera %(n)s"),
        "microphone_n": _("Microfoon %(n)s"),
    }


async def _page(
    request: Request,
    call: Call,
    role: str,
    person_id: int,
    *,
    errors: DomainError | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    r = resources_of(request)
    principal = await principal_of_request(request)
    context: dict[str, Any] = {
        "call": call,
        "role": role,
        # What the browser needs to reach the other one (STUN/TURN from the settings).
        "ice": client_config(r.settings, f"{role}-{person_id}", r.now()),
        "call_texts": call_texts(),
        "phone_max": PHONE_MAX,
        "values": values or {"phone": call.callback_phone or call.candidate_phone},
    }
    if errors is not None:
        context.update(error_context(errors, {"phone": _("Telefoonnummer"), "agree": ""}))
    return await render(request, "call.html", principal, context, status_code)


async def _not_found(request: Request) -> Response:
    principal = await principal_of_request(request)
    error = DomainError("call.not_found")
    return await render(request, "error.html", principal, error_context(error, {}), 404)


async def call_page(request: Request) -> Response:
    r = resources_of(request)
    principal = await principal_of_request(request)
    token = request.path_params["token"]
    if principal.role == "anonymous":
        return RedirectResponse(candidate_sign_in(call_url(token)), status_code=303)
    if principal.role not in PARTICIPANTS or principal.id is None:
        return await _not_found(request)
    try:
        call = await calls.find(r.db, token, role=principal.role, person_id=principal.id)
    except DomainError:
        return await _not_found(request)
    if call.running and principal.role == "candidate" and call.joined_at is None:
        # Being on the call page is being in the call: it counts as joining.
        await actions.perform(
            r, principal, "conversation.join", {"conversation_id": call.conversation_id}
        )
    return await _page(request, call, principal.role, principal.id)


async def phone_me_submit(request: Request, principal: Principal) -> Response:
    """Asking "bel mij" without the live connection (``call.phone_me``); back to the call page."""
    r = resources_of(request)
    form = await read_form(request)
    token = request.path_params["token"]
    # Only the call's candidate gets further than "not found", whoever else posts.
    if principal.role != "candidate" or principal.id is None:
        return await _not_found(request)
    try:
        call = await calls.find(r.db, token, role="candidate", person_id=principal.id)
    except DomainError:
        return await _not_found(request)
    data = {
        "token": token,
        "phone": str(form.get("phone", "")),
        "agree": form.get("agree") == "ja",
    }
    try:
        await actions.perform(r, principal, "call.phone_me", data)
    except DomainError as error:
        return await _page(
            request,
            call,
            "candidate",
            principal.id,
            errors=error,
            values={"phone": data["phone"]},
            status_code=status_for(error),
        )
    return RedirectResponse(call_url(token), status_code=303)


routes = [
    Route("/videogesprek/{token}", call_page, methods=["GET"]),
    Route("/videogesprek/{token}/bel-mij", anyone(phone_me_submit), methods=["POST"]),
]
