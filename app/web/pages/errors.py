"""The hall's answer when there is no page to give: an address that does not exist (404), a
method a page does not take (405), a change without the session's form token (403, from
``app.web.middleware.CsrfGuard``), a request body over the limit (413, from
``app.web.middleware.BodyLimit``), an unexpected failure (500).

Visitors get a page of the hall in their own language, with the hall's header and a way
back to the hall; the operational endpoints (``/metrics``, ``/healthz``, ``/readyz``, the
WebSocket) keep their short plain answers, for the programs that read them.

A 500 page never shows what went wrong: the exception is logged by the server (Starlette
raises it on once this page is sent). The page is built in three steps, each used only when
the one before it fails, because the failure may be in the very parts a page needs: the
full page (the visitor's header, the event's name: both read from the database); the page
of the template without anything from the database; a small page written here, with no
template at all.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.types import ExceptionHandler

from app.core.errors import MESSAGES, DomainError
from app.core.i18n import N_, current_language, format_number, gettext, set_language
from app.domain.principals import ANONYMOUS
from app.storage.db import Unavailable
from app.web.middleware import language_of
from app.web.pages.common import (
    client_texts,
    error_context,
    principal_of_request,
    render,
    resources_of,
)

log = logging.getLogger("inzoomen.errors")

TEMPLATE = "error.html"
NO_STORE = {"Cache-Control": "no-store"}
# Read by programs, not people: they keep Starlette's plain answers.
API_PATHS = ("/metrics", "/healthz", "/readyz", "/ws")

NOT_FOUND = (
    N_("Deze pagina bestaat niet"),
    N_(
        "We kunnen de pagina die je zoekt niet vinden. Misschien is de link verouderd, of "
        "staat er een tikfout in het adres."
    ),
)
METHOD_NOT_ALLOWED = (
    N_("Dat kan hier niet"),
    N_(
        "Deze pagina kan niet doen wat je browser vroeg. Ga terug naar de hal en probeer het "
        "daar opnieuw."
    ),
)
SERVER_ERROR = (N_("Er ging iets mis"), MESSAGES["server.error"])
TOO_LARGE = (
    N_("Te groot om te versturen"),
    N_(
        "De hal neemt hoogstens %(size)s MB per keer aan. Ga terug en probeer het met minder "
        "tekst of een kleiner bestand."
    ),
)


UNAVAILABLE = (
    N_("Even geduld"),
    N_(
        "De hal is even niet bereikbaar. Er is niets veranderd; probeer het over een paar "
        "seconden opnieuw."
    ),
)
# Seconds a browser or program is asked to wait before it tries again.
RETRY_AFTER_SECONDS = 5


def _is_api(request: Request) -> bool:
    path = request.url.path
    return any(path == api or path.startswith(api + "/") for api in API_PATHS)


def _texts(texts: tuple[str, str]) -> dict[str, str]:
    heading, text = texts
    return {"error_heading": gettext(heading), "error_text": gettext(text)}


async def _http_error(request: Request, exc: Exception, texts: tuple[str, str]) -> Response:
    assert isinstance(exc, HTTPException)
    if request.scope["type"] != "http" or _is_api(request):
        return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)
    try:
        principal = await principal_of_request(request)
        response = await render(request, TEMPLATE, principal, _texts(texts), exc.status_code)
    except Exception:
        # The page itself failed (the database, a template): a plain page of the same kind
        # is still the right answer to the visitor, and what failed is logged.
        log.exception("the %s page could not be rendered", exc.status_code)
        response = _minimal_page(exc.status_code, texts)
    # The Allow header of a 405, for instance.
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


async def not_found(request: Request, exc: Exception) -> Response:
    return await _http_error(request, exc, NOT_FOUND)


async def method_not_allowed(request: Request, exc: Exception) -> Response:
    return await _http_error(request, exc, METHOD_NOT_ALLOWED)


async def server_error(request: Request, exc: Exception) -> Response:
    """The 500 page. Runs outside the other middleware, so it finds the language again."""
    set_language(language_of(Headers(scope=request.scope)))
    if _is_api(request):
        return PlainTextResponse("Internal Server Error", status_code=500, headers=NO_STORE)
    try:
        principal = await principal_of_request(request)
        return await render(request, TEMPLATE, principal, _texts(SERVER_ERROR), 500)
    except Exception:
        log.warning("the full error page could not be rendered; trying without the database")
    try:
        return _page_without_database(request, SERVER_ERROR, 500)
    except Exception:
        log.exception("the error page template could not be rendered")
    return _minimal_page(500, SERVER_ERROR)


async def database_unavailable(request: Request, exc: Exception) -> Response:
    """The 503 page while the database does not answer (``Unavailable``): nothing was changed,
    and the visitor is told to try again, not that something broke. It needs nothing from the
    database."""
    log.warning("%s %s: the database does not answer (%s)", request.method, request.url.path, exc)
    headers = {**NO_STORE, "Retry-After": str(RETRY_AFTER_SECONDS)}
    if _is_api(request):
        return PlainTextResponse("Service Unavailable", status_code=503, headers=headers)
    try:
        response = _page_without_database(request, UNAVAILABLE, 503)
    except Exception:
        log.exception("the 503 page template could not be rendered")
        response = _minimal_page(503, UNAVAILABLE)
    response.headers.update(headers)
    return response


async def too_large(request: Request) -> Response:
    """The 413 page: the body was not read (``app.web.middleware.BodyLimit``), so nothing of it
    is shown or kept."""
    if _is_api(request):
        return PlainTextResponse("Request body too large", status_code=413, headers=NO_STORE)
    limit = resources_of(request).settings.max_body_bytes
    size = format_number(round(limit / (1024 * 1024), 1))
    heading, text = gettext(TOO_LARGE[0]), gettext(TOO_LARGE[1], size=size)
    try:
        principal = await principal_of_request(request)
        context = {
            "error_heading": heading,
            "error_text": text,
            **error_context(DomainError("protocol.too_large"), {}),
        }
        return await render(request, TEMPLATE, principal, context, 413)
    except Exception:
        log.exception("the 413 page could not be rendered")
        return _minimal_page(413, (heading, text))


async def form_token_refused(request: Request) -> Response:
    """The 403 page for a change without this session's form token
    (``app.web.middleware.CsrfGuard``): an old tab, or a form sent from another site."""
    principal = await principal_of_request(request)
    error = DomainError("auth.csrf")
    return await render(request, TEMPLATE, principal, error_context(error, {}), 403)


def _page_without_database(request: Request, texts: tuple[str, str], status: int) -> Response:
    """The error page from its template, as an anonymous visitor sees it, without the
    event's name or announcements (they live in the database)."""
    context: dict[str, Any] = {
        "language": current_language(),
        "here": "/",
        "server_now": time.time(),
        "principal": ANONYMOUS,
        "csrf": "",
        "client_texts": client_texts(),
        "errors": {},
        "error_summary": [],
        "live_announcements": [],
        **_texts(texts),
    }
    templates = request.app.state.templates
    response: Response = templates.TemplateResponse(request, TEMPLATE, context, status)
    response.headers.update(NO_STORE)
    return response


def _minimal_page(status: int, texts: tuple[str, str]) -> Response:
    """A page that needs nothing but this module: no template, no database, and nothing
    inline that the content security policy would block."""
    try:
        language = current_language()
        heading, text = gettext(texts[0]), gettext(texts[1])
        back = gettext("Terug naar de hal")
    except Exception:
        language, (heading, text), back = "nl", texts, "Terug naar de hal"
    page = (
        "<!doctype html>\n"
        f'<html lang="{html.escape(language)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(heading)}</title>\n"
        '<link rel="stylesheet" href="/static/css/base.css">\n</head>\n<body>\n'
        '<main id="main" class="wrap">\n<div class="narrow">\n'
        f"<h1>{html.escape(heading)}</h1>\n"
        f'<p data-testid="error-text">{html.escape(text)}</p>\n'
        f'<p><a class="button" href="/" data-testid="back-to-hall">{html.escape(back)}</a></p>\n'
        "</div>\n</main>\n</body>\n</html>\n"
    )
    return HTMLResponse(page, status_code=status, headers=NO_STORE)


exception_handlers: Mapping[Any, ExceptionHandler] = {
    404: not_found,
    405: method_not_allowed,
    500: server_error,
    Unavailable: database_unavailable,
}
