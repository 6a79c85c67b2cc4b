"""Where the two people of a conversation meet, from the provider chosen in the event settings.

Every provider answers one question through the same small interface: for this advisor's
new conversation, with this call token, where is the call? The built-in provider answers
with the hall's own call page (app.domain.calls), the Jitsi-compatible one with a fresh room on the
configured server, the personal one with the advisor's own meeting link.

Whatever the provider, a conversation also gets a fresh external room on the configured
Jitsi-compatible server: the way out when video in the browser does not work.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Protocol

from app.domain.accounts import Staff
from app.domain.event import Event

# The call page of a conversation is CALL_PATH + its token (app.web.pages.call).
CALL_PATH = "/videogesprek/"
# 32 random bytes: the token is the only thing that names a call in a URL.
TOKEN_BYTES = 32
TOKEN_MAX = 64


def new_call_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def call_url(call_token: str) -> str:
    return f"{CALL_PATH}{call_token}"


class VideoProvider(Protocol):
    name: str

    def room_for(self, advisor: Staff, call_token: str) -> str: ...


class BuiltinCalls:
    """The call runs in both browsers, on the hall's own page: no other service involved."""

    name = "builtin"

    def room_for(self, advisor: Staff, call_token: str) -> str:
        return call_url(call_token)


class JitsiRooms:
    """A fresh room with an unguessable name on a Jitsi-compatible server."""

    name = "jitsi"

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def room_for(self, advisor: Staff, call_token: str) -> str:
        return f"{self.base_url}/inzoomen-{secrets.token_urlsafe(18)}"


class PersonalLinks:
    """The advisor's own meeting link; a generated room when they have none."""

    name = "personal"

    def __init__(self, fallback: JitsiRooms) -> None:
        self.fallback = fallback

    def room_for(self, advisor: Staff, call_token: str) -> str:
        return advisor.personal_link or self.fallback.room_for(advisor, call_token)


def provider_for(event: Event) -> VideoProvider:
    rooms = JitsiRooms(event.video_base_url)
    if event.video_provider == "personal":
        return PersonalLinks(rooms)
    if event.video_provider == "jitsi":
        return rooms
    return BuiltinCalls()


@dataclass(frozen=True)
class Meeting:
    """Where a new conversation's call is, and its way out."""

    video_url: str
    # Only a call on the hall's own page has a token; calls elsewhere have None.
    call_token: str | None
    # A fresh external room on the Jitsi-compatible server, for when video does not work.
    room_url: str


def meeting_for(event: Event, advisor: Staff) -> Meeting:
    provider = provider_for(event)
    token = new_call_token()
    video_url = provider.room_for(advisor, token)
    return Meeting(
        video_url=video_url,
        call_token=token if isinstance(provider, BuiltinCalls) else None,
        room_url=JitsiRooms(event.video_base_url).room_for(advisor, token),
    )


def appointment_link(event: Event, advisor: Staff) -> str:
    """The video link of a follow-up appointment. It is not a conversation in the hall, so
    it has no call page: with the built-in provider it gets an external room."""
    provider = provider_for(event)
    if isinstance(provider, BuiltinCalls):
        provider = JitsiRooms(event.video_base_url)
    return provider.room_for(advisor, new_call_token())
