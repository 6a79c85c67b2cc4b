"""``/metrics``: the Prometheus text exposition of ``app.live.metrics``, over HTTP.

The figures are counted and read in the live layer; who may read them is a question of the
web: a signed-in moderator, or a scraper that sends
``Authorization: Bearer <INZOOMEN_METRICS_TOKEN>``. Everyone else gets 401 (not signed in,
or a wrong token) or 403 (signed in, but not as a moderator).
"""

from __future__ import annotations

import hmac

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from app.domain.event import load_event
from app.domain.principals import principal_of
from app.live.resources import Resources

# Figures change with every scrape: no cache may keep them, nor the refusals.
NO_STORE = {"Cache-Control": "no-store"}


def _bearer(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header; "" for any other Authorization."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def metrics_endpoint(request: Request) -> Response:
    r: Resources = request.app.state.resources
    token = _bearer(request)
    if token is not None:
        # Credentials were given: they decide, whatever the session says.
        expected = r.settings.metrics_token
        if not (expected and token and hmac.compare_digest(token.encode(), expected.encode())):
            return _refusal(401)
    else:
        principal = await principal_of(r.db, request.session)
        if principal.role == "anonymous":
            return _refusal(401)
        if principal.role != "moderator":
            return _refusal(403)
    event = await load_event(r.db)
    body = await r.metrics.render(r.db, event, r.now())
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers=NO_STORE)


def _refusal(status: int) -> Response:
    headers = dict(NO_STORE)
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="inzoomen metrics"'
    text = "sign in as a moderator or send the metrics token\n" if status == 401 else "forbidden\n"
    return PlainTextResponse(text, status_code=status, headers=headers)


routes = [Route("/metrics", metrics_endpoint, methods=["GET"])]
