"""Every command a client can give, in one registry: importing this module registers the
commands of every audience (the modules next to it) and offers the registry's names.

The WebSocket and the HTML forms are both thin adapters over ``perform``
(``app.commands.registry``): the role is checked, the throttle applied and the payload
validated before any service is called, and what changed is published, with one call,
after the service has committed it.
"""

from __future__ import annotations

from app.commands import (  # noqa: F401  (each module registers its commands)
    advisor,
    call,
    candidate,
    followups,
    moderator,
    session,
    setup,
)
from app.commands.registry import (
    EVERYONE,
    FORM_COMMANDS,
    REGISTRY,
    Action,
    Handler,
    Throttle,
    action,
    find,
    perform,
)
from app.commands.session import personal_state

__all__ = [
    "EVERYONE",
    "FORM_COMMANDS",
    "REGISTRY",
    "Action",
    "Handler",
    "Throttle",
    "action",
    "find",
    "perform",
    "personal_state",
]
