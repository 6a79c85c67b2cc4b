"""Follow-up appointments on the web: the advisor's booking form and availability, one
follow-up as its holders see it (with the conversation's notes), and the candidate's
"Mijn afspraken" with cancel, ask to reschedule and the calendar file.

Forms are thin adapters over ``actions.perform``; every rule lives in ``app.domain.followups``.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app.commands import actions
from app.core.errors import DomainError
from app.core.i18n import N_
from app.core.i18n import gettext as _
from app.domain import followups
from app.domain.calendar_file import follow_up_ics
from app.domain.event import Event, load_event
from app.domain.followups import Staffer
from app.domain.principals import Principal
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
    status_for,
)
from app.web.pages.guards import for_advisors, for_candidates, for_staff

MODE_LABELS = {"video": N_("Video"), "phone": N_("Telefoon"), "on_site": N_("Op locatie")}
STATUS_LABELS = {
    "booked": N_("Geboekt"),
    "cancelled": N_("Geannuleerd"),
    "reschedule_requested": N_("Vraagt om te verzetten"),
}
DONE = {
    "geboekt": N_("De vervolgafspraak is geboekt."),
    "verzet": N_("De afspraak is verzet."),
    "geannuleerd": N_("De afspraak is geannuleerd."),
    "gevraagd": N_("Je vraag om de afspraak te verzetten is verstuurd."),
    "toegevoegd": N_("Je beschikbaarheid is toegevoegd."),
    "verwijderd": N_("De periode is verwijderd."),
}


def _labels() -> dict[str, str]:
    return {
        "starts": _("Datum en tijd"),
        "ends": _("Tot"),
        "minutes": _("Lengte"),
        "mode": _("Hoe"),
        "location": _("Link, telefoonnummer of adres"),
        "holder": _("Met wie"),
        "message": _("Bericht aan de kandidaat"),
        "confirm": _("Bevestigen"),
        "conversation_id": _("Gesprek"),
    }


def _common(event: Event, request: Request) -> dict[str, Any]:
    done = request.query_params.get("gedaan", "")
    return {
        "mode_labels": MODE_LABELS,
        "status_labels": STATUS_LABELS,
        "lengths": followups.LENGTHS,
        "message_max": followups.MESSAGE_MAX,
        "location_max": followups.LOCATION_MAX,
        "done": _(DONE[done]) if done in DONE else "",
        "event": event,
    }


def _shown(event: Event, item: dict[str, Any]) -> dict[str, Any]:
    """A follow-up's view with its local day, for the pages."""
    return {**item, "day": event.local(item["starts_at"]).date().isoformat()}


def _staffer(principal: Principal) -> Staffer:
    assert principal.id is not None
    return Staffer(principal.id, principal.role, principal.booth_id)


# -- the advisor books ---------------------------------------------------------------------------


async def _booking_page(
    request: Request,
    principal: Principal,
    conversation_id: int | None,
    values: dict[str, Any],
    error: DomainError | None = None,
) -> Response:
    """The booking form for one conversation; without one (``conversation_id`` None) it
    asks which of the booth's recent conversations the follow-up is for."""
    r = resources_of(request)
    event = await load_event(r.db)
    staffer = _staffer(principal)
    conversation: dict[str, Any] | None = None
    choices: list[dict[str, Any]] = []
    if conversation_id is None:
        choices = await followups.recent_conversations(r.db, staffer)
        holders_booth = staffer.booth_id
    else:
        try:
            conversation = await followups.booking_context(r.db, staffer, conversation_id)
        except DomainError as refused:
            return await error_page(request, principal, refused)
        holders_booth = conversation["booth_id"]
    minutes = values.get("minutes")
    minutes = minutes if minutes in followups.LENGTHS else followups.DEFAULT_MINUTES
    offers: list[dict[str, str]] = []
    if principal.role == "advisor":
        starts = await followups.free_starts(r.db, staffer.id, minutes, r.now())
        offers = followups.offer_choices(event, starts)
    context = {
        **_common(event, request),
        "conversation": conversation,
        "conversations": choices,
        "holders": await followups.holders(r.db, staffer, holders_booth),
        "offers": offers,
        "values": {"minutes": minutes, **{k: v for k, v in values.items() if k != "minutes"}},
    }
    status = 200
    if error is not None:
        context.update(error_context(error, _labels()))
        status = status_for(error)
    return await render(request, "follow_up_book.html", principal, context, status)


async def booking_form(request: Request) -> Response:
    principal = await principal_of_request(request)
    if principal.role not in ("advisor", "moderator"):
        return await refuse(request, principal, "/inloggen")
    raw = request.query_params.get("gesprek", "")
    conversation_id: int | None = None
    if raw:
        if not (raw.isascii() and raw.isdigit() and len(raw) < 16):
            return await error_page(request, principal, DomainError("conversation.not_found"))
        conversation_id = int(raw)
    event = await load_event(resources_of(request).db)
    values: dict[str, Any] = {
        "starts": followups.default_start(event, resources_of(request).now()),
        "mode": "video",
        "holder": "me",
    }
    wanted = request.query_params.get("minuten", "")
    if wanted.isascii() and wanted.isdigit() and len(wanted) < 4:
        values["minutes"] = int(wanted)
    return await _booking_page(request, principal, conversation_id, values)


def _text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    if value is None:
        return None
    return str(value).replace("\r\n", "\n")


async def booking_submit(request: Request, principal: Principal) -> Response:
    r = resources_of(request)
    form = await read_form(request)
    # A quick choice from the advisor's availability wins over the typed time.
    starts = _text(form, "offer") or _text(form, "starts")
    data: dict[str, Any] = {
        "conversation_id": form_int(form, "conversation_id"),
        "starts": starts,
        "minutes": form_int(form, "minutes"),
        "mode": _text(form, "mode"),
        "location": _text(form, "location"),
        "holder": _text(form, "holder"),
        "message": _text(form, "message"),
    }
    try:
        result = await actions.perform(r, principal, "follow_up.book", data)
    except DomainError as error:
        conversation_id = data["conversation_id"]
        if principal.role not in ("advisor", "moderator") or isinstance(conversation_id, str):
            return await error_page(request, principal, error)
        values = {k: v for k, v in data.items() if v is not None}
        return await _booking_page(request, principal, conversation_id, values, error)
    return RedirectResponse(
        f"/adviseur/vervolgafspraken/{result['follow_up_id']}?gedaan=geboekt", status_code=303
    )


# -- one follow-up for its holders: move or cancel -----------------------------------------------


async def _detail_page(
    request: Request,
    principal: Principal,
    follow_up_id: int,
    values: dict[str, Any] | None = None,
    error: DomainError | None = None,
) -> Response:
    r = resources_of(request)
    event = await load_event(r.db)
    try:
        found = await followups.for_staff(r.db, _staffer(principal), follow_up_id)
    except DomainError as refused:
        return await error_page(request, principal, refused)
    context = {
        **_common(event, request),
        "f": _shown(event, found),
        "values": values
        or {"starts": followups.local_text(event, found["starts_at"]), "minutes": found["minutes"]},
        "back": "/moderator" if principal.role == "moderator" else "/adviseur",
    }
    status = 200
    if error is not None:
        context.update(error_context(error, _labels()))
        status = status_for(error)
    return await render(request, "follow_up_detail.html", principal, context, status)


async def detail_page(request: Request) -> Response:
    principal = await principal_of_request(request)
    if principal.role not in ("advisor", "moderator"):
        return await refuse(request, principal, "/inloggen")
    return await _detail_page(request, principal, request.path_params["follow_up_id"])


async def staff_change(request: Request, principal: Principal) -> Response:
    r = resources_of(request)
    form = await read_form(request)
    follow_up_id = request.path_params["follow_up_id"]
    what = request.path_params["what"]
    values: dict[str, Any] = {}
    if what == "verzetten":
        values = {"starts": _text(form, "starts"), "minutes": form_int(form, "minutes")}
        name, data, done = (
            "follow_up.reschedule",
            {"follow_up_id": follow_up_id, **values},
            "verzet",
        )
    elif what == "annuleren":
        name, data, done = "follow_up.cancel", {"follow_up_id": follow_up_id}, "geannuleerd"
    else:
        return await error_page(request, principal, DomainError("protocol.unknown_action"))
    try:
        if what == "annuleren" and form.get("confirm") != "yes":
            raise DomainError("input.confirm", field="confirm")
        await actions.perform(r, principal, name, data)
    except DomainError as error:
        return await _detail_page(request, principal, follow_up_id, values or None, error)
    return RedirectResponse(
        f"/adviseur/vervolgafspraken/{follow_up_id}?gedaan={done}", status_code=303
    )


# -- the advisor's availability --------------------------------------------------------------------


async def _availability_page(
    request: Request,
    principal: Principal,
    values: dict[str, Any] | None = None,
    error: DomainError | None = None,
) -> Response:
    r = resources_of(request)
    event = await load_event(r.db)
    assert principal.id is not None
    periods = [
        {
            "id": p.id,
            "day": event.local(p.starts_at).date().isoformat(),
            "starts_at": p.starts_at,
            "ends_at": p.ends_at,
        }
        for p in await followups.periods(r.db, principal.id, r.now())
    ]
    tomorrow = followups.default_start(event, r.now())
    context = {
        **_common(event, request),
        "periods": periods,
        "values": values or {"starts": tomorrow, "ends": tomorrow[:-5] + "12:00"},
        "periods_max": followups.AVAILABILITY_MAX,
    }
    status = 200
    if error is not None:
        context.update(error_context(error, _labels()))
        status = status_for(error)
    return await render(request, "availability.html", principal, context, status)


async def availability_page(request: Request) -> Response:
    principal = await principal_of_request(request)
    if principal.role != "advisor":
        return await refuse(request, principal, "/inloggen")
    return await _availability_page(request, principal)


async def availability_add(request: Request, principal: Principal) -> Response:
    r = resources_of(request)
    form = await read_form(request)
    values = {"starts": _text(form, "starts"), "ends": _text(form, "ends")}
    try:
        await actions.perform(r, principal, "availability.add", values)
    except DomainError as error:
        return await _availability_page(request, principal, values, error)
    return RedirectResponse("/adviseur/beschikbaarheid?gedaan=toegevoegd", status_code=303)


async def availability_remove(request: Request, principal: Principal) -> Response:
    r = resources_of(request)
    try:
        await actions.perform(
            r, principal, "availability.remove", {"period_id": request.path_params["period_id"]}
        )
    except DomainError as error:
        return await error_page(request, principal, error)
    return RedirectResponse("/adviseur/beschikbaarheid?gedaan=verwijderd", status_code=303)


# -- the candidate: Mijn afspraken ---------------------------------------------------------------


async def _my_page(
    request: Request,
    principal: Principal,
    asked: dict[int, str] | None = None,
    error: DomainError | None = None,
) -> Response:
    r = resources_of(request)
    event = await load_event(r.db)
    assert principal.id is not None
    now = r.now()
    appointments = []
    for f in await followups.for_candidate(r.db, principal.id):
        item = _shown(event, followups.view(f))
        # What the candidate may see: never the advisor's notes (not in the view at all).
        item["open"] = f.status != "cancelled" and f.ends_at > now
        item["past"] = f.ends_at <= now
        appointments.append(item)
    context = {
        **_common(event, request),
        "appointments": appointments,
        "asked": asked or {},
    }
    status = 200
    if error is not None:
        context.update(error_context(error, _labels()))
        status = status_for(error)
    return await render(request, "my_appointments.html", principal, context, status)


async def my_appointments(request: Request) -> Response:
    principal = await principal_of_request(request)
    if principal.role != "candidate":
        return await refuse(request, principal, candidate_sign_in("/mijn-afspraken"))
    return await _my_page(request, principal)


async def _mine(request: Request, principal: Principal) -> followups.FollowUp | Response:
    if principal.role != "candidate" or principal.id is None:
        return await refuse(request, principal, candidate_sign_in("/mijn-afspraken"))
    try:
        return await followups.of_candidate(
            resources_of(request).db, principal.id, request.path_params["follow_up_id"]
        )
    except DomainError as error:
        return await error_page(request, principal, error)


async def cancel_confirm(request: Request) -> Response:
    principal = await principal_of_request(request)
    found = await _mine(request, principal)
    if isinstance(found, Response):
        return found
    event = await load_event(resources_of(request).db)
    context = {**_common(event, request), "f": _shown(event, followups.view(found))}
    return await render(request, "follow_up_cancel.html", principal, context)


async def cancel_submit(request: Request, principal: Principal) -> Response:
    r = resources_of(request)
    form = await read_form(request)
    follow_up_id = request.path_params["follow_up_id"]
    data = {"follow_up_id": follow_up_id}
    try:
        if form.get("confirm") != "yes":
            # Only after it is known to be theirs: someone else's is unknown, not unconfirmed.
            await followups.of_candidate(r.db, principal.id or 0, follow_up_id)
            raise DomainError("input.confirm", field="confirm")
        await actions.perform(r, principal, "follow_up.cancel_mine", data)
    except DomainError as error:
        if error.code != "input.confirm":
            return await error_page(request, principal, error)
        found = await followups.of_candidate(r.db, principal.id or 0, follow_up_id)
        event = await load_event(r.db)
        context = {
            **_common(event, request),
            "f": _shown(event, followups.view(found)),
            **error_context(error, _labels()),
        }
        return await render(request, "follow_up_cancel.html", principal, context, 400)
    return RedirectResponse("/mijn-afspraken?gedaan=geannuleerd", status_code=303)


async def ask_submit(request: Request, principal: Principal) -> Response:
    r = resources_of(request)
    form = await read_form(request)
    follow_up_id = request.path_params["follow_up_id"]
    message = _text(form, "message") or ""
    try:
        await actions.perform(
            r,
            principal,
            "follow_up.ask_reschedule",
            {"follow_up_id": follow_up_id, "message": message},
        )
    except DomainError as error:
        if error.code == "follow_up.not_found":
            return await error_page(request, principal, error)
        return await _my_page(request, principal, {follow_up_id: message}, error)
    return RedirectResponse("/mijn-afspraken?gedaan=gevraagd", status_code=303)


async def calendar_download(request: Request) -> Response:
    principal = await principal_of_request(request)
    found = await _mine(request, principal)
    if isinstance(found, Response):
        return found
    body = await follow_up_ics(resources_of(request).db, found.id)
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="afspraak-{found.id}.ics"',
            "Cache-Control": "no-store",
        },
    )


routes = [
    Route("/adviseur/vervolgafspraak", booking_form, methods=["GET"]),
    Route("/adviseur/vervolgafspraak", for_staff(booking_submit), methods=["POST"]),
    Route("/adviseur/vervolgafspraken/{follow_up_id:int}", detail_page, methods=["GET"]),
    Route(
        "/adviseur/vervolgafspraken/{follow_up_id:int}/{what:str}",
        for_staff(staff_change),
        methods=["POST"],
    ),
    Route("/adviseur/beschikbaarheid", availability_page, methods=["GET"]),
    Route("/adviseur/beschikbaarheid", for_advisors(availability_add), methods=["POST"]),
    Route(
        "/adviseur/beschikbaarheid/{period_id:int}/verwijderen",
        for_advisors(availability_remove),
        methods=["POST"],
    ),
    Route("/mijn-afspraken", my_appointments, methods=["GET"]),
    Route("/mijn-afspraken/{follow_up_id:int}.ics", calendar_download, methods=["GET"]),
    Route("/mijn-afspraken/{follow_up_id:int}/annuleren", cancel_confirm, methods=["GET"]),
    Route(
        "/mijn-afspraken/{follow_up_id:int}/annuleren",
        for_candidates(cancel_submit),
        methods=["POST"],
    ),
    Route(
        "/mijn-afspraken/{follow_up_id:int}/verzetten", for_candidates(ask_submit), methods=["POST"]
    ),
]
