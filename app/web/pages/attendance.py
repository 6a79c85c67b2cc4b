"""Proof of attendance: the candidate's printable page and PDF, and the moderator's check of
a verification code. The domain work is in ``app.domain.attendance``; here are only the pages."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app.core.ratelimit import TokenBucket
from app.domain import attendance
from app.domain.principals import Principal
from app.web.pages.common import (
    candidate_sign_in,
    read_form,
    render,
    resources_of,
)
from app.web.pages.guards import for_candidates, for_moderators, requires_role

MY_PROOF = "/mijn-bewijs"
MY_PROOF_PDF = "/mijn-bewijs.pdf"
CHECK = "/moderator/bewijs-controleren"
# Codes a moderator may check: a few at once, then one every few seconds (per process).
CHECK_BURST = 10
CHECK_RATE = 1 / 6
CHECK_MAX_LENGTH = 100

_check_buckets: dict[int, TokenBucket] = {}


async def my_proof_page(request: Request, principal: Principal) -> Response:
    r = resources_of(request)
    assert principal.id is not None
    proof = await attendance.issue(r.db, principal.id, now=r.now())
    context = {
        "proof": proof,
        "view": attendance.describe(proof.content, proof.issued_at)
        if proof is not None and proof.content is not None
        else None,
    }
    return await render(request, "attendance.html", principal, context)


async def my_proof_pdf(request: Request, principal: Principal) -> Response:
    r = resources_of(request)
    assert principal.id is not None
    proof = await attendance.issue(r.db, principal.id, now=r.now())
    if proof is None or proof.content is None:
        # Nothing to prove yet: the page says so.
        return RedirectResponse(MY_PROOF, status_code=303)
    view = attendance.describe(proof.content, proof.issued_at)
    # Laying out text in embedded fonts takes a few hundred milliseconds: in a thread, so
    # the live hall's other connections are not held up meanwhile.
    body = await asyncio.to_thread(attendance.render_pdf, view, proof.code)
    name = f"bewijs-van-deelname-{proof.display_code}.pdf"
    return Response(
        body,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


async def check_page(request: Request, principal: Principal) -> Response:
    return await render(
        request, "proof_check.html", principal, {"typed": "", "result": None, "limited": False}
    )


async def check_submit(request: Request, principal: Principal) -> Response:
    r = resources_of(request)
    form = await read_form(request)
    assert principal.id is not None
    typed = form.get("code")
    typed = typed[:CHECK_MAX_LENGTH] if isinstance(typed, str) else ""
    bucket = _check_buckets.get(principal.id)
    if bucket is None:
        bucket = _check_buckets[principal.id] = TokenBucket(CHECK_RATE, CHECK_BURST, r.now)
    if bucket.tokens < 1:
        # Too many codes in a short time: nothing is looked up.
        context: dict[str, Any] = {"typed": typed, "result": None, "limited": True}
        return await render(request, "proof_check.html", principal, context, 429)
    result = await attendance.verify(r.db, typed)
    if result.status == "unknown":
        # Only wrong codes use up the allowance: checking real proofs is never slowed down.
        bucket.take()
    view = (
        attendance.describe(result.proof.content, result.proof.issued_at)
        if result.proof is not None and result.proof.content is not None
        else None
    )
    context = {"typed": typed, "result": result, "view": view, "limited": False}
    return await render(request, "proof_check.html", principal, context)


routes = [
    Route(MY_PROOF, for_candidates(my_proof_page), methods=["GET"]),
    # Signed out, the download leads to signing in and then to the page it is on.
    Route(
        MY_PROOF_PDF,
        requires_role("candidate", sign_in=candidate_sign_in(MY_PROOF))(my_proof_pdf),
        methods=["GET"],
    ),
    Route(CHECK, for_moderators(check_page), methods=["GET"]),
    Route(CHECK, for_moderators(check_submit), methods=["POST"]),
]
