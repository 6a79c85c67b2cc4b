"""The end of the ten minutes: an advisor extends a running conversation by a few minutes.

From the two-minute warning on, the advisor's console offers two one-click choices: extend
the conversation, or book a follow-up. This module holds the rules of the extension:

- Only the conversation's own advisor extends it, only while it runs, and only from the
  warning on: once ``warning_seconds`` or less are left, or the end has passed (a
  conversation in overtime may still be extended). Earlier, the advisor cannot yet know
  whether the time will be short, and the people waiting should not lose minutes for it.
- One extension moves ``ends_at`` by the event's ``extension_minutes`` (counted from the
  end time as it stands, so overtime already used counts against the extension). In all one
  conversation gains at most ``extension_max_minutes``; the last step is shortened to fit,
  and beyond it the extension is refused. A maximum of 0 turns extending off.
- Extending is allowed when nobody is waiting at the booth whom this advisor could take (a
  request for anyone at the booth, or for this advisor). When people wait, it is allowed
  only when the moderator permits it: for the whole event (``extension_when_waiting``) or
  for this one conversation (``allow``, written in the audit log).
- An extension resets the warning and the time up, so both are told again before the new
  end (the deadlines task finds them through ``ends_at``, also after a restart).

Every refusal changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.core.errors import DomainError
from app.domain import audit
from app.domain.event import Event
from app.domain.event_setup import Fields
from app.storage.db import Database, Transaction

EXTENSION_MINUTES = (1, 15)
EXTENSION_MAX_MINUTES = (0, 30)

# Where the advisor books a follow-up of a conversation.
FOLLOW_UP_PATH = "/adviseur/vervolgafspraak"


@dataclass(frozen=True)
class Settings:
    """The event's extension settings."""

    extension_minutes: int = 5
    extension_max_minutes: int = 10
    extension_when_waiting: bool = False


@dataclass(frozen=True)
class Extended:
    """What an extension changed, for telling the people concerned after the commit."""

    conversation_id: int
    booth_id: int
    advisor_id: int
    candidate_id: int
    ends_at: float
    added_seconds: int
    extended_seconds: int


@dataclass(frozen=True)
class Allowed:
    conversation_id: int
    booth_id: int
    advisor_id: int


async def load_settings(db: Database | Transaction) -> Settings:
    row = await db.fetchone(
        "SELECT extension_minutes, extension_max_minutes, extension_when_waiting "
        "FROM event WHERE id = 1"
    )
    if row is None:
        return Settings()
    return Settings(
        int(row["extension_minutes"]),
        int(row["extension_max_minutes"]),
        bool(row["extension_when_waiting"]),
    )


def check_settings(data: Mapping[str, str]) -> Settings:
    """The settings form: bad input raises a ``ValidationError`` naming each wrong field."""
    f = Fields(data)
    minutes = f.integer("extension_minutes", *EXTENSION_MINUTES)
    most = f.integer("extension_max_minutes", *EXTENSION_MAX_MINUTES)
    when_waiting = f.raw("extension_when_waiting")
    if when_waiting not in ("", "yes"):
        f.fail("extension_when_waiting", "input.bad_choice")
    f.done()
    return Settings(minutes, most, when_waiting == "yes")


async def update_settings(
    db: Database, data: Mapping[str, str], *, staff_id: int | None, now: float
) -> list[str]:
    """Save the extension settings with their audit entry; returns what changed."""
    new = check_settings(data)
    async with db.transaction() as tx:
        old = await load_settings(tx)
        changed = [k for k in new.__dataclass_fields__ if getattr(new, k) != getattr(old, k)]
        await tx.execute(
            "UPDATE event SET extension_minutes = ?, extension_max_minutes = ?, "
            "extension_when_waiting = ? WHERE id = 1",
            (new.extension_minutes, new.extension_max_minutes, int(new.extension_when_waiting)),
        )
        await audit.record(
            tx,
            staff_id=staff_id,
            action="event.extension",
            subject="event",
            detail=audit.Detail("settings_changed", {"fields": changed}),
            at=now,
        )
    return changed


async def waiting_for(db: Database | Transaction, booth_id: int, advisor_id: int) -> int:
    """How many waiting requests at the booth this advisor could take."""
    row = await db.fetchone(
        "SELECT COUNT(*) AS n FROM requests WHERE booth_id = ? AND status = 'waiting' "
        "AND (advisor_id IS NULL OR advisor_id = ?)",
        (booth_id, advisor_id),
    )
    return int(row["n"]) if row else 0


def step_seconds(settings: Settings, extended_seconds: int) -> int:
    """How much the next extension adds: one step, cut to what the maximum leaves."""
    left = settings.extension_max_minutes * 60 - extended_seconds
    return max(0, min(settings.extension_minutes * 60, left))


async def extend(
    db: Database, event: Event, *, advisor_id: int, conversation_id: int, now: float
) -> Extended:
    """Extend the advisor's running conversation by one step."""
    async with db.transaction() as tx:
        settings = await load_settings(tx)
        row = await tx.fetchone(
            "SELECT id, booth_id, advisor_id, candidate_id, ends_at, ended_at, "
            "extended_seconds, extension_allowed_by FROM conversations "
            "WHERE id = ? AND advisor_id = ?",
            (conversation_id, advisor_id),
        )
        if row is None:
            raise DomainError("conversation.not_found", field="conversation_id")
        if row["ended_at"] is not None:
            raise DomainError("conversation.ended", field="conversation_id")
        if settings.extension_max_minutes == 0:
            raise DomainError("conversation.extension_off")
        if now < row["ends_at"] - event.warning_seconds:
            raise DomainError("conversation.extension_too_early")
        added = step_seconds(settings, int(row["extended_seconds"]))
        if added <= 0:
            raise DomainError(
                "conversation.extension_limit", minutes=settings.extension_max_minutes
            )
        waiting = await waiting_for(tx, row["booth_id"], advisor_id)
        if waiting and not settings.extension_when_waiting and row["extension_allowed_by"] is None:
            raise DomainError("conversation.extension_not_allowed", waiting=waiting)
        ends_at = float(row["ends_at"]) + added
        # Told again before the new end: the warning when its moment is still ahead, the
        # time up whenever the new end is.
        updated = await tx.fetchone(
            "UPDATE conversations SET ends_at = ?, extended_seconds = extended_seconds + ?, "
            "warned_at = CASE WHEN ? THEN NULL ELSE warned_at END, "
            "time_up_at = CASE WHEN ? THEN NULL ELSE time_up_at END "
            "WHERE id = ? AND ended_at IS NULL RETURNING extended_seconds",
            (
                ends_at,
                added,
                ends_at - event.warning_seconds > now,
                ends_at > now,
                conversation_id,
            ),
        )
        assert updated is not None
    return Extended(
        conversation_id=conversation_id,
        booth_id=row["booth_id"],
        advisor_id=advisor_id,
        candidate_id=row["candidate_id"],
        ends_at=ends_at,
        added_seconds=added,
        extended_seconds=int(updated["extended_seconds"]),
    )


async def allow(db: Database, *, staff_id: int, conversation_id: int, now: float) -> Allowed:
    """The moderator allows extending one running conversation although people wait."""
    async with db.transaction() as tx:
        row = await tx.fetchone(
            "SELECT booth_id, advisor_id, ended_at, extension_allowed_by FROM conversations "
            "WHERE id = ?",
            (conversation_id,),
        )
        if row is None:
            raise DomainError("conversation.not_found", field="conversation_id")
        if row["ended_at"] is not None:
            raise DomainError("conversation.ended", field="conversation_id")
        if row["extension_allowed_by"] is not None:
            raise DomainError("moderation.no_change")
        await tx.execute(
            "UPDATE conversations SET extension_allowed_by = ?, extension_allowed_at = ? "
            "WHERE id = ?",
            (staff_id, now, conversation_id),
        )
        await audit.record(
            tx,
            staff_id=staff_id,
            action="conversation.allow_extension",
            subject=f"conversation:{conversation_id}",
            detail=audit.Detail(
                "with_advisor", {"booth": row["booth_id"], "advisor": row["advisor_id"]}
            ),
            at=now,
        )
    return Allowed(conversation_id, row["booth_id"], row["advisor_id"])


async def console_view(
    db: Database, event: Event, conversation_id: int, booth_id: int, advisor_id: int
) -> dict[str, Any]:
    """What the advisor's console shows at the warning: how many minutes one click adds
    (0: no more), whether it may while people wait, and where to book a follow-up."""
    settings = await load_settings(db)
    row = await db.fetchone(
        "SELECT extended_seconds, extension_allowed_by FROM conversations WHERE id = ?",
        (conversation_id,),
    )
    extended = int(row["extended_seconds"]) if row else 0
    return {
        "minutes": step_seconds(settings, extended) // 60,
        "extended_seconds": extended,
        "max_minutes": settings.extension_max_minutes,
        "waiting": await waiting_for(db, booth_id, advisor_id),
        "allowed_when_waiting": settings.extension_when_waiting
        or bool(row and row["extension_allowed_by"] is not None),
        "follow_up_url": f"{FOLLOW_UP_PATH}?gesprek={conversation_id}",
    }


def form_values(settings: Settings) -> dict[str, str]:
    """The settings as the moderator's form shows them."""
    return {
        "extension_minutes": str(settings.extension_minutes),
        "extension_max_minutes": str(settings.extension_max_minutes),
        "extension_when_waiting": "yes" if settings.extension_when_waiting else "",
    }


def console_view_of(
    settings: Settings,
    conversation_id: int,
    *,
    extended_seconds: int,
    allowed_by: int | None,
    waiting: int,
) -> dict[str, Any]:
    """``console_view`` from values the caller read already (the console's snapshot reads
    the conversation and the queue once for everything it shows)."""
    return {
        "minutes": step_seconds(settings, extended_seconds) // 60,
        "extended_seconds": extended_seconds,
        "max_minutes": settings.extension_max_minutes,
        "waiting": waiting,
        "allowed_when_waiting": settings.extension_when_waiting or allowed_by is not None,
        "follow_up_url": f"{FOLLOW_UP_PATH}?gesprek={conversation_id}",
    }
