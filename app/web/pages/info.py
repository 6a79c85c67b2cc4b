"""Pages about the hall itself: language choice, accessibility, privacy; and the probes of
its health (alive: ``/healthz``; ready: ``/readyz``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from app.core.errors import DomainError
from app.core.i18n import LANGUAGES
from app.web.health import Health
from app.web.middleware import LANGUAGE_COOKIE
from app.web.pages.common import (
    error_context,
    principal_of_request,
    render,
    resources_of,
    safe_next,
)

LANGUAGE_COOKIE_MAX_AGE = 365 * 24 * 60 * 60
NO_STORE = {"Cache-Control": "no-store"}


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
    """Alive: the process answers. Nothing else is asked, so a slow database does not get a
    working process restarted."""
    return JSONResponse({"status": "ok"}, headers=NO_STORE)


async def readyz(request: Request) -> Response:
    """Ready: the database answers, and Redis when the hall uses it (``app.web.health``)."""
    health: Health = request.app.state.health
    readiness = await health.readiness()
    return JSONResponse(
        readiness.as_dict(), status_code=200 if readiness.ready else 503, headers=NO_STORE
    )


routes = [
    Route("/taal/{language:str}", choose_language, methods=["GET"]),
    Route("/toegankelijkheid", accessibility_page, methods=["GET"]),
    Route("/privacy", privacy_page, methods=["GET"]),
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
]
