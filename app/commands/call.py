"""Commands of the call on the hall's own page, given by its two participants: the browsers'
connection set-up passed on to the other side, the way out when video does not work, and
the candidate's request to be phoned instead."""

from __future__ import annotations

from typing import Any

from app.commands.envelope import Field
from app.commands.registry import action, person_id
from app.domain import calls
from app.domain.candidates import PHONE_MAX
from app.domain.outcome import CallMessage, Outcome
from app.domain.principals import Principal
from app.domain.video import TOKEN_MAX
from app.live.resources import Resources


def _to_other(call: calls.Call, role: str, kind: str, data: dict[str, Any]) -> CallMessage:
    """A message for the participant of ``call`` who is not ``role``."""
    other = call.other_role(role)
    to_id = call.candidate_id if other == "candidate" else call.advisor_id
    return CallMessage(kind=kind, to_role=other, to_id=to_id, data=data)


@action(
    "call.signal",
    ("candidate", "advisor"),
    Field("token", str, max_length=TOKEN_MAX),
    Field("kind", str, choices=calls.SIGNAL_KINDS),
    Field("peer", str, max_length=calls.PEER_MAX),
    Field("to", str, required=False, max_length=calls.PEER_MAX),
    Field("sdp", str, required=False, max_length=calls.SDP_MAX),
    Field("candidate", str, required=False, max_length=calls.CANDIDATE_MAX),
    Field("sdp_mid", str, required=False, max_length=calls.SDP_MID_MAX),
    Field("audio", bool, required=False),
    Field("video", bool, required=False),
    Field("audio_only", bool, required=False),
)
async def call_signal(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    call = await calls.running(r.db, data["token"], role=p.role, person_id=p.id)
    message = calls.signal(data["kind"], data)
    # To the other participant only; their call page picks it up, their other pages not.
    passed = {"token": call.token, "from": p.role, **message}
    return Outcome(
        reply={"kind": message["kind"]}, calls=[_to_other(call, p.role, "signal", passed)]
    )


@action(
    "call.fallback",
    ("candidate", "advisor"),
    Field("token", str, max_length=TOKEN_MAX),
    Field("choice", str, choices=calls.FALLBACKS),
)
async def call_fallback(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    call = await calls.running(r.db, data["token"], role=p.role, person_id=p.id)
    url = calls.fallback_url(call, data["choice"])
    told = {"token": call.token, "choice": data["choice"], "url": url, "from": p.role}
    return Outcome(
        reply={"choice": data["choice"], "url": url},
        calls=[_to_other(call, p.role, "fallback", told)],
    )


@action(
    "call.phone_me",
    ("candidate",),
    Field("token", str, max_length=TOKEN_MAX),
    Field("phone", str, max_length=PHONE_MAX),
    Field("agree", bool),
)
async def call_phone_me(r: Resources, p: Principal, data: dict[str, Any]) -> Outcome:
    call = await calls.ask_phone(
        r.db,
        data["token"],
        candidate_id=person_id(p),
        phone=data["phone"],
        agree=data["agree"],
        now=r.now(),
    )
    told = {
        "token": call.token,
        "choice": "phone",
        "phone": call.callback_phone,
        "name": call.candidate_name,
        "from": "candidate",
    }
    return Outcome(
        reply={"choice": "phone", "phone": call.callback_phone},
        calls=[_to_other(call, "candidate", "fallback", told)],
    )
