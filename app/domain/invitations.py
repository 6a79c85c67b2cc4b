"""Staff by invitation: the moderator makes an account (advisor or moderator) without a
password and gets a link for it; the invited person opens the link and sets their own
password. The moderator assigns advisors to booths, deactivates and reactivates accounts.

The link carries a random token; only its SHA-256 is stored. A link expires after
``INVITATION_DAYS`` days and works once; a new link for the same account ends the older
ones. A new link for an account that has a password works as a reset: the password set
through it replaces the old one and ends every session of the account.

Deactivating an account, or moving an advisor to another booth, ends every session of the
account (the caller closes its sockets); a moved advisor logs in again at the new booth. An advisor
in a conversation is neither deactivated nor moved to another booth until the conversation
has ended. Requests that wait for that advisor in particular stay in line at the booth,
now for whoever is free first.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from app.core import names
from app.core.errors import DomainError, ValidationError
from app.domain import audit, emails, sessions
from app.domain.accounts import (
    NO_PASSWORD,
    ROLES,
    deactivate_staff,
    hash_password,
    new_password_errors,
)
from app.domain.event_setup import Fields
from app.storage.db import Database, Transaction

INVITATION_DAYS = 7
TOKEN_BYTES = 32
NAME_MAX = 100


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class StaffRow:
    id: int
    name: str
    email: str
    role: str
    booth_id: int | None
    booth_name: str
    active: bool
    status: str
    has_password: bool
    pending_until: float | None  # an open invitation link, valid until then


async def list_staff(db: Database, now: float) -> list[StaffRow]:
    rows = await db.fetchall(
        "SELECT s.id, s.name, s.email, s.role, s.booth_id, COALESCE(b.name, '') AS booth_name, "
        "s.active, s.status, s.password_hash, "
        "(SELECT MAX(i.expires_at) FROM invitations i WHERE i.staff_id = s.id "
        " AND i.used_at IS NULL AND i.expires_at > ?) AS pending_until "
        "FROM staff s LEFT JOIN booths b ON b.id = s.booth_id "
        "ORDER BY s.id",
        (now,),
    )
    # Moderators first, active accounts before deactivated ones, then in Dutch name order.
    rows = sorted(names.sorted_by_name(rows), key=lambda r: (r["role"], r["active"]), reverse=True)
    return [
        StaffRow(
            id=r["id"],
            name=r["name"],
            email=r["email"],
            role=r["role"],
            booth_id=r["booth_id"],
            booth_name=r["booth_name"],
            active=bool(r["active"]),
            status=r["status"],
            has_password=str(r["password_hash"]).startswith("$argon2"),
            pending_until=r["pending_until"],
        )
        for r in rows
    ]


async def _live_booth(tx: Transaction, booth_id: object) -> int | None:
    if not isinstance(booth_id, str) or not booth_id.isdigit() or len(booth_id) > 15:
        return None
    row = await tx.fetchone(
        "SELECT id FROM booths WHERE id = ? AND removed_at IS NULL", (int(booth_id),)
    )
    return None if row is None else int(row["id"])


async def _new_link(tx: Transaction, staff_id: int, actor: int | None, now: float) -> str:
    """A new invitation token for the account; older open links of it stop working."""
    await tx.execute(
        "UPDATE invitations SET expires_at = ? WHERE staff_id = ? AND used_at IS NULL "
        "AND expires_at > ?",
        (now, staff_id, now),
    )
    token = secrets.token_urlsafe(TOKEN_BYTES)
    await tx.insert(
        "INSERT INTO invitations (token_hash, staff_id, created_by, created_at, expires_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (token_hash(token), staff_id, actor, now, now + INVITATION_DAYS * 86400),
    )
    return token


async def invite(
    db: Database, data: Mapping[str, str], *, actor: int | None, now: float
) -> tuple[int, str]:
    """A new account without a password, and the token of its invitation link."""
    f = Fields(data)
    name = f.text("name", max_len=NAME_MAX)
    email = f.raw("email")
    try:
        email = emails.normalise(email, field="email")
    except DomainError as error:
        f.errors.setdefault("email", error)
    role = f.choice("role", ROLES)
    booth_text = f.raw("booth_id")
    f.done()
    async with db.transaction() as tx:
        booth_id = await _live_booth(tx, booth_text) if role == "advisor" else None
        if role == "advisor" and booth_id is None:
            code = "input.required" if not booth_text else "booth.not_found"
            raise ValidationError({"booth_id": DomainError(code, field="booth_id")})
        # staff.email is COLLATE NOCASE: a local part in other capitals is the same account.
        taken = await tx.fetchone("SELECT 1 FROM staff WHERE email = ?", (email,))
        if taken is not None:
            raise ValidationError({"email": DomainError("staff.email_taken", field="email")})
        staff_id = await tx.insert(
            "INSERT INTO staff (email, name, role, password_hash, booth_id, status_since) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (email, name, role, NO_PASSWORD, booth_id, now),
        )
        token = await _new_link(tx, staff_id, actor, now)
        await audit.record(
            tx,
            staff_id=actor,
            action="staff.invite",
            subject=f"staff:{staff_id}",
            detail=audit.Detail("invited", {"role": role, "booth": booth_id}),
            at=now,
        )
    return staff_id, token


async def _target(tx: Transaction, staff_id: int) -> Mapping[str, object]:
    row = await tx.fetchone(
        "SELECT id, role, booth_id, active, status FROM staff WHERE id = ?", (staff_id,)
    )
    if row is None:
        raise DomainError("staff.not_found")
    return dict(row)


async def new_invitation(db: Database, staff_id: int, *, actor: int | None, now: float) -> str:
    async with db.transaction() as tx:
        target = await _target(tx, staff_id)
        token = await _new_link(tx, int(str(target["id"])), actor, now)
        await audit.record(
            tx, staff_id=actor, action="staff.new_link", subject=f"staff:{staff_id}", at=now
        )
    return token


async def _in_conversation(tx: Transaction, staff_id: int) -> bool:
    row = await tx.fetchone(
        "SELECT 1 FROM conversations WHERE advisor_id = ? AND ended_at IS NULL", (staff_id,)
    )
    return row is not None


async def _release_addressed(tx: Transaction, staff_id: int) -> int:
    """Requests waiting for this advisor keep their place, for the first free one now."""
    return await tx.execute(
        "UPDATE requests SET advisor_id = NULL WHERE advisor_id = ? AND status = 'waiting'",
        (staff_id,),
    )


async def deactivate(db: Database, staff_id: int, *, actor: int | None, now: float) -> int | None:
    """Deactivate an account and end its sessions; returns its booth (advisors)."""
    if staff_id == actor:
        raise DomainError("staff.self")
    async with db.transaction() as tx:
        target = await _target(tx, staff_id)
        if await _in_conversation(tx, staff_id):
            raise DomainError("staff.in_conversation")
        released = await _release_addressed(tx, staff_id)
        await deactivate_staff(tx, [staff_id], now)
        await audit.record(
            tx,
            staff_id=actor,
            action="staff.deactivate",
            subject=f"staff:{staff_id}",
            detail=audit.Detail("deactivated", {"released": released}) if released else None,
            at=now,
        )
    booth = target["booth_id"]
    return int(str(booth)) if booth is not None else None


async def reactivate(db: Database, staff_id: int, *, actor: int | None, now: float) -> int | None:
    """Reactivate an account; an advisor's booth must still be in the hall."""
    async with db.transaction() as tx:
        target = await _target(tx, staff_id)
        booth = target["booth_id"]
        if target["role"] == "advisor" and await _live_booth(tx, str(booth)) is None:
            raise DomainError("booth.not_found")
        await tx.execute(
            "UPDATE staff SET active = 1, status = 'offline', status_since = ? WHERE id = ?",
            (now, staff_id),
        )
        await audit.record(
            tx, staff_id=actor, action="staff.reactivate", subject=f"staff:{staff_id}", at=now
        )
    return int(str(booth)) if booth is not None else None


async def assign(
    db: Database, staff_id: int, booth_text: str, *, actor: int | None, now: float
) -> tuple[int, int]:
    """Move an advisor to another booth and end their sessions; returns (old, new booth)."""
    async with db.transaction() as tx:
        target = await _target(tx, staff_id)
        if target["role"] != "advisor":
            raise DomainError("staff.not_advisor")
        booth_id = await _live_booth(tx, booth_text)
        if booth_id is None:
            raise ValidationError({"booth_id": DomainError("booth.not_found", field="booth_id")})
        old = int(str(target["booth_id"]))
        if booth_id == old:
            return old, booth_id
        if await _in_conversation(tx, staff_id):
            raise DomainError("staff.in_conversation")
        released = await _release_addressed(tx, staff_id)
        await tx.execute("UPDATE staff SET booth_id = ? WHERE id = ?", (booth_id, staff_id))
        # Their pages and connections belong to the old booth: they log in again at the new one.
        await sessions.end_all_of_staff(tx, staff_id)
        await audit.record(
            tx,
            staff_id=actor,
            action="staff.assign",
            subject=f"staff:{staff_id}",
            detail=audit.Detail(
                "assigned", {"from_booth": old, "to_booth": booth_id, "released": released}
            ),
            at=now,
        )
    return old, booth_id


# -- the invited person ---------------------------------------------------------------------


@dataclass(frozen=True)
class Invitation:
    id: int
    staff_id: int
    name: str
    email: str
    role: str


async def find(db: Database | Transaction, token: str, now: float) -> Invitation:
    """The invitation behind a token, or the reason it does not work (any more)."""
    if not token or len(token) > 200:
        raise DomainError("invitation.not_found")
    row = await db.fetchone(
        "SELECT i.id, i.staff_id, i.expires_at, i.used_at, s.name, s.email, s.role, s.active "
        "FROM invitations i JOIN staff s ON s.id = i.staff_id WHERE i.token_hash = ?",
        (token_hash(token),),
    )
    if row is None or not row["active"]:
        raise DomainError("invitation.not_found")
    if row["used_at"] is not None:
        raise DomainError("invitation.used")
    if row["expires_at"] <= now:
        raise DomainError("invitation.expired")
    return Invitation(row["id"], row["staff_id"], row["name"], row["email"], row["role"])


async def accept(db: Database, token: str, *, new: str, repeat: str, now: float) -> Invitation:
    """Set the invited person's password (the rules of a password change) and use the link
    up; every earlier session of the account ends."""
    await find(db, token, now)
    errors = new_password_errors(new, repeat)
    if errors:
        raise ValidationError(errors)
    new_hash = await asyncio.to_thread(hash_password, new)
    async with db.transaction() as tx:
        invitation = await find(tx, token, now)  # again: used in the meantime, by another tab
        await tx.execute(
            "UPDATE invitations SET used_at = ? WHERE id = ? AND used_at IS NULL",
            (now, invitation.id),
        )
        await tx.execute(
            "UPDATE staff SET password_hash = ? WHERE id = ?", (new_hash, invitation.staff_id)
        )
        await sessions.end_all_of_staff(tx, invitation.staff_id)
        await audit.record(
            tx,
            staff_id=invitation.staff_id,
            action="staff.invitation_used",
            subject=f"staff:{invitation.staff_id}",
            at=now,
        )
    return invitation
