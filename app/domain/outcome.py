"""What one command changed, said once, so that one call can tell everyone concerned.

Every command returns an ``Outcome``: the booths, candidates and consoles whose state
changed, whether the whole hall, the moderators' overview or the announcements changed,
whether a deadline moved, the conversations that started or were extended, the messages
passed on between the two participants of a call, the sessions that ended, and the reply
for the client that gave the command.

A domain function that already knows all of that returns an ``Outcome`` itself (the
moderator's steps, ``app.domain.moderation``); others return their own values and the
command builds the ``Outcome`` from them. Which pushes an ``Outcome`` becomes, on which
topics and in which order, is decided in one place: ``app.live.publish``. The outcome names
people and booths by id only; it knows nothing of topics or events.

Outcomes combine with ``merge`` (or ``|``): everything either one changed, each booth,
person and session once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Why sessions ended; the client shows the reason when its connection closes.
BLOCKED = "blocked"
DEACTIVATED = "deactivated"
MOVED = "moved"


@dataclass(frozen=True)
class Extended:
    """A running conversation now ends later: both participants' timers take the new end."""

    conversation_id: int
    candidate_id: int
    advisor_id: int
    ends_at: float
    added_seconds: int
    extended_seconds: int


@dataclass(frozen=True)
class CallMessage:
    """Something one participant of a call passes on to the other, and to them only.

    ``kind`` is 'signal' (the browsers' connection set-up) or 'fallback' (where the other
    goes on when video does not work); ``to_role`` is 'candidate' or 'advisor'."""

    kind: str
    to_role: str
    to_id: int
    data: dict[str, Any]


@dataclass
class Outcome:
    """What one command changed, for telling the people concerned after the commit."""

    # What the client that gave the command is answered.
    reply: dict[str, Any] = field(default_factory=dict)
    # A deadline was added or moved (a request's time to live, a wrap-up, a conversation's
    # end): whichever process watches deadlines looks again.
    deadlines: bool = False
    # Conversations that started, as (candidate id, advisor id): both get the link at once.
    started: set[tuple[int, int]] = field(default_factory=set)
    # Conversations that were extended.
    extended: set[Extended] = field(default_factory=set)
    # The whole hall changed: booths added, removed or reordered, the event opened, closed
    # or renamed, its days or settings changed.
    hall: bool = False
    # Booths whose queue, advisors, schedule or conversations changed.
    booth_ids: set[int] = field(default_factory=set)
    # Candidates whose own request, conversation or follow-ups changed.
    candidate_ids: set[int] = field(default_factory=set)
    # Advisors whose console changed (beyond the consoles of the changed booths).
    advisor_ids: set[int] = field(default_factory=set)
    # The moderators' overview changed (beyond what changed booths and the hall bring).
    overview: bool = False
    # An announcement was made or ended.
    announcements: bool = False
    # Messages between the two participants of a call, in the order they were given.
    calls: list[CallMessage] = field(default_factory=list)
    # Sessions that ended, every session of the person: candidate id -> reason, staff id ->
    # reason. Their connections close.
    revoked_candidates: dict[int, str] = field(default_factory=dict)
    revoked_staff: dict[int, str] = field(default_factory=dict)

    def merge(self, other: Outcome) -> Outcome:
        """A new outcome with everything both changed; the other's reply keys win."""
        return Outcome(
            reply={**self.reply, **other.reply},
            deadlines=self.deadlines or other.deadlines,
            started=self.started | other.started,
            extended=self.extended | other.extended,
            hall=self.hall or other.hall,
            booth_ids=self.booth_ids | other.booth_ids,
            candidate_ids=self.candidate_ids | other.candidate_ids,
            advisor_ids=self.advisor_ids | other.advisor_ids,
            overview=self.overview or other.overview,
            announcements=self.announcements or other.announcements,
            calls=[*self.calls, *other.calls],
            revoked_candidates={**self.revoked_candidates, **other.revoked_candidates},
            revoked_staff={**self.revoked_staff, **other.revoked_staff},
        )

    def __or__(self, other: Outcome) -> Outcome:
        return self.merge(other)
