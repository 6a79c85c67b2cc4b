"""What every page shares: rendering with the common context, form reading, error pages,
and the redirect for visitors who must sign in first."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.convertors import IntegerConvertor, register_url_convertor
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from app.core.errors import DomainError, ValidationError
from app.core.i18n import current_language
from app.core.i18n import gettext as _
from app.domain.advisors import STATUSES
from app.domain.event import load_event
from app.domain.principals import Principal, principal_of
from app.live.resources import Resources
from app.web.auth import csrf_token


class _IdConvertor(IntegerConvertor):
    """Ids in page paths: digits that fit a database integer. Longer ones match no page."""

    regex = "[0-9]{1,15}"


# Registered before any page module builds its routes (they all import this module first).
register_url_convertor("int", _IdConvertor())


def client_texts() -> dict[str, str]:
    """Every text the scripts show, translated on the server."""
    texts = {f"status.{code}": _(label) for code, label in STATUSES.items()}
    texts.update(
        {
            "open_now": _("Nu open"),
            "closed": _("Gesloten"),
            "opens_at": _("Opent %(day)s om %(time)s"),
            "opens_today_at": _("Opent vandaag om %(time)s"),
            "queue_empty": _("Niemand in de wachtrij"),
            "queue_one": _("1 persoon wacht"),
            "queue_many": _("%(n)s mensen wachten"),
            "wait_none": _("Geen adviseur aanwezig"),
            "wait_now": _("Je bent direct aan de beurt"),
            "wait_minutes": _("Wachttijd ongeveer %(n)s minuten"),
            "position": _("Je bent nummer %(n)s in de wachtrij."),
            "position_first": _("Je bent de volgende!"),
            "ready_title": _("Ben je er klaar voor?"),
            "ready_prompt": _("Ben je er klaar voor? Er is bijna een adviseur vrij voor je."),
            "ready_limit": _(
                "Je hebt %(seconds)s seconden, tot %(time)s. Reageer je niet, dan schuif je "
                "een paar plaatsen op in de wachtrij."
            ),
            "ready_done": _("Top, je bent er klaar voor. De adviseur neemt je zo aan."),
            "join_limit": _(
                "Open het gesprek binnen %(seconds)s seconden, anders gaat de adviseur verder "
                "met de volgende."
            ),
            "ready_more_time": _("Je hebt meer tijd gekregen, tot %(time)s."),
            "ready_console": _("klaar"),
            "ready_asked_console": _("gevraagd of ze klaar zijn"),
            "joined_console": _("De kandidaat is in het gesprek."),
            "not_joined_console": _("De kandidaat heeft het gesprek nog niet geopend."),
            "connected": _("Live verbonden"),
            "reconnecting": _("Verbinding verbroken. We proberen opnieuw te verbinden…"),
            "accepted": _("Je gesprek begint nu. Open de videolink."),
            "warning": _("Nog %(n)s min. Begin met afronden."),
            "time_up": _("De tijd is om. Rond het gesprek rustig af."),
            "overtime": _("Uitloop"),
            "remaining": _("Resterende tijd"),
            "conversation_ended": _("Het gesprek is afgelopen. Bedankt!"),
            "declined": _("Je verzoek is niet aangenomen."),
            "expired": _("Je verzoek is verlopen. Je kunt opnieuw inzoomen."),
            "cancelled": _("Je verzoek is geannuleerd."),
            "no_requests": _("Er wacht nu niemand."),
            "waiting_since": _("wacht sinds %(time)s"),
            "for_you": _("Voor jou"),
            "accept": _("Accepteren"),
            "decline": _("Afwijzen"),
            "decline_message": _("Bericht aan de kandidaat (niet verplicht)"),
            "new_request": _("Nieuw verzoek van %(name)s"),
            "error": _("Dat lukte niet."),
            "notes_saved": _("Notities opgeslagen."),
            "extend": _("Verlengen met %(n)s minuten"),
            "extended": _("Het gesprek is verlengd tot %(time)s."),
        }
    )
    return texts


def resources_of(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


async def principal_of_request(request: Request) -> Principal:
    r = resources_of(request)
    return await principal_of(r.db, request.session, r.now())


async def render(
    request: Request,
    template: str,
    principal: Principal,
    context: dict[str, Any],
    status_code: int = 200,
) -> Response:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    base = {
        "language": current_language(),
        "here": here,
        "server_now": resources_of(request).now(),
        "principal": principal,
        "csrf": csrf_token(request.session),
        "client_texts": client_texts(),
        "errors": {},
        "error_summary": [],
    }
    # The moderator's live announcements, at the top of every page from the first paint.
    live = await resources_of(request).live.announcements_for(principal.role)
    base["live_announcements"] = live["announcements"]
    base.update(context)
    if "event" not in base:
        base["event"] = await load_event(resources_of(request).db)
    templates = request.app.state.templates
    response: Response = templates.TemplateResponse(request, template, base, status_code)
    response.headers["Cache-Control"] = "no-store"
    return response


def error_context(error: DomainError, labels: dict[str, str]) -> dict[str, Any]:
    summary: list[dict[str, str | None]]
    """Field errors and an error summary that links to each field."""
    if isinstance(error, ValidationError):
        fields = error.field_messages()
    elif error.field:
        fields = {error.field: error.message()}
    else:
        fields = {}
    summary = [
        {"field": name, "label": labels.get(name, name), "message": message}
        for name, message in fields.items()
    ]
    if not summary:
        summary = [{"field": None, "label": "", "message": error.message()}]
    return {"errors": fields, "error_summary": summary}


async def error_page(request: Request, principal: Principal, error: DomainError) -> Response:
    """The hall's error page for a refused step: the message, with the status it calls for."""
    return await render(
        request, "error.html", principal, error_context(error, {}), status_for(error)
    )


def status_for(error: DomainError) -> int:
    if error.code == "rate.limited":
        return 429
    if error.code == "server.unavailable":
        return 503
    if error.code.startswith("auth."):
        return 403
    if error.code.startswith("input.") or isinstance(error, ValidationError):
        return 400
    if error.code.endswith("not_found"):
        return 404
    return 409


async def read_form(request: Request) -> FormData:
    """The posted form. Its CSRF token was checked before any page saw it
    (``app.web.middleware.CsrfGuard``)."""
    return await request.form()


def form_int(form: FormData, name: str) -> int | str | None:
    value = form.get(name)
    if not isinstance(value, str) or value == "":
        return None
    return int(value) if value.isascii() and value.isdigit() and len(value) < 16 else value


async def refuse(request: Request, principal: Principal, sign_in_url: str) -> Response:
    """A page for another role: anonymous visitors are sent to sign in, others are told no."""
    if principal.role == "anonymous":
        return RedirectResponse(sign_in_url, status_code=303)
    error = DomainError("auth.forbidden")
    return await render(request, "error.html", principal, error_context(error, {}), 403)


def candidate_sign_in(back: str) -> str:
    return f"/aanmelden?{urlencode({'next': back})}"


def safe_next(value: object) -> str:
    """Only local paths are followed after sign-in: no other host, however written (``//``,
    a backslash some browsers read as a slash, or control characters they drop)."""
    if (
        isinstance(value, str)
        and value.startswith("/")
        and not value.startswith("//")
        and "\\" not in value
        and value.isprintable()
        and " " not in value
    ):
        return value
    return "/"
