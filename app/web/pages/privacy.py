"""A candidate's own data ("Mijn gegevens"): see what is held, download it as JSON, erase it.

The domain work is in ``app.domain.privacy``; here are only the pages, the form and the download.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app.core.i18n import gettext as _
from app.domain import privacy
from app.domain.principals import Principal
from app.web.pages.common import (
    candidate_sign_in,
    principal_of_request,
    read_form,
    refuse,
    render,
    resources_of,
)
from app.web.pages.guards import for_candidates

MY_DATA = "/mijn-gegevens"
DOWNLOAD = "/mijn-gegevens/download"
ERASE = "/mijn-gegevens/wissen"
ERASED = "/mijn-gegevens/gewist"
DOWNLOAD_NAME = "inzoomen-mijn-gegevens.json"


def _candidate_id(principal: Principal) -> int | None:
    return principal.id if principal.role == "candidate" else None


async def my_data_page(request: Request) -> Response:
    r = resources_of(request)
    principal = await principal_of_request(request)
    candidate_id = _candidate_id(principal)
    if candidate_id is None:
        return await refuse(request, principal, candidate_sign_in(MY_DATA))
    data = await privacy.export(r.db, candidate_id, r.now())
    if data is None:
        return await refuse(request, principal, candidate_sign_in(MY_DATA))
    counts = await privacy.summary(r.db, candidate_id)
    return await render(request, "my_data.html", principal, {"me": data, "counts": counts})


async def download(request: Request) -> Response:
    r = resources_of(request)
    principal = await principal_of_request(request)
    candidate_id = _candidate_id(principal)
    data = None if candidate_id is None else await privacy.export(r.db, candidate_id, r.now())
    if data is None:
        return await refuse(request, principal, candidate_sign_in(MY_DATA))
    body = json.dumps(data, ensure_ascii=False, indent=2)
    return Response(
        body,
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{DOWNLOAD_NAME}"',
            "Cache-Control": "no-store",
        },
    )


async def _confirm_page(
    request: Request, principal: Principal, candidate_id: int, status_code: int = 200
) -> Response:
    r = resources_of(request)
    counts = await privacy.summary(r.db, candidate_id)
    context: dict[str, object] = {"counts": counts}
    if status_code == 400:
        message = _("Vink aan dat je je gegevens echt wilt wissen.")
        context["errors"] = {"confirm": message}
        context["error_summary"] = [
            {"field": "confirm", "label": _("Bevestigen"), "message": message}
        ]
    return await render(request, "erase_confirm.html", principal, context, status_code)


async def erase_page(request: Request) -> Response:
    principal = await principal_of_request(request)
    candidate_id = _candidate_id(principal)
    if candidate_id is None:
        return await refuse(request, principal, candidate_sign_in(ERASE))
    return await _confirm_page(request, principal, candidate_id)


async def erase_submit(request: Request, principal: Principal) -> Response:
    r = resources_of(request)
    form = await read_form(request)
    candidate_id = _candidate_id(principal)
    if candidate_id is None:
        return await refuse(request, principal, candidate_sign_in(ERASE))
    if form.get("confirm") != "yes":
        return await _confirm_page(request, principal, candidate_id, 400)
    done = await privacy.erase(
        r.db, candidate_id, now=r.now(), wrap_up_seconds=r.settings.wrap_up_seconds
    )
    # Every browser of theirs is signed out: the erasure ended all their sessions, this
    # cookie is forgotten, and their open sockets are closed in every worker process.
    request.session.clear()
    await privacy.tell(r.live, done.booth_ids, done.touched_candidates - {candidate_id})
    await r.live.candidate_signed_out(candidate_id, "erased")
    return RedirectResponse(ERASED, status_code=303)


async def erased_page(request: Request) -> Response:
    return await render(request, "erased.html", await principal_of_request(request), {})


routes = [
    Route(MY_DATA, my_data_page, methods=["GET"]),
    Route(DOWNLOAD, download, methods=["GET"]),
    Route(ERASE, erase_page, methods=["GET"]),
    Route(ERASE, for_candidates(erase_submit), methods=["POST"]),
    Route(ERASED, erased_page, methods=["GET"]),
]
