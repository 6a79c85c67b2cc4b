"""The call of a conversation on the hall's own page: who may be in it, what the two browsers
may tell each other to connect, and the ways out when video does not work.

A call is named by its conversation's token (app.domain.video). Only the conversation's candidate
and advisor find it: to anyone else an existing token and a made-up one look the same
(``call.not_found``). The token is good for as long as the conversation runs: after the end
the two participants are told it ended, and nothing more passes between them.

The media go straight from browser to browser (WebRTC). The server only passes signalling
messages (offer, answer, network candidates, ...) from one participant to the other, after
checking each one here; it never reads a session description beyond its size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.core.errors import DomainError, ValidationError
from app.domain.candidates import check_phone
from app.domain.video import TOKEN_MAX
from app.storage.db import Database

# What one browser may tell the other:
# hello    - "this page is here" (on load and on every reconnect of its live connection);
#            the other side answers with hello too, so each knows the other's page.
# offer, answer - a session description (also for an ICE restart).
# candidate - one network candidate ("" when gathering ended).
# restart  - "my connection failed: please start it again" (to the side that makes offers).
# media    - what this side sends: microphone on, camera on, audio only.
# bye      - this page closes.
SIGNAL_KINDS = ("hello", "offer", "answer", "candidate", "restart", "media", "bye")
# An id each call page makes for itself on load, so a reloaded page is a new peer.
PEER_MAX = 40
SDP_MAX = 24_000
CANDIDATE_MAX = 1_000
SDP_MID_MAX = 32
# The ways out when video does not work: an external room on the event's Jitsi-compatible
# server, or the advisor's personal link. ("Bel mij" is asked by the candidate: ask_phone.)
FALLBACKS = ("external", "personal")


@dataclass(frozen=True)
class Call:
    conversation_id: int
    token: str
    candidate_id: int
    advisor_id: int
    booth_id: int
    booth_name: str
    advisor_name: str
    candidate_name: str
    started_at: float
    ends_at: float
    ended_at: float | None
    joined_at: float | None
    room_url: str
    personal_link: str
    # The candidate's own number, as given when signing in: offered for "bel mij".
    candidate_phone: str
    # The number the candidate asked to be phoned on, and when they agreed to it.
    callback_phone: str
    callback_at: float | None

    @property
    def running(self) -> bool:
        return self.ended_at is None

    def other_role(self, role: str) -> str:
        return "advisor" if role == "candidate" else "candidate"


_CALL = (
    "SELECT c.id AS conversation_id, c.call_token AS token, c.candidate_id, c.advisor_id, "
    "c.booth_id, b.name AS booth_name, s.name AS advisor_name, p.name AS candidate_name, "
    "c.started_at, c.ends_at, c.ended_at, c.joined_at, c.room_url, "
    "s.personal_link, p.phone AS candidate_phone, c.callback_phone, c.callback_at "
    "FROM conversations c JOIN booths b ON b.id = c.booth_id "
    "JOIN staff s ON s.id = c.advisor_id JOIN candidates p ON p.id = c.candidate_id "
    "WHERE c.call_token = ?"
)


async def find(db: Database, token: str, *, role: str, person_id: int | None) -> Call:
    """The call behind a token, for one of its two participants; to anyone else there is
    no such call."""
    if not token or len(token) > TOKEN_MAX or person_id is None:
        raise DomainError("call.not_found")
    row = await db.fetchone(_CALL, (token,))
    if row is None:
        raise DomainError("call.not_found")
    call = Call(**dict(row))
    mine = (role == "candidate" and call.candidate_id == person_id) or (
        role == "advisor" and call.advisor_id == person_id
    )
    if not mine:
        raise DomainError("call.not_found")
    return call


async def running(db: Database, token: str, *, role: str, person_id: int | None) -> Call:
    """Like ``find``, for what only a running call allows."""
    call = await find(db, token, role=role, person_id=person_id)
    if not call.running:
        raise DomainError("call.ended")
    return call


def signal(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """Check one signalling message and return what is passed on: only the fields its kind
    uses, and each of those present."""
    needed = ["peer"]
    if kind in ("offer", "answer"):
        needed.append("sdp")
    elif kind == "candidate":
        needed.append("candidate")
    elif kind == "media":
        needed += ["audio", "video", "audio_only"]
    missing = {
        name: DomainError("input.required", field=name)
        for name in needed
        # An empty candidate line is a real one: "no more candidates".
        if data.get(name) is None or (data[name] == "" and name != "candidate")
    }
    if missing:
        raise ValidationError(missing)
    message: dict[str, Any] = {"kind": kind, **{name: data[name] for name in needed}}
    if data.get("to"):
        message["to"] = data["to"]
    if kind == "candidate":
        message["sdp_mid"] = data.get("sdp_mid") or ""
    return message


def fallback_url(call: Call, choice: str) -> str:
    """Where both go on when video does not work."""
    if choice == "personal":
        if not call.personal_link:
            raise DomainError("call.no_personal_link", field="choice")
        return call.personal_link
    if not call.room_url:
        raise DomainError("call.no_room", field="choice")
    return call.room_url


async def ask_phone(
    db: Database, token: str, *, candidate_id: int, phone: str, agree: bool, now: float
) -> Call:
    """The candidate asks ("bel mij") the advisor to phone them on this number, and agrees
    to it. The number is kept with the conversation, for its advisor only."""
    call = await running(db, token, role="candidate", person_id=candidate_id)
    phone = check_phone(phone, required=True)
    if not agree:
        raise DomainError("call.phone_consent", field="agree")
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE conversations SET callback_phone = ?, callback_at = ? "
            "WHERE id = ? AND ended_at IS NULL",
            (phone, now, call.conversation_id),
        )
    return await find(db, token, role="candidate", person_id=candidate_id)
