"""Who is asking: the principal behind a session (a candidate, an advisor, a moderator or
nobody), looked up from the session's token on every request and connection.

The principal is read again each time, so a signed-out session, a changed password or a
deactivated account loses access at once. The web layer reads the token from the cookie;
every command and page decides on the principal it gets from here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from app.domain import sessions
from app.domain.accounts import get_staff
from app.domain.candidates import get_candidate
from app.storage.db import Database

SESSION_KEY = "sid"
ROLES = ("anonymous", "candidate", "advisor", "moderator")


@dataclass(frozen=True)
class Principal:
    role: str
    id: int | None = None
    name: str = ""
    booth_id: int | None = None


ANONYMOUS = Principal("anonymous")


@dataclass(frozen=True)
class Identity:
    """The principal, and the server-side session that stands for it (None: anonymous)."""

    principal: Principal
    session: sessions.Session | None = None


async def identify(db: Database, cookie: dict[str, Any], now: float | None = None) -> Identity:
    token = cookie.get(SESSION_KEY)
    if not isinstance(token, str) or not token:
        return Identity(ANONYMOUS)
    record = await sessions.find(db, token, time.time() if now is None else now)
    if record is None:
        return Identity(ANONYMOUS)
    if record.staff_id is not None:
        staff = await get_staff(db, record.staff_id)
        if staff is not None and staff.active:
            principal = Principal(staff.role, staff.id, staff.name, staff.booth_id)
            return Identity(principal, record)
    elif record.candidate_id is not None:
        candidate = await get_candidate(db, record.candidate_id)
        if candidate is not None:
            return Identity(Principal("candidate", candidate.id, candidate.name), record)
    return Identity(ANONYMOUS)


async def principal_of(db: Database, cookie: dict[str, Any], now: float | None = None) -> Principal:
    return (await identify(db, cookie, now)).principal
