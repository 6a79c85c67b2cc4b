"""Signing in and out of a browser session, and CSRF tokens for forms.

The cookie is signed, HttpOnly and SameSite (Starlette's SessionMiddleware), but it only
carries a random session token and the CSRF token: the server-side session record
(``app.domain.sessions``) decides, and ``app.domain.principals`` says who stands behind it.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from app.domain import sessions
from app.domain.principals import SESSION_KEY
from app.storage.db import Database


def csrf_token(session: dict[str, Any]) -> str:
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def csrf_ok(session: dict[str, Any], submitted: str | None) -> bool:
    """Whether the form carries this session's token. Compared as bytes: ``compare_digest``
    refuses text with characters outside ASCII, and a token typed in by someone else may
    hold any character; it is simply wrong, like any other wrong token."""
    expected = session.get("csrf")
    return (
        isinstance(expected, str)
        and isinstance(submitted, str)
        and hmac.compare_digest(
            expected.encode("utf-8", "surrogatepass"), submitted.encode("utf-8", "surrogatepass")
        )
    )


def _start(cookie: dict[str, Any], token: str) -> None:
    # A new session id and a new CSRF token at every sign-in: nothing from before carries over.
    cookie.clear()
    cookie[SESSION_KEY] = token
    cookie["csrf"] = secrets.token_urlsafe(32)


async def sign_in_candidate(
    db: Database, cookie: dict[str, Any], candidate_id: int, now: float
) -> None:
    token, _record = await sessions.create(db, candidate_id=candidate_id, now=now)
    _start(cookie, token)


async def sign_in_staff(db: Database, cookie: dict[str, Any], staff_id: int, now: float) -> None:
    token, _record = await sessions.create(db, staff_id=staff_id, now=now)
    _start(cookie, token)


async def sign_out(db: Database, cookie: dict[str, Any]) -> sessions.Session | None:
    """End this browser's session on the server and forget the cookie's contents."""
    token = cookie.get(SESSION_KEY)
    cookie.clear()
    if isinstance(token, str) and token:
        return await sessions.end(db, token)
    return None
