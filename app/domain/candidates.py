"""Candidates (kandidaten): a light sign-in with name, e-mail, optional phone and consent."""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.core.errors import DomainError, ValidationError
from app.domain import emails
from app.storage.db import Database, Transaction

NAME_MAX = 100
EMAIL_MAX = emails.EMAIL_MAX
PHONE_MAX = 20
_PHONE = re.compile(r"^\+?[0-9 ()-]{6,20}$")


@dataclass(frozen=True)
class Candidate:
    id: int
    name: str
    email: str
    phone: str


def check_sign_in(name: str, email: str, phone: str, consent: bool) -> tuple[str, str, str]:
    """Clean the sign-in fields or raise one error per wrong field."""
    name, phone = name.strip(), phone.strip()
    errors: dict[str, DomainError] = {}
    if not name:
        errors["name"] = DomainError("input.required", field="name")
    elif len(name) > NAME_MAX:
        errors["name"] = DomainError("input.too_long", field="name", max=NAME_MAX)
    try:
        email = emails.normalise(email, field="email")
    except DomainError as error:
        errors["email"] = error
    if phone and not _PHONE.match(phone):
        errors["phone"] = DomainError("input.phone", field="phone")
    if not consent:
        errors["consent"] = DomainError("input.consent", field="consent")
    if errors:
        raise ValidationError(errors)
    return name, email, phone


def check_phone(phone: str, *, required: bool = False) -> str:
    """A phone number as a person types it: digits, spaces, brackets, dashes, a leading +."""
    phone = phone.strip()
    if not phone and required:
        raise DomainError("input.required", field="phone")
    if phone and not _PHONE.match(phone):
        raise DomainError("input.phone", field="phone")
    return phone


async def sign_in(
    db: Database, *, name: str, email: str, phone: str, consent: bool, now: float
) -> Candidate:
    name, email, phone = check_sign_in(name, email, phone, consent)
    async with db.transaction() as tx:
        if await email_blocked(tx, email):
            raise ValidationError({"email": DomainError("candidate.blocked_email", field="email")})
        candidate_id = await tx.insert(
            "INSERT INTO candidates (name, email, phone, consent_at, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (name, email, phone, now, now),
        )
    return Candidate(candidate_id, name, email, phone)


async def get_candidate(db: Database | Transaction, candidate_id: int) -> Candidate | None:
    row = await db.fetchone(
        # An erased candidate (app/domain/privacy.py) is nobody: an old session of theirs is void.
        "SELECT id, name, email, phone FROM candidates WHERE id = ? AND erased_at IS NULL",
        (candidate_id,),
    )
    return None if row is None else Candidate(**dict(row))


async def email_blocked(db: Database | Transaction, email: str) -> bool:
    """Whether a candidate with this e-mail address (in any case) was blocked by the
    moderator: then nobody signs in with it again until they are unblocked.

    Addresses are stored in their normal form (app/domain/emails.py), so the case of the domain
    never differs; ``lower`` matches a local part typed in other capitals (ASCII only)."""
    found = await db.fetchone(
        "SELECT 1 FROM candidates WHERE lower(email) = lower(?) AND email != '' "
        "AND blocked_at IS NOT NULL AND erased_at IS NULL",
        (email.strip(),),
    )
    return found is not None
