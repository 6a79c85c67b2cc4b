"""Staff: log in and out, change the password, the advisor console, the moderator overview."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app.commands import actions
from app.core.errors import DomainError
from app.core.i18n import gettext as _
from app.domain import emails, queue, throttles
from app.domain.accounts import MIN_PASSWORD_LENGTH, authenticate, change_password, get_staff
from app.domain.advisors import CHOOSABLE
from app.domain.event import load_event
from app.domain.notes import booth_conversations
from app.domain.principals import Principal
from app.live import snapshots
from app.live.resources import Resources
from app.web.auth import sign_in_staff, sign_out
from app.web.pages.common import (
    error_context,
    error_page,
    form_int,
    principal_of_request,
    read_form,
    refuse,
    render,
    resources_of,
)
from app.web.pages.guards import anyone, for_advisors, for_staff


async def login_page(request: Request) -> Response:
    principal = await principal_of_request(request)
    changed = request.query_params.get("wachtwoord") == "gewijzigd"
    return await render(request, "login.html", principal, {"values": {}, "changed": changed})


# The signed cookie that makes this browser a known device for the accounts that signed in
# with it (``app.domain.throttles``). It outlives sessions and log-outs: an event runs for days.
DEVICE_COOKIE = "inzoomen_device"
DEVICE_MAX_AGE = 180 * 24 * 60 * 60


@dataclass(frozen=True)
class _Attempt:
    """A password check of an account, under the log-in throttle (``app.domain.throttles``)."""

    resources: Resources
    account_key: str
    attempt: throttles.LoginTry

    async def succeeded(self) -> None:
        await throttles.login_succeeded(self.resources.db, self.attempt)


async def _attempt(request: Request, email: str) -> _Attempt:
    r = resources_of(request)
    secret = r.settings.secret_key
    account_key = throttles.key_of(secret, "account", email)
    device = throttles.known_device(secret, account_key, request.cookies.get(DEVICE_COOKIE))
    ip_key: str | None = None
    if device is not None:
        client_key = throttles.key_of(secret, "device", device)
    else:
        address = request.client.host if request.client else ""
        client_key = ip_key = throttles.key_of(secret, "ip", address)
    attempt = await throttles.begin_login(
        r.db,
        account_key=account_key,
        client_key=client_key,
        ip_key=ip_key,
        now=r.now(),
        free=r.settings.login_failures_per_account,
        per_ip=r.settings.login_failures_per_ip,
    )
    return _Attempt(r, account_key, attempt)


def _wait(response: Response, attempt: throttles.LoginTry) -> Response:
    response.headers["Retry-After"] = str(attempt.retry_after)
    return response


async def login_submit(request: Request, principal: Principal) -> Response:
    r = resources_of(request)
    form = await read_form(request)
    email = str(form.get("email", ""))
    attempt = await _attempt(request, emails.lookup_form(email))
    if not attempt.attempt.allowed:
        # Refused before the password is looked at, for a known account or not alike.
        context = {"values": {"email": email}, **error_context(attempt.attempt.refusal(), {})}
        page = await render(request, "login.html", principal, context, 429)
        return _wait(page, attempt.attempt)
    try:
        staff = await authenticate(r.db, email, str(form.get("password", "")))
    except DomainError as error:
        # The try stays recorded as a failure.
        context = {"values": {"email": email}, **error_context(error, {})}
        return await render(request, "login.html", principal, context, 400)
    await attempt.succeeded()
    await sign_in_staff(r.db, request.session, staff.id, r.now())
    if staff.role == "advisor":
        if staff.status == "offline":
            await actions.perform(
                r,
                Principal("advisor", staff.id, staff.name, staff.booth_id),
                "advisor.status",
                {"status": "available"},
            )
        response = RedirectResponse("/adviseur", status_code=303)
    else:
        response = RedirectResponse("/moderator", status_code=303)
    _remember_device(request, response, attempt.account_key)
    return response


def _remember_device(request: Request, response: Response, account_key: str) -> None:
    """This browser is a known device for the account from now on."""
    settings = resources_of(request).settings
    value = throttles.remember_device(
        settings.secret_key, account_key, request.cookies.get(DEVICE_COOKIE)
    )
    response.set_cookie(
        DEVICE_COOKIE,
        value,
        max_age=DEVICE_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=settings.https_only_cookies,
    )


async def logout_submit(request: Request, principal: Principal) -> Response:
    r = resources_of(request)
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
    ended = await sign_out(r.db, request.session)
    if ended is not None:
        # This browser's sockets close in every worker; other sessions stay signed in.
        if ended.staff_id is not None:
            await r.live.staff_signed_out(ended.staff_id, "logout", ended.id)
        elif ended.candidate_id is not None:
            await r.live.candidate_signed_out(ended.candidate_id, "logout", ended.id)
    return RedirectResponse("/", status_code=303)


def _password_labels() -> dict[str, str]:
    return {
        "current": _("Huidig wachtwoord"),
        "new": _("Nieuw wachtwoord"),
        "repeat": _("Nieuw wachtwoord nog een keer"),
    }


async def password_page(request: Request) -> Response:
    principal = await principal_of_request(request)
    if principal.role not in ("advisor", "moderator"):
        return await refuse(request, principal, "/inloggen")
    return await render(request, "password.html", principal, {"min_length": MIN_PASSWORD_LENGTH})


async def password_submit(request: Request, principal: Principal) -> Response:
    r = resources_of(request)
    form = await read_form(request)
    if principal.role not in ("advisor", "moderator") or principal.id is None:
        return await refuse(request, principal, "/inloggen")
    staff = await get_staff(r.db, principal.id)
    assert staff is not None
    # The current password is checked under the log-in throttle: a session left open is no
    # way around it.
    attempt = await _attempt(request, staff.email)
    if not attempt.attempt.allowed:
        error = attempt.attempt.refusal()
        context = {"min_length": MIN_PASSWORD_LENGTH, **error_context(error, _password_labels())}
        page = await render(request, "password.html", principal, context, 429)
        return _wait(page, attempt.attempt)
    try:
        await change_password(
            r.db,
            principal.id,
            current=str(form.get("current", "")),
            new=str(form.get("new", "")),
            repeat=str(form.get("repeat", "")),
        )
    except DomainError as error:
        # Only a wrong current password counts as a failed log-in of the account.
        if "current" not in getattr(error, "errors", {}):
            await attempt.succeeded()
        context = {"min_length": MIN_PASSWORD_LENGTH, **error_context(error, _password_labels())}
        return await render(request, "password.html", principal, context, 400)
    await attempt.succeeded()
    # Every session of the account ended, this one too: its sockets close in every worker.
    request.session.clear()
    await r.live.staff_signed_out(staff.id, "password_changed")
    return RedirectResponse("/inloggen?wachtwoord=gewijzigd", status_code=303)


async def console_page(request: Request) -> Response:
    r = resources_of(request)
    principal = await principal_of_request(request)
    if principal.role != "advisor" or principal.id is None:
        return await refuse(request, principal, "/inloggen")
    event = await load_event(r.db)
    console = await snapshots.console_state(r.db, event, principal.id, r.now())
    history = []
    if principal.booth_id is not None:
        history = await booth_conversations(r.db, principal.booth_id)
    return await render(
        request,
        "console.html",
        principal,
        {"console": console, "event": event, "choosable": CHOOSABLE, "history": history},
    )


CONSOLE_FORMS = {
    "status": ("advisor.status", ("status",)),
    "accepteren": ("request.accept", ("request_id",)),
    "afwijzen": ("request.decline", ("request_id", "message")),
    "beeindigen": ("conversation.end", ("conversation_id",)),
    "notities": ("conversation.note", ("conversation_id", "notes")),
    "verlengen": ("conversation.extend", ("conversation_id",)),
    "doorverwijzen": (
        "conversation.transfer",
        ("conversation_id", "booth_id", "advisor_id", "note"),
    ),
}


async def console_submit(request: Request, principal: Principal) -> Response:
    r = resources_of(request)
    form = await read_form(request)
    # One route per console form (below): any other name is the router's 404.
    name, fields = CONSOLE_FORMS[request.url.path.rsplit("/", 1)[-1]]
    data: dict[str, Any] = {}
    for field in fields:
        if field.endswith("_id"):
            data[field] = form_int(form, field)
        elif form.get(field) is not None:
            # Browsers send line breaks as CRLF; length limits count one per break.
            data[field] = str(form.get(field)).replace("\r\n", "\n")
    try:
        await actions.perform(r, principal, name, data)
    except DomainError as error:
        return await error_page(request, principal, error)
    return RedirectResponse("/adviseur", status_code=303)


routes = [
    Route("/inloggen", login_page, methods=["GET"]),
    Route("/inloggen", anyone(login_submit), methods=["POST"]),
    Route("/uitloggen", anyone(logout_submit), methods=["POST"]),
    Route("/wachtwoord", password_page, methods=["GET"]),
    Route("/wachtwoord", for_staff(password_submit), methods=["POST"]),
    Route("/adviseur", console_page, methods=["GET"]),
    *(
        Route(f"/adviseur/{form}", for_advisors(console_submit), methods=["POST"])
        for form in CONSOLE_FORMS
    ),
]
