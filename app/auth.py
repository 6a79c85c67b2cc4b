"""Who is asking: the principal behind a session, and CSRF tokens for forms.

Sessions are signed, HttpOnly, SameSite cookies (Starlette's SessionMiddleware). The session
holds only ids; the principal is looked up again on every request and connection, so a
deactivated account loses access at once.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from app.accounts import get_staff
from app.candidates import get_candidate
from app.db import Database

ROLES = ("anonymous", "candidate", "advisor", "moderator")


@dataclass(frozen=True)
class Principal:
    role: str
    id: int | None = None
    name: str = ""
    booth_id: int | None = None

    @property
    def topics(self) -> list[str]:
        """The hub topics this principal may hear."""
        topics = ["hall"]
        if self.role == "candidate":
            topics.append(f"candidate:{self.id}")
        elif self.role == "advisor":
            topics += [f"staff:{self.id}", f"booth:{self.booth_id}"]
        elif self.role == "moderator":
            topics += [f"staff:{self.id}", "moderators"]
        return topics


ANONYMOUS = Principal("anonymous")


async def principal_of(db: Database, session: dict[str, Any]) -> Principal:
    staff_id = session.get("staff_id")
    if isinstance(staff_id, int):
        staff = await get_staff(db, staff_id)
        if staff is not None and staff.active:
            return Principal(staff.role, staff.id, staff.name, staff.booth_id)
    candidate_id = session.get("candidate_id")
    if isinstance(candidate_id, int):
        candidate = await get_candidate(db, candidate_id)
        if candidate is not None:
            return Principal("candidate", candidate.id, candidate.name)
    return ANONYMOUS


def csrf_token(session: dict[str, Any]) -> str:
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def csrf_ok(session: dict[str, Any], submitted: str | None) -> bool:
    expected = session.get("csrf")
    return (
        isinstance(expected, str)
        and isinstance(submitted, str)
        and hmac.compare_digest(expected, submitted)
    )


def sign_in_candidate(session: dict[str, Any], candidate_id: int) -> None:
    session.clear()
    session["candidate_id"] = candidate_id
    session["csrf"] = secrets.token_urlsafe(32)


def sign_in_staff(session: dict[str, Any], staff_id: int) -> None:
    session.clear()
    session["staff_id"] = staff_id
    session["csrf"] = secrets.token_urlsafe(32)


def sign_out(session: dict[str, Any]) -> None:
    session.clear()
