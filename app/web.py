"""HTTP pages and forms. Every page renders on first paint without scripts; scripts then
keep it live over the WebSocket. Forms are thin adapters over ``actions.perform``.
"""

from __future__ import annotations

import contextlib
import secrets
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from app import actions, booths, candidates, queue, snapshots
from app.accounts import authenticate
from app.advisors import CHOOSABLE, STATUSES
from app.auth import (
    Principal,
    csrf_ok,
    csrf_token,
    principal_of,
    sign_in_candidate,
    sign_in_staff,
    sign_out,
)
from app.errors import DomainError, ValidationError
from app.event import load_event
from app.i18n import LANGUAGES, N_, current_language
from app.i18n import gettext as _
from app.middleware import LANGUAGE_COOKIE
from app.resources import Resources

LANGUAGE_COOKIE_MAX_AGE = 365 * 24 * 60 * 60


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
        }
    )
    return texts


def _resources(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


async def _principal(request: Request) -> Principal:
    return await principal_of(_resources(request).db, request.session)


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
        "server_now": _resources(request).now(),
        "principal": principal,
        "csrf": csrf_token(request.session),
        "client_texts": client_texts(),
        "errors": {},
        "error_summary": [],
    }
    base.update(context)
    if "event" not in base:
        base["event"] = await load_event(_resources(request).db)
    templates = request.app.state.templates
    response: Response = templates.TemplateResponse(request, template, base, status_code)
    response.headers["Cache-Control"] = "no-store"
    return response


def _error_context(error: DomainError, labels: dict[str, str]) -> dict[str, Any]:
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


def _status_for(error: DomainError) -> int:
    if error.code.startswith("auth."):
        return 403
    if error.code.startswith("input.") or isinstance(error, ValidationError):
        return 400
    if error.code.endswith("not_found"):
        return 404
    return 409


async def _form(request: Request) -> FormData | None:
    """The posted form, or None when its CSRF token is missing or wrong."""
    form = await request.form()
    token = form.get("csrf")
    if not csrf_ok(request.session, token if isinstance(token, str) else None):
        return None
    return form


def _form_int(form: FormData, name: str) -> int | str | None:
    value = form.get(name)
    if not isinstance(value, str) or value == "":
        return None
    return int(value) if value.isdigit() and len(value) < 16 else value


async def _csrf_failed(request: Request, principal: Principal) -> Response:
    error = DomainError("auth.csrf")
    return await render(request, "error.html", principal, _error_context(error, {}), 403)


async def _refuse(request: Request, principal: Principal, sign_in_url: str) -> Response:
    """A page for another role: anonymous visitors are sent to sign in, others are told no."""
    if principal.role == "anonymous":
        return RedirectResponse(sign_in_url, status_code=303)
    error = DomainError("auth.forbidden")
    return await render(request, "error.html", principal, _error_context(error, {}), 403)


def _candidate_sign_in(back: str) -> str:
    return f"/aanmelden?{urlencode({'next': back})}"


# -- the hall ---------------------------------------------------------------------------


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
    return not (filters["open"] and not (view["open_now"] or view["present"]))


async def hall_page(request: Request) -> Response:
    r = _resources(request)
    principal = await _principal(request)
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


# -- candidates: sign in, zoom in, my request --------------------------------------------

SIGN_IN_LABELS = {
    "name": N_("Naam"),
    "email": N_("E-mailadres"),
    "phone": N_("Telefoonnummer"),
    "consent": N_("Toestemming"),
}


def _safe_next(value: object) -> str:
    """Only local paths are followed after sign-in."""
    if isinstance(value, str) and value.startswith("/") and not value.startswith("//"):
        return value
    return "/"


async def sign_in_page(request: Request) -> Response:
    principal = await _principal(request)
    next_url = _safe_next(request.query_params.get("next"))
    if principal.role == "candidate":
        # Signing in again would make a new candidate and lose the place in the queue.
        return RedirectResponse(next_url, status_code=303)
    return await render(
        request,
        "sign_in.html",
        principal,
        {"values": {}, "next": next_url},
    )


async def sign_in_submit(request: Request) -> Response:
    r = _resources(request)
    principal = await _principal(request)
    form = await _form(request)
    if form is None:
        return await _csrf_failed(request, principal)
    values = {k: str(form.get(k, "")) for k in ("name", "email", "phone")}
    next_url = _safe_next(form.get("next"))
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
        context = {"values": values, "next": next_url, **_error_context(error, labels)}
        return await render(request, "sign_in.html", principal, context, 400)
    sign_in_candidate(request.session, candidate.id)
    return RedirectResponse(next_url, status_code=303)


async def _booth_context(r: Resources, booth_id: int) -> dict[str, Any] | None:
    event = await load_event(r.db)
    views = await snapshots.booth_views(r.db, event, r.now(), booth_id)
    if not views:
        return None
    return {"booth": views[0], "event": event}


async def zoom_in_page(request: Request) -> Response:
    r = _resources(request)
    principal = await _principal(request)
    booth_id = request.path_params["booth_id"]
    if principal.role != "candidate":
        back = f"/inzoomen/{booth_id}"
        if request.url.query:
            back += "?" + request.url.query
        return await _refuse(request, principal, _candidate_sign_in(back))
    context = await _booth_context(r, booth_id)
    if context is None:
        error = DomainError("booth.not_found")
        return await render(request, "error.html", principal, _error_context(error, {}), 404)
    advisor = request.query_params.get("adviseur", "")
    context.update(
        {
            "values": {"question": "", "advisor_id": advisor if advisor.isdigit() else ""},
            "client_key": secrets.token_urlsafe(16),
        }
    )
    return await render(request, "zoom_in.html", principal, context)


async def zoom_in_submit(request: Request) -> Response:
    r = _resources(request)
    principal = await _principal(request)
    booth_id = request.path_params["booth_id"]
    form = await _form(request)
    if form is None:
        return await _csrf_failed(request, principal)
    data = {
        "booth_id": booth_id,
        "advisor_id": _form_int(form, "advisor_id"),
        # Browsers send line breaks as CRLF; the 500-character limit counts one per break.
        "question": str(form.get("question", "")).replace("\r\n", "\n"),
        "client_key": str(form.get("client_key", "")),
    }
    try:
        await actions.perform(r, principal, "request.create", data)
    except DomainError as error:
        if principal.role == "anonymous":
            return RedirectResponse(_candidate_sign_in(f"/inzoomen/{booth_id}"), status_code=303)
        context = await _booth_context(r, booth_id)
        if context is None:
            return await render(request, "error.html", principal, _error_context(error, {}), 404)
        labels = {"question": _("Je vraag"), "advisor_id": _("Met wie")}
        context.update(
            {
                "values": {"question": data["question"], "advisor_id": data["advisor_id"] or ""},
                "client_key": data["client_key"] or secrets.token_urlsafe(16),
                **_error_context(error, labels),
            }
        )
        return await render(request, "zoom_in.html", principal, context, _status_for(error))
    return RedirectResponse("/mijn-verzoek", status_code=303)


async def my_request_page(request: Request) -> Response:
    r = _resources(request)
    principal = await _principal(request)
    if principal.role != "candidate" or principal.id is None:
        return await _refuse(request, principal, _candidate_sign_in("/mijn-verzoek"))
    event = await load_event(r.db)
    me = await snapshots.candidate_state(r.db, event, principal.id, r.now())
    return await render(request, "my_request.html", principal, {"me": me, "event": event})


async def cancel_submit(request: Request) -> Response:
    r = _resources(request)
    principal = await _principal(request)
    form = await _form(request)
    if form is None:
        return await _csrf_failed(request, principal)
    try:
        await actions.perform(
            r, principal, "request.cancel", {"request_id": _form_int(form, "request_id")}
        )
    except DomainError as error:
        return await render(
            request, "error.html", principal, _error_context(error, {}), _status_for(error)
        )
    return RedirectResponse("/mijn-verzoek", status_code=303)


# -- staff: log in, the advisor console, the moderator overview --------------------------


async def login_page(request: Request) -> Response:
    principal = await _principal(request)
    return await render(request, "login.html", principal, {"values": {}})


async def login_submit(request: Request) -> Response:
    r = _resources(request)
    principal = await _principal(request)
    form = await _form(request)
    if form is None:
        return await _csrf_failed(request, principal)
    email = str(form.get("email", ""))
    try:
        staff = await authenticate(r.db, email, str(form.get("password", "")))
    except DomainError as error:
        context = {"values": {"email": email}, **_error_context(error, {})}
        return await render(request, "login.html", principal, context, 400)
    sign_in_staff(request.session, staff.id)
    if staff.role == "advisor":
        if staff.status == "offline":
            await actions.perform(
                r,
                Principal("advisor", staff.id, staff.name, staff.booth_id),
                "advisor.status",
                {"status": "available"},
            )
        return RedirectResponse("/adviseur", status_code=303)
    return RedirectResponse("/moderator", status_code=303)


async def logout_submit(request: Request) -> Response:
    r = _resources(request)
    principal = await _principal(request)
    form = await _form(request)
    if form is None:
        return await _csrf_failed(request, principal)
    if principal.role == "advisor":
        # In a conversation the status follows the conversation; signing out does not end it.
        with contextlib.suppress(DomainError):
            await actions.perform(r, principal, "advisor.status", {"status": "offline"})
    elif principal.role == "candidate" and principal.id is not None:
        # A candidate who leaves cannot come back to this request: free the place in line.
        waiting = await queue.open_request_of(r.db, principal.id)
        if waiting is not None:
            with contextlib.suppress(DomainError):
                await actions.perform(r, principal, "request.cancel", {"request_id": waiting.id})
    sign_out(request.session)
    return RedirectResponse("/", status_code=303)


async def console_page(request: Request) -> Response:
    r = _resources(request)
    principal = await _principal(request)
    if principal.role != "advisor" or principal.id is None:
        return await _refuse(request, principal, "/inloggen")
    event = await load_event(r.db)
    console = await snapshots.console_state(r.db, event, principal.id, r.now())
    return await render(
        request,
        "console.html",
        principal,
        {"console": console, "event": event, "choosable": CHOOSABLE},
    )


CONSOLE_FORMS = {
    "status": ("advisor.status", ("status",)),
    "accepteren": ("request.accept", ("request_id",)),
    "afwijzen": ("request.decline", ("request_id", "message")),
    "beeindigen": ("conversation.end", ("conversation_id",)),
}


async def console_submit(request: Request) -> Response:
    r = _resources(request)
    principal = await _principal(request)
    form = await _form(request)
    if form is None:
        return await _csrf_failed(request, principal)
    if request.path_params["form"] not in CONSOLE_FORMS:
        error = DomainError("protocol.unknown_action")
        return await render(request, "error.html", principal, _error_context(error, {}), 404)
    name, fields = CONSOLE_FORMS[request.path_params["form"]]
    data: dict[str, Any] = {}
    for field in fields:
        if field.endswith("_id"):
            data[field] = _form_int(form, field)
        elif form.get(field) is not None:
            data[field] = str(form.get(field))
    try:
        await actions.perform(r, principal, name, data)
    except DomainError as error:
        return await render(
            request, "error.html", principal, _error_context(error, {}), _status_for(error)
        )
    return RedirectResponse("/adviseur", status_code=303)


async def overview_page(request: Request) -> Response:
    r = _resources(request)
    principal = await _principal(request)
    if principal.role != "moderator":
        return await _refuse(request, principal, "/inloggen")
    event = await load_event(r.db)
    overview = await snapshots.overview(r.db, event, r.now())
    return await render(request, "overview.html", principal, {"overview": overview, "event": event})


async def choose_language(request: Request) -> Response:
    """Switch the language and remember it; then back to the page the visitor was on."""
    language = request.path_params["language"]
    if language not in LANGUAGES:
        principal = await _principal(request)
        error = DomainError("input.bad_choice")
        return await render(request, "error.html", principal, _error_context(error, {}), 404)
    response = RedirectResponse(_safe_next(request.query_params.get("next")), status_code=303)
    response.set_cookie(
        LANGUAGE_COOKIE,
        language,
        max_age=LANGUAGE_COOKIE_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=_resources(request).settings.https_only_cookies,
    )
    return response


async def accessibility_page(request: Request) -> Response:
    return await render(request, "accessibility.html", await _principal(request), {})


async def privacy_page(request: Request) -> Response:
    return await render(request, "privacy.html", await _principal(request), {})


async def healthz(request: Request) -> Response:
    r = _resources(request)
    try:
        await r.db.fetchvalue("SELECT 1")
    except Exception:
        return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})


routes = [
    Route("/", hall_page),
    Route("/aanmelden", sign_in_page, methods=["GET"]),
    Route("/aanmelden", sign_in_submit, methods=["POST"]),
    Route("/inzoomen/{booth_id:int}", zoom_in_page, methods=["GET"]),
    Route("/inzoomen/{booth_id:int}", zoom_in_submit, methods=["POST"]),
    Route("/mijn-verzoek", my_request_page, methods=["GET"]),
    Route("/mijn-verzoek/annuleren", cancel_submit, methods=["POST"]),
    Route("/inloggen", login_page, methods=["GET"]),
    Route("/inloggen", login_submit, methods=["POST"]),
    Route("/uitloggen", logout_submit, methods=["POST"]),
    Route("/adviseur", console_page, methods=["GET"]),
    Route(
        "/adviseur/{form:str}",
        console_submit,
        methods=["POST"],
    ),
    Route("/moderator", overview_page, methods=["GET"]),
    Route("/taal/{language:str}", choose_language, methods=["GET"]),
    Route("/toegankelijkheid", accessibility_page, methods=["GET"]),
    Route("/privacy", privacy_page, methods=["GET"]),
    Route("/healthz", healthz, methods=["GET"]),
]
