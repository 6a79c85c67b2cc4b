"""Who may use a page, declared on the page itself, and the one way a form gives a command.

A page handler takes the request and the principal asking; ``requires_role`` turns it into a
route endpoint that looks the principal up, refuses everyone else, and carries the roles it
allows (``endpoint.roles``), so the route table says who may do what and a test can read it:
every route that changes something must declare its roles. ``anyone`` declares a page open
to every visitor (signing in, for one) and still hands it the principal.

Refusals: an anonymous visitor who opens a page is sent to sign in (and back afterwards); a
form sent without signing in, or by another role, gets the hall's error page with 403.

``submit`` is the body of an administration form: give one command with the form's fields,
show the form again with its errors when the domain refuses, and go on to the next page when
it is done. The CSRF token was checked before (``app.web.middleware.CsrfGuard``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from app.commands.registry import find, perform
from app.core.errors import DomainError
from app.domain.principals import ROLES, Principal
from app.web.pages.common import (
    candidate_sign_in,
    error_page,
    principal_of_request,
    read_form,
    refuse,
    resources_of,
)

Handler = Callable[[Request, Principal], Awaitable[Response]]
SignIn = str | Callable[[Request], str]
SAFE_METHODS = ("GET", "HEAD")


class Endpoint(Protocol):
    roles: frozenset[str]

    def __call__(self, request: Request) -> Awaitable[Response]: ...


def requires_role(*roles: str, sign_in: SignIn = "/inloggen") -> Callable[[Handler], Endpoint]:
    """A page for these roles only. ``sign_in``: where an anonymous visitor who opens the page
    is sent (a staff page: the staff log-in; a candidate's page: the light sign-in, with the
    way back)."""
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    def declare(handler: Handler) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            principal = await principal_of_request(request)
            if principal.role in roles:
                return await handler(request, principal)
            if request.method in SAFE_METHODS:
                where = sign_in(request) if callable(sign_in) else sign_in
                return await refuse(request, principal, where)
            code = "auth.sign_in_required" if principal.role == "anonymous" else "auth.forbidden"
            return await error_page(request, principal, DomainError(code))

        endpoint.__name__ = handler.__name__
        endpoint.__doc__ = handler.__doc__
        endpoint.roles = frozenset(roles)  # type: ignore[attr-defined]
        return endpoint  # type: ignore[return-value]

    return declare


def anyone(handler: Handler) -> Endpoint:
    """A page every visitor may use, signed in or not (it decides itself what each sees)."""
    return requires_role(*ROLES)(handler)


def _back_after_sign_in(request: Request) -> str:
    return candidate_sign_in(request.url.path)


# The audiences of the hall's pages.
for_moderators = requires_role("moderator")
for_advisors = requires_role("advisor")
for_staff = requires_role("advisor", "moderator")
for_candidates = requires_role("candidate", sign_in=_back_after_sign_in)


def roles_of(endpoint: object) -> frozenset[str] | None:
    """The roles a route's endpoint declares, or None when it declares none."""
    roles = getattr(endpoint, "roles", None)
    return roles if isinstance(roles, frozenset) else None


def fields_of(values: Any) -> dict[str, str]:
    """The text fields of a posted form (its files aside)."""
    return {k: v for k, v in values.items() if isinstance(v, str)}


def fields_for(command: str, values: dict[str, str]) -> dict[str, str]:
    """The fields of a posted form that ``command`` takes (a form carries more: its token)."""
    found = find(command, form=True)
    return found.pick(values) if found is not None else values


async def submit(
    request: Request,
    principal: Principal,
    command: str,
    *,
    done: str | Callable[[Any], str],
    again: Callable[[dict[str, str], DomainError], Awaitable[Response]] | None = None,
    extra: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
) -> Response:
    """Give ``command`` with the form's fields and ``extra`` (what the address says, or a
    field the form gives in another shape), or with ``data`` alone, and answer as a form
    does.

    Refused by the domain: ``again`` shows the form once more with what was typed and the
    errors (without ``again``, the error page). Done: a redirect (303) to ``done``, or to
    ``done(reply)`` when the next address depends on what the command answered."""
    values = fields_of(await read_form(request))
    given = data if data is not None else {**fields_for(command, values), **(extra or {})}
    try:
        reply = await perform(resources_of(request), principal, command, given, form=True)
    except DomainError as error:
        if again is None:
            return await error_page(request, principal, error)
        return await again(values, error)
    where = done(reply) if callable(done) else done
    return RedirectResponse(where, status_code=303)
