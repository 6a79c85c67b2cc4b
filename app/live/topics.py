"""The names of the hub's topics, made in one place.

Who hears a topic is decided by who is subscribed to it, so a topic name spelled two ways
would be a push that reaches nobody. Everything that publishes to, or subscribes to, one
person's, one booth's or one audience's topic takes its name from here.
"""

from __future__ import annotations

from app.domain.calls import Call
from app.domain.principals import Principal

# Everyone with the hall open, signed in or not.
HALL = "hall"
# Every moderator.
MODERATORS = "moderators"
# Every advisor and moderator (announcements for the advisors).
ADVISORS = "advisors"


def candidate(candidate_id: int) -> str:
    """One candidate: their own request, conversation and follow-ups."""
    return f"candidate:{candidate_id}"


def staff(staff_id: int) -> str:
    """One advisor or moderator: their console."""
    return f"staff:{staff_id}"


def booth(booth_id: int) -> str:
    """The advisors of one booth."""
    return f"booth:{booth_id}"


# Pushed on a person's own topic when sessions of theirs end; every worker process closes
# the matching sockets (``app.web.socket``).
REVOKED_EVENT = "session.revoked"


def of(principal: Principal) -> list[str]:
    """The topics this principal may hear."""
    heard = [HALL]
    if principal.id is None:
        return heard
    if principal.role == "candidate":
        heard.append(candidate(principal.id))
    elif principal.role == "advisor":
        heard += [staff(principal.id), booth(principal.booth_id or 0), ADVISORS]
    elif principal.role == "moderator":
        heard += [staff(principal.id), MODERATORS, ADVISORS]
    return heard


def participant(call: Call, role: str) -> str:
    """The topic of the participant of a call with this role."""
    return candidate(call.candidate_id) if role == "candidate" else staff(call.advisor_id)
