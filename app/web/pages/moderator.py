"""The moderator steps in: open and close, move, end, block; the audit log.

The step-in page lists the event switch and every booth with its waiting requests and
running conversations; each button is a small form, a thin adapter over ``actions.perform``.
Steps that cannot be undone (closing the event or a booth, ending a conversation, blocking
a candidate) ask for a ticked confirmation first, checked on the server.

Closing a booth ends every request waiting there, and opening it again does not bring them
back, so its confirmation names how many candidates it affects. The form sends that number
with it; if more candidates wait by the time it arrives, nothing changes and the page asks
again with the new number (``moderation.MoreWaiting``): the moderator never ends more
requests than they agreed to, and is not told afterwards that it happened.

The audit log page puts every entry into the reader's language (``app.domain.audit_text``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app.commands import actions
from app.core.errors import DomainError
from app.core.i18n import N_, ngettext
from app.core.i18n import gettext as _
from app.domain import audit, audit_text, moderation
from app.domain.event import Event, load_event
from app.domain.principals import Principal
from app.web.pages.common import (
    error_context,
    form_int,
    principal_of_request,
    read_form,
    refuse,
    render,
    resources_of,
    status_for,
)
from app.web.pages.guards import for_moderators

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
    "stand-sluiten": StepForm("booth.close", ("booth_id",), True, N_("De stand is gesloten.")),
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


# After closing a booth, the page says how many candidates were told (``?beeindigd=N``).
ENDED_PARAM = "beeindigd"


def _ended_text(text: str | None) -> str:
    if text is None or not (text.isascii() and text.isdigit() and len(text) < 7):
        return ""
    n = int(text)
    if n == 0:
        return _("Er wachtte niemand.")
    return ngettext(
        "%(num)s wachtende kandidaat heeft bericht gekregen.",
        "%(num)s wachtende kandidaten hebben bericht gekregen.",
        n,
    )


async def _step_in_context(
    request: Request, event: Event | None = None, open_booth: int | None = None
) -> dict[str, Any]:
    """The page's data; ``open_booth`` is a booth whose closing form is shown open (it was
    just refused, and asks again)."""
    r = resources_of(request)
    event = event or await load_event(r.db)
    # Read before the view: the page holds at least every change up to it.
    rev = await r.db.revision()
    view = await moderation.step_in_view(r.db, event, r.now())
    form = request.query_params.get("gedaan", "")
    done = STEP_FORMS.get(form)
    text = _(done.done) if done else ""
    if form == "stand-sluiten" and (ended := _ended_text(request.query_params.get(ENDED_PARAM))):
        text = f"{text} {ended}"
    return {"event": event, "step": view, "done": text, "rev": rev, "open_booth": open_booth}


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


def _summary(*messages: str, field: str | None = None) -> list[dict[str, Any]]:
    # The page holds many forms with the same fields: the summary says what went wrong,
    # linking only to a field it can name (the tick of the booth being closed).
    return [{"field": field, "label": "", "message": m} for m in messages]


def _more_waiting_text(more: moderation.MoreWaiting, booth_name: str) -> str:
    return ngettext(
        "Er is niets veranderd: bij %(booth)s wacht nu %(num)s kandidaat, meer dan je hebt "
        "bevestigd. Kijk opnieuw en bevestig nog eens als je de stand wilt sluiten.",
        "Er is niets veranderd: bij %(booth)s wachten nu %(num)s kandidaten, meer dan je "
        "hebt bevestigd. Kijk opnieuw en bevestig nog eens als je de stand wilt sluiten.",
        more.waiting,
        booth=booth_name,
    )


async def step_in_submit(request: Request, principal: Principal) -> Response:
    r = resources_of(request)
    form = await read_form(request)
    # One route per step-in form (below): any other name is the router's 404.
    form_name = request.url.path.rsplit("/", 1)[-1]
    step = STEP_FORMS[form_name]
    data: dict[str, Any] = {field: form_int(form, field) for field in step.fields}
    target = form.get("target")
    if step.action == "request.move" and isinstance(target, str):
        # One choice names the booth, and maybe one of its advisors: "<booth>" or
        # "<booth>:<advisor>" (anything else reaches the action as it is and is refused).
        booth, _sep, advisor = target.partition(":")
        data["booth_id"] = _as_id(booth)
        data["advisor_id"] = _as_id(advisor)
    closing = step.action == "booth.close"
    booth_id = data.get("booth_id") if isinstance(data.get("booth_id"), int) else None
    ended = 0
    try:
        if step.confirm and form.get("confirm") != "yes":
            raise DomainError("input.confirm")
        if closing:
            # The page always says how many wait; without that number nothing was confirmed.
            data["waiting"] = form_int(form, "waiting")
            if not isinstance(data["waiting"], int):
                raise DomainError("input.confirm")
        result = await actions.perform(r, principal, step.action, data)
        ended = result["requests_ended"] if closing else 0
    except moderation.MoreWaiting as more:
        context = await _step_in_context(request, open_booth=more.booth_id)
        name = next(b["name"] for b in context["step"]["booths"] if b["id"] == more.booth_id)
        context["error_summary"] = _summary(
            _more_waiting_text(more, name), field=f"booth-close-{more.booth_id}"
        )
        return await render(request, "step_in.html", principal, context, 409)
    except DomainError as error:
        context = await _step_in_context(request, open_booth=booth_id if closing else None)
        shown = closing and any(
            b["id"] == booth_id and not b["closed"] for b in context["step"]["booths"]
        )
        context["error_summary"] = _summary(
            *(item["message"] for item in error_context(error, {})["error_summary"]),
            field=f"booth-close-{booth_id}" if shown and error.code == "input.confirm" else None,
        )
        return await render(request, "step_in.html", principal, context, status_for(error))
    query = f"gedaan={form_name}"
    if closing:
        query += f"&{ENDED_PARAM}={ended}"
    anchor = f"#stand-{booth_id}" if booth_id is not None else ""
    return RedirectResponse(f"{STEP_IN}?{query}{anchor}", status_code=303)


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
    names = await audit_text.names_for(r.db, found)
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
                "action": audit_text.action_text(entry.action),
                "code": entry.action,
                "subject": audit_text.subject_text(entry.subject, names),
                "detail": audit_text.detail_text(entry.parsed_detail, names),
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
    *(
        Route(f"{STEP_IN}/{form}", for_moderators(step_in_submit), methods=["POST"])
        for form in STEP_FORMS
    ),
    Route(AUDIT, audit_page, methods=["GET"]),
]
