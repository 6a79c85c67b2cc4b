"""ASGI middleware of the hall: the host names it answers for, security headers, the
visitor's language, the limit on request bodies, and the form token every change carries."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request, cookie_parser
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core import i18n
from app.core.config import normal_host
from app.web import auth

LANGUAGE_COOKIE = "inzoomen_lang"

POLICY = (
    "default-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]
# Only over HTTPS (directly, or behind a proxy that says so and is trusted by uvicorn's
# proxy headers, which then sets the scope's scheme): a browser ignores it over HTTP.
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
_STARTS = {"http.response.start", "websocket.http.response.start"}


# Read by programs (health checks, a metrics scraper) that may name the server by its
# address; they never put the Host header into what they answer.
HOST_FREE_PATHS = ("/healthz", "/readyz", "/metrics")
_REDIRECTS = {301, 302, 303, 307, 308}


def host_of(header: str) -> str:
    """The host of a Host header, without its port: ``[::1]:8000`` is ``::1``."""
    header = header.strip()
    if header.startswith("["):
        return normal_host(header.split("]", 1)[0] + "]")
    return normal_host(header.rsplit(":", 1)[0] if header.count(":") == 1 else header)


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    """Whether ``host`` is one of ``allowed``: a name itself, a subdomain of ``*.name``, or
    anything at all for ``*``."""
    if not host:
        return False
    for name in allowed:
        if name == "*" or name == host:
            return True
        if name.startswith("*.") and host.endswith(name[1:]):
            return True
    return False


class AllowedHosts:
    """Answers only requests for the hall's own host names (``INZOOMEN_ALLOWED_HOSTS``).

    Anything that builds an address from the Host header (the redirect that drops a
    trailing slash, for one) would otherwise point wherever the request said: at another
    site, for anyone who can get such an answer cached or followed. A request or WebSocket
    handshake for another host gets a plain 400. The health and metrics endpoints answer
    any host, for probes that name the server by its address.

    A redirect to the hall itself names only the path (``Location: /privacy``), so no
    redirect carries a host name, whatever the request said.
    """

    def __init__(self, app: ASGIApp, hosts: tuple[str, ...]) -> None:
        self.app = app
        self.hosts = tuple(normal_host(host) for host in hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in HOST_FREE_PATHS:
            await self.app(scope, receive, send)
            return
        header = Headers(scope=scope).get("host", "")
        if not host_allowed(host_of(header), self.hosts):
            await self._refuse(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        own = f"{scope.get('scheme', 'http')}://{header}"

        async def send_host_free(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in _REDIRECTS:
                message["headers"] = list(message.get("headers", []))
                headers = MutableHeaders(scope=message)
                location = headers.get("location", "")
                if location.startswith(own) and location[len(own) : len(own) + 1] in ("", "/", "?"):
                    headers["location"] = "/" + location[len(own) :].lstrip("/")
            await send(message)

        await self.app(scope, receive, send_host_free)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = PlainTextResponse(
            "Bad Request: this server does not answer for that host name", status_code=400
        )
        if scope["type"] == "websocket" and "websocket.http.response" not in scope.get(
            "extensions", {}
        ):
            await send({"type": "websocket.close", "code": 1008})
            return
        await response(scope, receive, send)


def policy_with_scripts(script_hashes: tuple[str, ...]) -> bytes:
    """The content security policy that also lets the given inline scripts run, each named
    by the base64 SHA-256 of its text (the page's import map): nothing else inline runs."""
    if not script_hashes:
        return POLICY.encode()
    allowed = " ".join(f"'sha256-{digest}'" for digest in script_hashes)
    return f"{POLICY}; script-src 'self' {allowed}".encode()


def security_headers(scope: Scope, policy: bytes = POLICY.encode()) -> list[tuple[bytes, bytes]]:
    headers = [(b"content-security-policy", policy), *SECURITY_HEADERS[1:]]
    if scope.get("scheme") in ("https", "wss"):
        headers.append(HSTS)
    return headers


class SecurityHeaders:
    """Adds a strict content security policy and friends to every HTTP response, and to
    the HTTP response that refuses a WebSocket handshake."""

    def __init__(self, app: ASGIApp, script_hashes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.policy = policy_with_scripts(script_hashes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        added = security_headers(scope, self.policy)
        names = {name for name, _value in added}

        async def send_with_headers(message: Message) -> None:
            if message["type"] in _STARTS:
                kept = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() not in names
                ]
                message["headers"] = [*kept, *added]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def language_of(headers: Headers) -> str:
    """The visitor's language: the one they picked (the cookie) wins; until they pick one,
    their browser's ``Accept-Language`` decides; Dutch when neither names a hall language."""
    chosen = cookie_parser(headers.get("cookie", "")).get(LANGUAGE_COOKIE)
    if chosen is not None and chosen in i18n.LANGUAGES:
        return chosen
    return i18n.negotiate(headers.get("accept-language"))


class Language:
    """Every request and WebSocket connection speaks the visitor's language (``language_of``).

    A page depends on the language, so HTML answers say that they vary with both headers
    that choose it: a shared cache must not hand one visitor's English page to another."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        i18n.set_language(language_of(Headers(scope=scope)))
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_vary(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", []))
                headers = MutableHeaders(scope=message)
                if headers.get("content-type", "").startswith("text/html"):
                    varies = {v.strip().lower() for v in headers.get("vary", "").split(",")}
                    for name in ("Cookie", "Accept-Language"):
                        if name.lower() not in varies:
                            headers.add_vary_header(name)
            await send(message)

        await self.app(scope, receive, send_with_vary)


class BodyTooLarge(Exception):
    """A request body grew past the limit while it was being read."""


class BodyLimit:
    """Refuses an HTTP request body larger than ``max_bytes`` with 413 (``refuse`` makes the
    answer: the hall's own page), before the body is read whole.

    Without it a form of any size is read and parsed into memory before any page looks at
    it. A body that says its length (``Content-Length``) is refused before a byte of it is
    read; one sent in chunks is counted as it arrives and refused, unread from there on, at
    the chunk that crosses the limit. Either way the connection is closed after the answer,
    since the rest of the body is never read. WebSocket messages have their own limit
    (``INZOOMEN_WS_MAX_BYTES``).

    It sits inside the session and language middleware, so that the page knows who asks
    and in which language.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        refuse: Callable[[Request], Awaitable[Response]],
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        # The server has checked that a Content-Length is a number; a body without one comes
        # in chunks and is counted below.
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge:
            if started:  # a page that answers while still reading: nothing left to say
                raise
            await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        response = await self.refuse(Request(scope))
        # The rest of the body stays unread: the connection cannot carry another request.
        response.headers["Connection"] = "close"

        async def nothing_more() -> Message:
            return {"type": "http.disconnect"}

        await response(scope, nothing_more, send)


# The methods that change nothing: every other one must carry the session's form token.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf"


class CsrfGuard:
    """Refuses every request that may change something (any method but GET, HEAD and
    OPTIONS) unless its form carries this browser session's token, before any page sees it.

    A page therefore cannot forget the check: the guard stands in front of all of them, and
    a new form route is covered the day it is added. The token is compared as
    ``app.web.auth.csrf_ok`` does; a missing or wrong one gets ``refuse``'s answer (the
    hall's 403 page), with nothing read further and nothing changed.

    The body is read here once (``BodyLimit``, outside this guard, has bounded it), the
    token taken out of the form, and the same bytes are handed to the page as if they came
    from the client. Sits inside the session middleware, which it reads.
    """

    def __init__(
        self,
        app: ASGIApp,
        routes: Sequence[BaseRoute],
        refuse: Callable[[Request], Awaitable[Response]],
    ) -> None:
        self.app = app
        self.routes = routes
        self.refuse = refuse

    def _reaches_a_page(self, scope: Scope) -> bool:
        # Only a request some route takes with this method can change anything; the others
        # get the router's own 404 or 405, as they would without the guard.
        return any(route.matches(scope)[0] is Match.FULL for route in self.routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] in SAFE_METHODS
            or not self._reaches_a_page(scope)
        ):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the visitor went away: there is no one to answer
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)

        def replay() -> Receive:
            sent = False

            async def receive_again() -> Message:
                nonlocal sent
                if not sent:
                    sent = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            return receive_again

        request = Request(scope, replay())
        if not auth.csrf_ok(scope.get("session", {}), await _form_token(request)):
            response = await self.refuse(request)
            await response(scope, replay(), send)
            return
        await self.app(scope, replay(), send)


async def _form_token(request: Request) -> str | None:
    """The token a form carries, or None (no form, a form that cannot be read, no token)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return None
    try:
        async with request.form() as form:
            token = form.get(CSRF_FIELD)
    except (HTTPException, MultiPartException):
        # A malformed multipart body: for the guard simply a form without a valid token.
        return None
    return token if isinstance(token, str) else None
