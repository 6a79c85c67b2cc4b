"""Pages about the hall itself: language choice, accessibility, privacy, health."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from app.errors import DomainError
from app.i18n import LANGUAGES
from app.middleware import LANGUAGE_COOKIE
from app.pages.common import (
    error_context,
    principal_of_request,
    render,
    resources_of,
    safe_next,
)

LANGUAGE_COOKIE_MAX_AGE = 365 * 24 * 60 * 60


async def choose_language(request: Request) -> Response:
    """Switch the language and remember it; then back to the page the visitor was on."""
    language = request.path_params["language"]
    if language not in LANGUAGES:
        principal = await principal_of_request(request)
        error = DomainError("input.bad_choice")
        return await render(request, "error.html", principal, error_context(error, {}), 404)
    response = RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    response.set_cookie(
        LANGUAGE_COOKIE,
        language,
        max_age=LANGUAGE_COOKIE_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=resources_of(request).settings.https_only_cookies,
    )
    return response


async def accessibility_page(request: Request) -> Response:
    return await render(request, "accessibility.html", await principal_of_request(request), {})


async def privacy_page(request: Request) -> Response:
    return await render(request, "privacy.html", await principal_of_request(request), {})


async def healthz(request: Request) -> Response:
    r = resources_of(request)
    try:
        await r.db.fetchvalue("SELECT 1")
    except Exception:
        return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})


routes = [
    Route("/taal/{language:str}", choose_language, methods=["GET"]),
    Route("/toegankelijkheid", accessibility_page, methods=["GET"]),
    Route("/privacy", privacy_page, methods=["GET"]),
    Route("/healthz", healthz, methods=["GET"]),
]
