"""The outbox: every e-mail the hall sends, written in the transaction of the change it tells
about (the outbox pattern: a change that did not commit sends nothing).

A message is a row in ``outbox``: kind, address, subject, plain-text body and at most one
attachment (a calendar file). A background task (``app.domain.mail_delivery``) sends pending
messages over SMTP when a server is configured; without one they stay here, and the
moderator reads them on the outbox page. The To header carries the recipient's name as well
(``recipient_name``), looked up when the message is sent, so an erased candidate's name is not
kept here. A message is pending while ``sent_at`` is NULL;
``next_attempt_at`` says when it is tried (again), NULL when it is not tried any more.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from app.storage.db import Database, Transaction

# Kinds of message, as stored.
KINDS = ("booked", "changed", "cancelled", "reschedule_requested", "reminder")
# An address is at most this long (RFC 5321 path limit); longer ones are refused.
MAX_ADDRESS_LENGTH = 254
MAX_SUBJECT_LENGTH = 300

# Called (on the event loop, soon after ``enqueue``) so a delivery task in this process looks
# at the outbox without waiting for its next round.
_wakers: set[Callable[[], None]] = set()


def add_waker(wake: Callable[[], None]) -> None:
    _wakers.add(wake)


def remove_waker(wake: Callable[[], None]) -> None:
    _wakers.discard(wake)


def _wake_soon() -> None:
    with contextlib.suppress(RuntimeError):
        loop = asyncio.get_running_loop()
        for wake in list(_wakers):
            loop.call_soon(wake)


@dataclass(frozen=True)
class Attachment:
    name: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Message:
    id: int
    kind: str
    to_address: str
    subject: str
    body: str
    attachment_name: str | None
    attachment_type: str | None
    candidate_id: int | None
    follow_up_id: int | None
    created_at: float
    sent_at: float | None
    attempts: int
    last_error: str
    next_attempt_at: float | None

    @property
    def state(self) -> str:
        """'sent', 'pending' (not tried yet or to be tried again) or 'failed' (given up)."""
        if self.sent_at is not None:
            return "sent"
        if self.next_attempt_at is None:
            return "failed"
        return "pending"


def valid_address(address: str) -> bool:
    """A plain address: one @, something on both sides, no spaces or header breaks."""
    if not address or len(address) > MAX_ADDRESS_LENGTH:
        return False
    if any(c.isspace() or c in '<>,;"' for c in address):
        return False
    if address.count("@") != 1:
        return False
    local, domain = address.split("@")
    return bool(local and "." in domain.strip(".") and ".." not in domain)


def display_name(name: str) -> str:
    """A person's name as it may stand in a header: whitespace (a line break too) as single
    spaces and without other control characters; the header encodes the rest (RFC 2047)."""
    kept = "".join(ch for ch in name if ch.isprintable() or ch.isspace())
    return " ".join(kept.split())


async def recipient_name(db: Database, message: Message) -> str:
    """The name of the person a message goes to, for its To header: the candidate it is
    about when it goes to their address, else the staff member with that address; empty
    when the hall knows no name (or the candidate was erased)."""
    name = None
    if message.candidate_id is not None:
        name = await db.fetchvalue(
            "SELECT name FROM candidates WHERE id = ? AND email = ? COLLATE NOCASE "
            "AND erased_at IS NULL",
            (message.candidate_id, message.to_address),
        )
    if not name:
        name = await db.fetchvalue("SELECT name FROM staff WHERE email = ?", (message.to_address,))
    return display_name(str(name)) if name else ""


async def enqueue(
    tx: Transaction,
    *,
    kind: str,
    to_address: str,
    subject: str,
    body: str,
    now: float,
    attachment: Attachment | None = None,
    candidate_id: int | None = None,
    follow_up_id: int | None = None,
) -> int:
    """Write one message inside the caller's transaction; it is sent only once that commits.
    Returns the message's id. An invalid address or kind raises ValueError."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of mail: {kind!r}")
    if not valid_address(to_address):
        raise ValueError("not a valid e-mail address")
    subject = " ".join(subject.split())[:MAX_SUBJECT_LENGTH]
    message_id = await tx.insert(
        "INSERT INTO outbox (kind, to_address, subject, body, attachment_name, "
        "attachment_type, attachment, candidate_id, follow_up_id, created_at, "
        "next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            kind,
            to_address,
            subject,
            body,
            attachment.name if attachment else None,
            attachment.content_type if attachment else None,
            attachment.data if attachment else None,
            candidate_id,
            follow_up_id,
            now,
            now,
        ),
    )
    # The delivery task takes messages in a write transaction of its own, which runs only
    # after this one has ended: it sees this message if, and only if, it was committed.
    _wake_soon()
    return message_id


_COLUMNS = (
    "id, kind, to_address, subject, body, attachment_name, attachment_type, candidate_id, "
    "follow_up_id, created_at, sent_at, attempts, last_error, next_attempt_at"
)


def _message(row: object) -> Message:
    return Message(**dict(row))  # type: ignore[call-overload]


async def messages(db: Database | Transaction, limit: int = 200) -> list[Message]:
    """The latest messages, newest first."""
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM outbox ORDER BY created_at DESC, id DESC LIMIT ?", (limit,)
    )
    return [_message(r) for r in rows]


async def message(db: Database | Transaction, message_id: int) -> Message | None:
    row = await db.fetchone(f"SELECT {_COLUMNS} FROM outbox WHERE id = ?", (message_id,))
    return None if row is None else _message(row)


async def attachment(db: Database | Transaction, message_id: int) -> Attachment | None:
    row = await db.fetchone(
        "SELECT attachment_name, attachment_type, attachment FROM outbox "
        "WHERE id = ? AND attachment IS NOT NULL",
        (message_id,),
    )
    if row is None:
        return None
    return Attachment(row["attachment_name"], row["attachment_type"], bytes(row["attachment"]))


async def for_candidate(db: Database | Transaction, candidate_id: int) -> list[Message]:
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM outbox WHERE candidate_id = ? ORDER BY created_at, id",
        (candidate_id,),
    )
    return [_message(r) for r in rows]


async def counts(db: Database | Transaction) -> dict[str, int]:
    row = await db.fetchone(
        "SELECT COUNT(*) AS total, "
        "COUNT(sent_at) AS sent, "
        "COUNT(CASE WHEN sent_at IS NULL AND next_attempt_at IS NOT NULL THEN 1 END) AS pending, "
        "COUNT(CASE WHEN sent_at IS NULL AND next_attempt_at IS NULL THEN 1 END) AS failed "
        "FROM outbox"
    )
    assert row is not None
    return {k: int(row[k]) for k in ("total", "sent", "pending", "failed")}
