"""Throttles kept in the database, so every worker process sees the same counts: failed
staff logins per account and per address, and new requests per candidate.

A login is judged the same way whether the e-mail address belongs to an account or not, so
the throttle never tells which accounts exist. Failures are stored under a keyed hash of the
address typed and of the client's address; rows older than the window are cleared.
"""

from __future__ import annotations

import hashlib
import hmac
import math

from app.db import Database
from app.errors import DomainError

LOGIN_WINDOW_SECONDS = 60 * 60
REQUEST_WINDOW_SECONDS = 60


def key_of(secret: str, kind: str, value: str) -> str:
    """A keyed hash that names an account or address without storing it."""
    message = f"{kind}:{value.strip().lower()}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


async def login_allowed(
    db: Database,
    *,
    account_key: str,
    ip_key: str,
    now: float,
    per_account: int,
    per_ip: int,
    window: float = LOGIN_WINDOW_SECONDS,
) -> bool:
    """False once the account or the address had its share of failures in the window."""
    since = now - window
    account_failures = await db.fetchvalue(
        "SELECT COUNT(*) FROM login_failures WHERE account_key = ? AND at > ?",
        (account_key, since),
    )
    if int(account_failures or 0) >= per_account:
        return False
    ip_failures = await db.fetchvalue(
        "SELECT COUNT(*) FROM login_failures WHERE ip_key = ? AND at > ?", (ip_key, since)
    )
    return int(ip_failures or 0) < per_ip


async def record_login_failure(
    db: Database,
    *,
    account_key: str,
    ip_key: str,
    now: float,
    window: float = LOGIN_WINDOW_SECONDS,
) -> None:
    async with db.transaction() as tx:
        await tx.execute("DELETE FROM login_failures WHERE at <= ?", (now - window,))
        await tx.execute(
            "INSERT INTO login_failures (account_key, ip_key, at) VALUES (?, ?, ?)",
            (account_key, ip_key, now),
        )


async def login_failures(db: Database, account_key: str, now: float) -> int:
    value = await db.fetchvalue(
        "SELECT COUNT(*) FROM login_failures WHERE account_key = ? AND at > ?",
        (account_key, now - LOGIN_WINDOW_SECONDS),
    )
    return int(value or 0)


async def check_request_rate(
    db: Database,
    *,
    candidate_id: int,
    client_key: object,
    now: float,
    limit: int,
    window: float = REQUEST_WINDOW_SECONDS,
) -> None:
    """Raise ``rate.limited`` when the candidate made ``limit`` requests in the window.

    Sending a form again with the key of a request already made is never refused: it makes
    nothing new and gets that request back.
    """
    if isinstance(client_key, str) and client_key:
        known = await db.fetchvalue(
            "SELECT 1 FROM requests WHERE candidate_id = ? AND client_key = ?",
            (candidate_id, client_key),
        )
        if known:
            return
    rows = await db.fetchall(
        "SELECT created_at FROM requests WHERE candidate_id = ? AND created_at > ? "
        "ORDER BY created_at DESC LIMIT ?",
        (candidate_id, now - window, limit),
    )
    if len(rows) >= limit:
        oldest = min(float(row["created_at"]) for row in rows)
        seconds = max(1, math.ceil(oldest + window - now))
        raise DomainError("rate.limited", seconds=seconds)
