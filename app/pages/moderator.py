"""The moderator steps in: open and close, move, end, block; the audit log.

The step-in page lists the event switch and every booth with its waiting requests and
running conversations; each button is a small form, a thin adapter over ``actions.perform``.
Steps that cannot be undone (closing the event, ending a conversation, blocking a
candidate) ask for a ticked confirmation first, checked on the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app import actions, audit, moderation
from app.auth import Principal
from app.errors import DomainError
from app.event import Event, load_event
from app.i18n import N_
from app.i18n import gettext as _
from app.pages.common import (
    csrf_failed,
    error_context,
    form_int,
    principal_of_request,
    read_form,
    refuse,
    render,
    resources_of,
    status_for,
)

STEP_IN = "/moderator/ingrijpen"
AUDIT = "/moderator/logboek"
AUDIT_PAGE_SIZE = 50


@dataclass(frozen=True)
class StepForm:
    action: str
    fields: tuple[str, ...]
    confirm: bool  # cannot be undone: a ticked "yes, I am sure" is required
    done: str  # what the page says afterwards


STEP_FORMS: dict[str, StepForm] = {
    "evenement-openen": StepForm("event.open", (), False, N_("Het evenement is open.")),
    "evenement-sluiten": StepForm(
        "event.close",
        (),
        True,
        N_("Het evenement is gesloten. Wachtende kandidaten zijn ingelicht."),
    ),
    "stand-openen": StepForm("booth.open", ("booth_id",), False, N_("De stand is weer open.")),
    "stand-sluiten": StepForm(
        "booth.close",
        ("booth_id",),
        False,
        N_("De stand is gesloten. Wachtende kandidaten zijn ingelicht."),
    ),
    "verplaatsen": StepForm(
        "request.move",
        ("request_id", "booth_id", "advisor_id"),
        False,
        N_("Het verzoek is verplaatst. De kandidaat houdt zijn plek in de rij."),
    ),
    "gesprek-beeindigen": StepForm(
        "conversation.stop", ("conversation_id",), True, N_("Het gesprek is beëindigd.")
    ),
    "blokkeren": StepForm(
        "candidate.block", ("candidate_id",), True, N_("De kandidaat is geblokkeerd.")
    ),
    "deblokkeren": StepForm(
        "candidate.unblock", ("candidate_id",), False, N_("De blokkade is opgeheven.")
    ),
    "verlengen-toestaan": StepForm(
        "conversation.allow_extension",
        ("conversation_id",),
        False,
        N_("De adviseur mag dit gesprek verlengen, ook als er mensen wachten."),
    ),
}

# What the audit log calls each step; an action without a label here is shown by its code.
ACTION_LABELS: dict[str, str] = {
    "event.open": N_("Evenement geopend"),
    "event.close": N_("Evenement gesloten"),
    "booth.open": N_("Stand geopend"),
    "booth.close": N_("Stand gesloten"),
    "request.move": N_("Verzoek verplaatst"),
    "conversation.stop": N_("Gesprek beëindigd"),
    "candidate.block": N_("Kandidaat geblokkeerd"),
    "candidate.unblock": N_("Kandidaat gedeblokkeerd"),
    "announcement.create": N_("Mededeling geplaatst"),
    "announcement.end": N_("Mededeling beëindigd"),
    "event.settings": N_("Instellingen van het evenement gewijzigd"),
    "event.day_added": N_("Dag toegevoegd"),
    "event.day_changed": N_("Openingstijden van een dag gewijzigd"),
    "event.day_removed": N_("Dag verwijderd"),
    "booth.create": N_("Stand toegevoegd"),
    "booth.update": N_("Stand gewijzigd"),
    "booth.remove": N_("Stand verwijderd"),
    "booth.move": N_("Volgorde van de stands gewijzigd"),
    "booth.import": N_("Stands geïmporteerd"),
    "schedule.add": N_("Roosterblok toegevoegd"),
    "schedule.remove": N_("Roosterblok verwijderd"),
    "staff.invite": N_("Medewerker uitgenodigd"),
    "staff.new_link": N_("Nieuwe uitnodigingslink gemaakt"),
    "staff.invitation_used": N_("Uitnodiging gebruikt"),
    "staff.assign": N_("Adviseur aan een stand gekoppeld"),
    "staff.deactivate": N_("Medewerker uitgezet"),
    "staff.reactivate": N_("Medewerker weer aangezet"),
    "conversation.allow_extension": N_("Verlengen van een gesprek toegestaan"),
    "event.extension": N_("Instellingen voor verlengen gewijzigd"),
}


async def _step_in_context(request: Request, event: Event | None = None) -> dict[str, Any]:
    r = resources_of(request)
    event = event or await load_event(r.db)
    # Read before the view: the page holds at least every change up to it.
    rev = await r.db.revision()
    view = await moderation.step_in_view(r.db, event, r.now())
    done = STEP_FORMS.get(request.query_params.get("gedaan", ""))
    return {"event": event, "step": view, "done": _(done.done) if done else "", "rev": rev}


async def step_in_page(request: Request) -> Response:
    principal = await principal_of_request(request)
    if principal.role != "moderator":
        return await refuse(request, principal, "/inloggen")
    return await render(request, "step_in.html", principal, await _step_in_context(request))


def _as_id(text: str) -> int | str | None:
    """An id typed in a form: digits become a number, nothing is None, anything else stays
    text for the action's own check to refuse."""
    if text == "":
        return None
    return int(text) if text.isascii() and text.isdigit() and len(text) < 16 else text


def _refused_role(principal: Principal) -> DomainError:
    return DomainError(
        "auth.sign_in_required" if principal.role == "anonymous" else "auth.forbidden"
    )


async def step_in_submit(request: Request) -> Response:
    r = resources_of(request)
    principal = await principal_of_request(request)
    form = await read_form(request)
    if form is None:
        return await csrf_failed(request, principal)
    step = STEP_FORMS.get(request.path_params["form"])
    if step is None:
        error = DomainError("protocol.unknown_action")
        return await render(request, "error.html", principal, error_context(error, {}), 404)
    if principal.role != "moderator":
        error = _refused_role(principal)
        return await render(request, "error.html", principal, error_context(error, {}), 403)
    data: dict[str, Any] = {field: form_int(form, field) for field in step.fields}
    target = form.get("target")
    if step.action == "request.move" and isinstance(target, str):
        # One choice names the booth, and maybe one of its advisors: "<booth>" or
        # "<booth>:<advisor>" (anything else reaches the action as it is and is refused).
        booth, _sep, advisor = target.partition(":")
        data["booth_id"] = _as_id(booth)
        data["advisor_id"] = _as_id(advisor)
    try:
        if step.confirm and form.get("confirm") != "yes":
            raise DomainError("input.confirm")
        await actions.perform(r, principal, step.action, data)
    except DomainError as error:
        context = await _step_in_context(request)
        # The page holds many forms with the same fields: the summary says what went wrong,
        # without links to one field.
        summary = [
            {"field": None, "label": "", "message": item["message"]}
            for item in error_context(error, {})["error_summary"]
        ]
        context["error_summary"] = summary
        return await render(request, "step_in.html", principal, context, status_for(error))
    anchor = f"#stand-{data['booth_id']}" if isinstance(data.get("booth_id"), int) else ""
    return RedirectResponse(
        f"{STEP_IN}?gedaan={request.path_params['form']}{anchor}", status_code=303
    )


def _subject_text(subject: str, booth_names: dict[int, str], staff_names: dict[int, str]) -> str:
    kind, _sep, ident = subject.partition(":")
    labels = {
        "event": _("Evenement"),
        "booth": _("Stand"),
        "booths": _("Stands"),
        "request": _("Verzoek"),
        "conversation": _("Gesprek"),
        "candidate": _("Kandidaat"),
        "announcement": _("Mededeling"),
        "day": _("Dag"),
        "staff": _("Medewerker"),
    }
    label = labels.get(kind, kind)
    names = {"booth": booth_names, "staff": staff_names}.get(kind, {})
    if ident.isdigit() and int(ident) in names:
        return f"{label} {names[int(ident)]}"
    return f"{label} {ident}".strip()


async def audit_page(request: Request) -> Response:
    r = resources_of(request)
    principal = await principal_of_request(request)
    if principal.role != "moderator":
        return await refuse(request, principal, "/inloggen")
    before = request.query_params.get("voor")
    before_id: int | None = None
    if before is not None:
        if not (before.isascii() and before.isdigit() and len(before) < 16):
            error = DomainError("input.wrong_type")
            return await render(request, "error.html", principal, error_context(error, {}), 400)
        before_id = int(before)
    event = await load_event(r.db)
    found = await audit.entries(r.db, limit=AUDIT_PAGE_SIZE + 1, before_id=before_id)
    more = len(found) > AUDIT_PAGE_SIZE
    found = found[:AUDIT_PAGE_SIZE]
    booth_names = {
        row["id"]: row["name"] for row in await r.db.fetchall("SELECT id, name FROM booths")
    }
    staff_names = {
        row["id"]: row["name"] for row in await r.db.fetchall("SELECT id, name FROM staff")
    }
    rows = []
    for entry in found:
        local = event.local(entry.at)
        rows.append(
            {
                "id": entry.id,
                "day": local.date().isoformat(),
                "time": local.strftime("%H:%M:%S"),
                "iso": local.isoformat(timespec="seconds"),
                "who": entry.staff_name or _("Systeem"),
                "action": _(ACTION_LABELS[entry.action])
                if entry.action in ACTION_LABELS
                else entry.action,
                "code": entry.action,
                "subject": _subject_text(entry.subject, booth_names, staff_names),
                "detail": entry.detail,
            }
        )
    context = {
        "event": event,
        "entries": rows,
        "older": found[-1].id if more and found else None,
        "paged": before_id is not None,
    }
    return await render(request, "audit.html", principal, context)


routes = [
    Route(STEP_IN, step_in_page, methods=["GET"]),
    Route(STEP_IN + "/{form:str}", step_in_submit, methods=["POST"]),
    Route(AUDIT, audit_page, methods=["GET"]),
]
