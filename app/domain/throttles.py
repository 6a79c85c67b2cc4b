"""Throttles kept in the database, so every worker process sees the same counts: failed
staff log-ins, and new requests per candidate.

Log-ins are slowed down, never locked. A lock on an account after so many failures would
let anyone who knows an advisor's e-mail address keep them out of the hall during the event
by typing wrong passwords. Instead:

- Failures are counted per account *and client*: the client's address, or a known device
  (below), over a day, until the right password from that client. The first ``free``
  failures cost nothing; after that each further try from that client for that account
  waits 2^n seconds after the last failure, n being the failures so far (32 s after five,
  then 64, 128 … up to 15 minutes). A day, not an hour: at a quarter of an hour apart,
  failures would leave an hour's window as fast as they come and earn free tries again. A
  guesser at one address gets about four tries an hour; the advisor, elsewhere, is not
  slowed at all.
- Per address over every account there is a plain limit (``per_ip`` an hour), against one
  address guessing at many accounts.
- A browser that signed in to an account before is a *known device* for it: a signed
  cookie (``remember_device``) names a random device id, bound to that account by an HMAC
  with the secret key. From a known device the account's failures from addresses do not
  count, nor the per-address limit: only that device's own failures do. So the right
  password from a known device works even while the account is under attack, from
  anywhere, unless that very device has been guessing. The cookie proves nothing by itself:
  the password is checked as always.

Each try that is let in is recorded as a failure before the password is checked, in the
same transaction as the check of the counts (``begin_login``), and the client's failures
for the account are cleared when the password was right (``login_succeeded``): tries that
arrive together, in one worker or several, cannot all slip through one gap.

A log-in is judged the same way whether the e-mail address belongs to an account or not, so
the throttle never tells which accounts exist. Failures are stored under keyed hashes of the
address typed and of the client (``ip_key``: its address, or its device), never the values
themselves; rows older than the window are cleared.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass

from app.core.errors import DomainError
from app.storage.db import Database

LOGIN_WINDOW_SECONDS = 24 * 60 * 60
LOGIN_IP_WINDOW_SECONDS = 60 * 60
LOGIN_WAIT_CAP_SECONDS = 15 * 60
# A wait up to this long is said in seconds, a longer one in minutes.
WAIT_IN_SECONDS_UP_TO = 120
REQUEST_WINDOW_SECONDS = 60
# Known devices one browser remembers (a shared laptop at a booth serves a few advisors).
DEVICES_KEPT = 5
_DEVICE_ID_LENGTH = 32
_HEX = frozenset("0123456789abcdef")


def key_of(secret: str, kind: str, value: str) -> str:
    """A keyed hash that names an account, address or device without storing it."""
    message = f"{kind}:{value.strip().lower()}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def login_wait(failures: int, free: int, cap: float = LOGIN_WAIT_CAP_SECONDS) -> float:
    """Seconds after the last failure before the next try: none for the first ``free``
    failures, then 2^failures, up to ``cap``."""
    if failures < free:
        return 0.0
    return min(cap, 2.0 ** min(failures, 30))


@dataclass(frozen=True)
class LoginTry:
    """A log-in try of an account by a client, let in (``row``: its failure, recorded in
    advance) or refused for ``retry_after`` more seconds."""

    account_key: str
    client_key: str
    row: int | None
    retry_after: int = 0

    @property
    def allowed(self) -> bool:
        return self.row is not None

    def refusal(self) -> DomainError:
        """What the visitor is told: when to try again."""
        if self.retry_after <= WAIT_IN_SECONDS_UP_TO:
            return DomainError("auth.login_wait_seconds", seconds=self.retry_after)
        return DomainError("auth.login_wait_minutes", minutes=math.ceil(self.retry_after / 60))


async def begin_login(
    db: Database,
    *,
    account_key: str,
    client_key: str,
    ip_key: str | None,
    now: float,
    free: int,
    per_ip: int,
    window: float = LOGIN_WINDOW_SECONDS,
    ip_window: float = LOGIN_IP_WINDOW_SECONDS,
) -> LoginTry:
    """Let a log-in try in, recording it as a failure until ``login_succeeded``; or refuse it
    while its client must wait for this account (``client_key``: the address's key, or the
    known device's), or while the address (``ip_key``; None for a known device) has had
    ``per_ip`` failures in ``ip_window``."""
    since = now - window
    async with db.transaction(moves_revision=False) as tx:
        forgotten = now - max(window, ip_window)
        await tx.execute("DELETE FROM login_failures WHERE at <= ?", (forgotten,))
        mine = await tx.fetchone(
            "SELECT COUNT(*) AS failures, MAX(at) AS last FROM login_failures "
            "WHERE account_key = ? AND ip_key = ? AND at > ?",
            (account_key, client_key, since),
        )
        until = 0.0
        if mine is not None and mine["failures"]:
            until = float(mine["last"]) + login_wait(int(mine["failures"]), free)
        if ip_key is not None:
            # The address is under its limit again once this failure leaves the window.
            limiting = await tx.fetchone(
                "SELECT at FROM login_failures WHERE ip_key = ? AND at > ? "
                "ORDER BY at DESC LIMIT 1 OFFSET ?",
                (ip_key, now - ip_window, per_ip - 1),
            )
            if limiting is not None:
                until = max(until, float(limiting["at"]) + ip_window)
        if until > now:
            return LoginTry(account_key, client_key, None, max(1, math.ceil(until - now)))
        row = await tx.insert(
            "INSERT INTO login_failures (account_key, ip_key, at) VALUES (?, ?, ?)",
            (account_key, client_key, now),
        )
    return LoginTry(account_key, client_key, row)


async def login_succeeded(db: Database, attempt: LoginTry) -> None:
    """The password was right: the try is no failure, and the client starts afresh with
    this account."""
    if attempt.row is None:
        return
    async with db.transaction(moves_revision=False) as tx:
        await tx.execute(
            "DELETE FROM login_failures WHERE account_key = ? AND ip_key = ?",
            (attempt.account_key, attempt.client_key),
        )


def _device_mac(secret: str, account_key: str, device_id: str) -> str:
    message = f"device:{account_key}:{device_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:_DEVICE_ID_LENGTH]


def _entries(cookie: str | None) -> list[str]:
    """The well-formed entries of a device cookie: a device id and its MAC, in hex."""
    found = []
    for entry in (cookie or "").split(".")[:DEVICES_KEPT]:
        if len(entry) == 2 * _DEVICE_ID_LENGTH and set(entry) <= _HEX:
            found.append(entry)
    return found


def known_device(secret: str, account_key: str, cookie: str | None) -> str | None:
    """The id of the device this cookie names for this account, or None."""
    for entry in _entries(cookie):
        device_id, mac = entry[:_DEVICE_ID_LENGTH], entry[_DEVICE_ID_LENGTH:]
        if hmac.compare_digest(mac.encode(), _device_mac(secret, account_key, device_id).encode()):
            return device_id
    return None


def remember_device(secret: str, account_key: str, cookie: str | None) -> str:
    """The device cookie after a successful log-in to this account: this browser is (still)
    a known device for it, first, with the other accounts it knows after it."""
    device_id = known_device(secret, account_key, cookie) or secrets.token_hex(
        _DEVICE_ID_LENGTH // 2
    )
    entry = device_id + _device_mac(secret, account_key, device_id)
    others = [other for other in _entries(cookie) if other != entry]
    return ".".join([entry, *others][:DEVICES_KEPT])


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
