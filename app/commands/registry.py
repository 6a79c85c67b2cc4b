"""The command registry: each command's name, the roles allowed to give it, the shape of its
data, its throttle and its handler; and ``perform``, the one way any adapter runs one.

``perform`` checks the role, applies the throttle, validates the data, runs the handler and
then publishes what the handler says it changed (its ``Outcome``) with one call,
``Live.publish``. A handler never pushes anything itself: it returns the ``Outcome`` and the
client gets its ``reply``.

``REGISTRY`` holds the commands of the protocol (docs/protocol.md): the socket offers them,
and the forms of the hall's pages give them too. ``FORM_COMMANDS`` holds the commands that
only the organisers' administration forms give (``forms_only``): the socket does not know
them, and a form asks for them with ``perform(..., form=True)``.

The handlers live in the modules next to this one, one per audience; ``app.commands.actions``
imports them all, so importing it fills the registry.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from app.commands.envelope import Field, clean_payload
from app.core.errors import DomainError
from app.domain.outcome import Outcome
from app.domain.principals import Principal
from app.live.resources import Resources
from app.storage.db import Conflict, Unavailable

log = logging.getLogger("inzoomen.commands")

Handler = Callable[[Resources, Principal, dict[str, Any]], Awaitable[Outcome]]
# Refuses a command that comes too often (raises ``rate.limited``); it sees the data as sent,
# before it is validated, and changes nothing.
Throttle = Callable[[Resources, Principal, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Action:
    name: str
    roles: frozenset[str]
    fields: tuple[Field, ...]
    handler: Handler
    throttle: Throttle | None = None
    forms_only: bool = False

    def pick(self, values: Mapping[str, object]) -> dict[str, Any]:
        """The values of this command's fields out of a posted form (which carries more,
        such as its CSRF token); a field the form left out stays out."""
        return {f.name: values[f.name] for f in self.fields if f.name in values}


REGISTRY: dict[str, Action] = {}
FORM_COMMANDS: dict[str, Action] = {}
EVERYONE = ("anonymous", "candidate", "advisor", "moderator")


def action(
    name: str,
    roles: tuple[str, ...],
    *fields: Field,
    throttle: Throttle | None = None,
    forms_only: bool = False,
) -> Callable[[Handler], Handler]:
    """Register the decorated handler as the command ``name``."""

    def register(handler: Handler) -> Handler:
        if name in REGISTRY or name in FORM_COMMANDS:
            raise RuntimeError(f"action {name!r} registered twice")
        found = Action(name, frozenset(roles), fields, handler, throttle, forms_only)
        (FORM_COMMANDS if forms_only else REGISTRY)[name] = found
        return handler

    return register


def find(name: str, *, form: bool = False) -> Action | None:
    """The command of this name; those only forms give are found for a form only."""
    found = REGISTRY.get(name)
    if found is None and form:
        found = FORM_COMMANDS.get(name)
    return found


async def perform(
    resources: Resources,
    principal: Principal,
    name: str,
    data: dict[str, Any],
    *,
    form: bool = False,
) -> Any:
    """Run one command for this principal and publish what it changed; returns the reply.

    ``form``: given by a page's form, which may also give the commands ``FORM_COMMANDS``
    holds. A refusal (``DomainError``) changes nothing and publishes nothing."""
    found = find(name, form=form)
    if found is None:
        raise DomainError("protocol.unknown_action")
    if principal.role not in found.roles:
        raise DomainError(
            "auth.sign_in_required" if principal.role == "anonymous" else "auth.forbidden"
        )
    try:
        outcome = await _run(resources, principal, found, data)
    except Unavailable as error:
        # Nothing was committed (or, if the connection broke during the commit, the client's
        # retry with the same key finds it): the person is asked to try again.
        log.warning("%s refused: the database does not answer (%s)", name, error)
        raise DomainError("server.unavailable") from None
    try:
        await resources.live.publish(outcome)
    except Unavailable as error:
        # The change is committed; the states pushed after the database is back include it.
        log.warning("%s done, but its views could not be read to push (%s)", name, error)
    return outcome.reply


# A command the database broke off because it met another transaction runs again, this many
# times in all, before the person is asked to try again.
ATTEMPTS = 3


async def _run(
    resources: Resources, principal: Principal, found: Action, data: dict[str, Any]
) -> Outcome:
    """The command's checks and its transaction. Nothing of a broken-off attempt was kept,
    so running it again is safe; the person never sees the conflict."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            if found.throttle is not None:
                await found.throttle(resources, principal, data)
            cleaned = clean_payload(found.fields, data)
            return await found.handler(resources, principal, cleaned)
        except Conflict as conflict:
            if attempt == ATTEMPTS:
                raise
            log.info("%s met another transaction (%s); running it again", found.name, conflict)
            await asyncio.sleep(random.uniform(0.01, 0.05) * attempt)
    raise AssertionError("unreachable")


def person_id(principal: Principal) -> int:
    """The id of a signed-in principal (every role but anonymous has one)."""
    assert principal.id is not None
    return principal.id
