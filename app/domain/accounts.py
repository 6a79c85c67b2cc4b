"""Staff accounts (advisors and moderators): creation, password sign-in and password change
(argon2id), deactivation."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.core import names
from app.core.errors import DomainError, ValidationError
from app.domain import emails
from app.domain.sessions import end_all_of_staff as end_all_sessions
from app.storage.db import Database, Transaction

ROLES = ("advisor", "moderator")
MIN_PASSWORD_LENGTH = 10

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified against when the e-mail is unknown, so a wrong e-mail costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password-for-timing")
# Stored for an account made by invitation until its person sets a password: no argon2 hash,
# so no password matches it (it is never handed to argon2; the dummy hash is checked instead).
NO_PASSWORD = "!invited"


@dataclass(frozen=True)
class Staff:
    id: int
    email: str
    name: str
    role: str
    booth_id: int | None
    personal_link: str
    status: str
    status_since: float
    active: bool


_COLUMNS = "id, email, name, role, booth_id, personal_link, status, status_since, active"


def _staff(row: object) -> Staff:
    r = dict(row)  # type: ignore[call-overload]
    r["active"] = bool(r["active"])
    return Staff(**r)


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


async def create_staff(
    tx: Transaction,
    *,
    email: str,
    name: str,
    role: str,
    password: str,
    booth_id: int | None = None,
    personal_link: str = "",
) -> int:
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")
    if role == "advisor" and booth_id is None:
        raise ValueError("an advisor belongs to a booth: give its booth")
    if role == "advisor":
        exists = await tx.fetchone("SELECT 1 FROM booths WHERE id = ?", (booth_id,))
        if exists is None:
            raise ValueError(f"there is no booth with id {booth_id}")
    try:
        address = emails.normalise(email)
    except DomainError:
        # The command line and the demo call this: they report a ValueError to the operator.
        raise ValueError(f"not a valid e-mail address: {email.strip()!r}") from None
    return await tx.insert(
        "INSERT INTO staff (email, name, role, password_hash, booth_id, personal_link) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (address, name.strip(), role, hash_password(password), booth_id, personal_link),
    )


async def get_staff(db: Database | Transaction, staff_id: int) -> Staff | None:
    row = await db.fetchone(f"SELECT {_COLUMNS} FROM staff WHERE id = ?", (staff_id,))
    return None if row is None else _staff(row)


def _by_name(staff: Iterable[Staff]) -> list[Staff]:
    return sorted(staff, key=lambda s: (names.sort_key(s.name), s.id))


async def staff_of_booths(db: Database) -> list[Staff]:
    rows = await db.fetchall(f"SELECT {_COLUMNS} FROM staff WHERE role = 'advisor' AND active = 1")
    return _by_name(_staff(r) for r in rows)


async def _verified(stored: str, password: str) -> bool:
    """Check a password off the event loop: argon2 takes a noticeable fraction of a second
    by design, and every live connection of this process would wait for it."""

    def verify() -> bool:
        if not stored.startswith("$argon2"):
            # No password set (an open invitation): as slow as a wrong password, never true.
            with contextlib.suppress(VerificationError, InvalidHashError):
                _hasher.verify(_DUMMY_HASH, password)
            return False
        try:
            return _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)


async def authenticate(db: Database, email: str, password: str) -> Staff:
    """The active account with this e-mail address and password.

    The address is looked up in its normal form (app/domain/emails.py; ``staff.email`` is
    ``COLLATE NOCASE``). Text that is no address at all is looked up as typed, so an account
    made before addresses were checked still signs in; if that fails too, the answer is
    ``input.email`` rather than ``auth.bad_login`` — after the same password check, so it
    says nothing about whether such an account exists, only that the text is no address.
    """
    malformed: DomainError | None = None
    try:
        address = emails.normalise(email)
    except DomainError as error:
        address, malformed = email.strip(), error
    row = await db.fetchone(
        f"SELECT {_COLUMNS}, password_hash FROM staff WHERE email = ? AND active = 1",
        (address,),
    )
    stored = _DUMMY_HASH if row is None else row["password_hash"]
    if not await _verified(stored, password) or row is None:
        if malformed is not None:
            raise ValidationError({"email": malformed})
        raise DomainError("auth.bad_login")
    data = dict(row)
    data.pop("password_hash")
    return _staff(data)


async def change_password(
    db: Database, staff_id: int, *, current: str, new: str, repeat: str
) -> int:
    """Check the current password, set the new one and end every session of the account
    (this browser's too). Returns how many sessions ended. Changes nothing on an error."""
    errors: dict[str, DomainError] = {}
    row = await db.fetchone(
        "SELECT password_hash FROM staff WHERE id = ? AND active = 1", (staff_id,)
    )
    stored = _DUMMY_HASH if row is None else row["password_hash"]
    if not await _verified(stored, current) or row is None:
        errors["current"] = DomainError("auth.wrong_password", field="current")
    errors |= new_password_errors(new, repeat)
    if errors:
        raise ValidationError(errors)
    new_hash = await asyncio.to_thread(hash_password, new)
    async with db.transaction() as tx:
        changed = await tx.execute(
            "UPDATE staff SET password_hash = ? WHERE id = ? AND password_hash = ?",
            (new_hash, staff_id, stored),
        )
        if changed != 1:
            # The password changed in between (another tab): nothing is changed here.
            raise ValidationError({"current": DomainError("auth.wrong_password", field="current")})
        return await end_all_sessions(tx, staff_id)


async def deactivate_staff(tx: Transaction, staff_ids: Iterable[int], now: float) -> dict[int, int]:
    """Deactivate these accounts and sign them out (inside the caller's transaction).

    A deactivated account is offline from ``now`` with no wrap-up running, and every one of its
    sessions ends, so its pages and connections lose access at once. Returns how many sessions
    ended, by account.
    """
    ended: dict[int, int] = {}
    for staff_id in staff_ids:
        await tx.execute(
            "UPDATE staff SET active = 0, status = 'offline', status_since = ?, "
            "wrap_up_until = NULL WHERE id = ?",
            (now, staff_id),
        )
        ended[staff_id] = await end_all_sessions(tx, staff_id)
    return ended


async def active_staff_count(db: Database) -> int:
    """How many accounts can sign in, advisors and moderators together."""
    return int(await db.fetchvalue("SELECT COUNT(*) FROM staff WHERE active = 1"))


async def advisors_per_booth(db: Database) -> dict[int, int]:
    """The number of active advisors of each booth that has any."""
    rows = await db.fetchall(
        "SELECT booth_id, COUNT(*) FROM staff "
        "WHERE role = 'advisor' AND active = 1 AND booth_id IS NOT NULL GROUP BY booth_id"
    )
    return {int(row[0]): int(row[1]) for row in rows}


async def advisors_of_booth(db: Database, booth_id: int) -> list[Staff]:
    """The active advisors of one booth in Dutch name order: those its schedule can name."""
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM staff WHERE booth_id = ? AND role = 'advisor' AND active = 1",
        (booth_id,),
    )
    return _by_name(_staff(r) for r in rows)


def new_password_errors(new: str, repeat: str) -> dict[str, DomainError]:
    """What is wrong with a new password typed twice (long enough, the same both times), by
    field; empty when nothing is."""
    if len(new) < MIN_PASSWORD_LENGTH:
        return {"new": DomainError("input.password_short", field="new", min=MIN_PASSWORD_LENGTH)}
    if new != repeat:
        return {"repeat": DomainError("input.password_mismatch", field="repeat")}
    return {}
