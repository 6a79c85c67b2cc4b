"""Server-side sessions: what a signed-in browser's cookie stands for, and for how long.

Every sign-in (a candidate's or a staff member's) makes a new random token; the cookie
carries the token, the database only its SHA-256 with the principal, and when the session
was made, last seen and expires. A session counts only while its row exists and has not
expired: signing out deletes the row, a password change deletes every row of the account,
and a cookie replayed afterwards stands for nobody.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from app.storage.db import Database, Transaction

# A session lasts as long as the signed cookie that carries it (twelve hours: one event day).
LIFETIME_SECONDS = 12 * 60 * 60
# ``last_seen`` is written at most this often per session, not on every request.
TOUCH_SECONDS = 5 * 60


@dataclass(frozen=True)
class Session:
    id: int
    staff_id: int | None
    candidate_id: int | None
    created_at: float
    last_seen: float
    expires_at: float


_COLUMNS = "id, staff_id, candidate_id, created_at, last_seen, expires_at"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create(
    db: Database,
    *,
    now: float,
    staff_id: int | None = None,
    candidate_id: int | None = None,
    lifetime: float = LIFETIME_SECONDS,
) -> tuple[str, Session]:
    """A new session for exactly one principal; returns the token for the cookie."""
    if (staff_id is None) == (candidate_id is None):
        raise ValueError("a session belongs to one staff member or one candidate")
    token = secrets.token_urlsafe(32)
    async with db.transaction() as tx:
        # Expired sessions are of no use to anyone: clear them as new ones are made.
        await tx.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
        session_id = await tx.insert(
            "INSERT INTO sessions (token_hash, staff_id, candidate_id, created_at, last_seen, "
            "expires_at) VALUES (?, ?, ?, ?, ?, ?)",
            (token_hash(token), staff_id, candidate_id, now, now, now + lifetime),
        )
    return token, Session(session_id, staff_id, candidate_id, now, now, now + lifetime)


async def find(db: Database, token: str, now: float) -> Session | None:
    """The live session behind a token, or None when it was ended or has expired."""
    row = await db.fetchone(
        f"SELECT {_COLUMNS} FROM sessions WHERE token_hash = ? AND expires_at > ?",
        (token_hash(token), now),
    )
    if row is None:
        return None
    session = Session(**dict(row))
    if now - session.last_seen >= TOUCH_SECONDS:
        async with db.transaction() as tx:
            await tx.execute("UPDATE sessions SET last_seen = ? WHERE id = ?", (now, session.id))
    return session


async def end(db: Database, token: str) -> Session | None:
    """End the session behind a token (sign out); returns what it was, if it existed."""
    async with db.transaction() as tx:
        row = await tx.fetchone(
            f"DELETE FROM sessions WHERE token_hash = ? RETURNING {_COLUMNS}",
            (token_hash(token),),
        )
    return None if row is None else Session(**dict(row))


async def end_all_of_staff(tx: Transaction, staff_id: int) -> int:
    """End every session of a staff member (inside the caller's transaction)."""
    return await tx.execute("DELETE FROM sessions WHERE staff_id = ?", (staff_id,))


async def end_all_of_candidate(tx: Transaction, candidate_id: int) -> int:
    """End every session of a candidate (inside the caller's transaction)."""
    return await tx.execute("DELETE FROM sessions WHERE candidate_id = ?", (candidate_id,))


async def count_of_staff(db: Database, staff_id: int, now: float) -> int:
    value = await db.fetchvalue(
        "SELECT COUNT(*) FROM sessions WHERE staff_id = ? AND expires_at > ?", (staff_id, now)
    )
    return int(value or 0)
